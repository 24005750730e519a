"""A fitted model's points: one row per feature and bin, as a scorecard is printed.

Both model families compile to additive tables (:mod:`bureau.bureaus.models.additive`): a
consumer's log odds of bad is an intercept plus one term per feature, looked up from the bin
the feature's value falls in. Read on a score scale, that is a scorecard: each bin's term
becomes points, and the intercept and the scale's anchor are shared out evenly among the
features (as optbinning's ``Scorecard.table()`` does), so that the points of a consumer's bins,
one per feature, add up to the consumer's score.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pandas as pd

from bureau.bureaus.models.additive import AdditiveModel, FeatureTable
from bureau.bureaus.models.scale import ScoreScale

#: The label of the bin of missing values.
MISSING = "Missing"

#: The columns of every model's table; a scorecard fitted in this process adds STATS_COLUMNS
#: after the bounds.
COLUMNS = ("feature", "bin", "lower", "upper", "contribution", "points")
STATS_COLUMNS = ("count", "event_rate", "woe")


@dataclass(frozen=True)
class BinStats:
    """What a scorecard learnt of one feature's bins from its training rows.

    Each array holds one entry per bin, lowest first, then one for the missing values.

    Attributes
    ----------
    count
        Training rows in the bin.
    events
        Bad rows among them.
    woe
        The bin's weight of evidence (the log of its good:bad odds over the sample's).
    """

    count: np.ndarray
    events: np.ndarray
    woe: np.ndarray

    @property
    def event_rate(self) -> np.ndarray:
        """The share of bad rows in each bin (NaN in an empty bin, which has no rate)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.count > 0, self.events / self.count, np.nan)


def _labels(splits: np.ndarray) -> list[str]:
    """The cut points as text, to the fewest digits (from six) that tell them all apart."""
    for digits in range(6, 18):
        labels = [format(float(s), f".{digits}g") for s in splits]
        if len(set(labels)) == len(labels):
            return labels
    return [repr(float(s)) for s in splits]


def bin_labels(table: FeatureTable) -> list[str]:
    """Each bin of a feature as an interval, lowest first, then :data:`MISSING`.

    Parameters
    ----------
    table
        The feature's step function.

    Returns
    -------
    list of str
        ``len(table.splits) + 2`` labels: ``[a, b)`` for a scorecard (a value equal to a cut
        point falls in the bin above), ``(a, b]`` for LightGBM (in the bin below); the ends
        are open at infinity.
    """
    cuts = ["-inf", *_labels(table.splits), "inf"]
    opening, closing = ("[", ")") if table.closed == "left" else ("(", "]")
    inner = [f"{opening}{a}, {b}{closing}" for a, b in pairwise(cuts)]
    # The ends are open whatever the convention: no value equals an infinity.
    inner[0] = "(" + inner[0][1:]
    inner[-1] = inner[-1][:-1] + ")"
    return [*inner, MISSING]


def points_table(
    tables: AdditiveModel, scale: ScoreScale, stats: Mapping[str, BinStats] | None = None
) -> pd.DataFrame:
    """One row per feature and bin: the bin's term of the log odds and its points on a scale.

    Parameters
    ----------
    tables
        The model's additive tables.
    scale
        The score scale the points are on.
    stats
        Per feature, its bins' training counts, bad rates and weights of evidence (a
        scorecard's); None for a model that has none, which leaves these columns out. A
        feature missing from the mapping gets NaN in them (a card loaded from its file,
        which does not hold them).

    Returns
    -------
    pandas.DataFrame
        In the model's feature order, each feature's bins lowest first and then its bin of
        missing values, with the columns

        ``feature``, ``bin``
            The feature, and the bin as an interval (:func:`bin_labels`) or ``Missing``.
        ``lower``, ``upper``
            The bin's bounds (infinite at the ends; NaN for the missing values).
        ``count``, ``event_rate``, ``woe``
            With ``stats`` only: training rows in the bin, their bad rate, and the bin's
            weight of evidence.
        ``contribution``
            The bin's term of the log odds of bad: what the model adds for a value in it.
        ``points``
            The bin's points on ``scale``: ``-factor * contribution`` plus an even share of
            the intercept and the scale's anchor, ``(base_score - factor * (intercept +
            log(base_odds))) / features``, where ``factor`` is the scale's points per unit of
            log odds.

    Notes
    -----
    A consumer's score is the sum of the points of the bins the consumer's values fall in,
    one per feature, rounded to a whole point and clipped to the scale's range (as
    :func:`~bureau.bureaus.models.scale.to_score` does); before rounding and clipping the sum
    is the score to floating-point precision.
    """
    factor = scale.factor
    share = (scale.base_score - factor * (tables.intercept + np.log(scale.base_odds))) / len(
        tables.tables
    )
    parts = []
    for table in tables.tables:
        # Plus zero: an empty bin's term (a coefficient times a WOE of 0) shows as 0, not -0.
        contribution = np.append(table.values, table.missing) + 0.0
        bounds = np.concatenate([[-np.inf], table.splits, [np.inf]])
        part = {
            "feature": table.name,
            "bin": bin_labels(table),
            "lower": np.append(bounds[:-1], np.nan),
            "upper": np.append(bounds[1:], np.nan),
        }
        if stats is not None:
            known = stats.get(table.name)
            empty = np.full(len(contribution), np.nan)
            part["count"] = pd.array(empty if known is None else known.count, dtype=pd.Int64Dtype())
            part["event_rate"] = empty if known is None else known.event_rate
            part["woe"] = empty if known is None else known.woe
        part["contribution"] = contribution
        part["points"] = share - factor * contribution
        parts.append(pd.DataFrame(part))
    return pd.concat(parts, ignore_index=True)
