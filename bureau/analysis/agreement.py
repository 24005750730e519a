"""How far the bureaus agree about the same persons: rank correlation, risk tiers, score spread.

Each bureau scores on its own scale, calibrated to the defaults reported to it, so their scores
cannot be set side by side as they are. Their probabilities of default can: ranked (Spearman's
correlation), cut into the same risk tiers (:data:`TIER_BANDS`), and mapped to one common
300-850 scale (:func:`common_score`) on which a gap in points means the same ratio of odds
whichever bureau produced it.

Every function here takes a wide table of probabilities of default: one row per person, one
column per bureau, NaN where the bureau does not score that person.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

#: Upper PD bounds of risk tiers 1 to 3; tier 4 is everything from the last bound up. The
#: scored consumers of a baseline run truly default at 1.5-3% a year, so 1% and 3% bracket that
#: average (tier 1 clearly better than average, tier 2 about average) and 10%, over three
#: times the average, separates the elevated risk that lenders still price (tier 3) from the
#: tail that most decline (tier 4). Round bounds keep tiers comparable across scenarios.
TIER_BANDS = (0.01, 0.03, 0.10)
#: Number of risk tiers.
TIERS = len(TIER_BANDS) + 1

#: The common scale: ``BASE_SCORE`` points at good:bad odds of ``BASE_ODDS`` (a PD of about
#: 2%, the scored population's default rate), ``POINTS_TO_DOUBLE_ODDS`` points more for each
#: doubling of the odds, clipped to ``[SCORE_MIN, SCORE_MAX]``. A PD of 0.1% maps to about
#: 833, 10% to about 560, 50% to about 434. Every bureau's PD goes through the same map, so a
#: gap of 40 points between two bureaus is always a factor of two in the odds they give.
BASE_SCORE = 660.0
BASE_ODDS = 50.0
POINTS_TO_DOUBLE_ODDS = 40.0
SCORE_MIN, SCORE_MAX = 300.0, 850.0
#: Persons must be scored by at least this many bureaus to have their score spread measured.
SPREAD_MIN_BUREAUS = 3
#: Ranges (in common-scale points) whose shares the spread table reports.
SPREAD_THRESHOLDS = (50, 100)

PAIRWISE_COLUMNS = (
    "bureau_a",
    "bureau_b",
    "persons",
    "spearman",
    "same_tier",
    "one_tier_apart",
    "two_or_more_apart",
)
MIGRATION_COLUMNS = ("bureau_a", "bureau_b", "tier_a", "tier_b", "persons")


def risk_tier(pd_: np.ndarray) -> np.ndarray:
    """The risk tier of each probability of default.

    Parameters
    ----------
    pd_
        Probabilities of default.

    Returns
    -------
    numpy.ndarray
        Tiers 1 (lowest risk) to :data:`TIERS`: a PD below ``TIER_BANDS[0]`` is tier 1, one
        at or above ``TIER_BANDS[-1]`` is the last tier.
    """
    return np.searchsorted(np.asarray(TIER_BANDS), np.asarray(pd_, dtype=np.float64), "right") + 1


def common_score(pd_: np.ndarray) -> np.ndarray:
    """Map probabilities of default to the common 300-850 scale.

    Parameters
    ----------
    pd_
        Probabilities of default.

    Returns
    -------
    numpy.ndarray
        ``BASE_SCORE + POINTS_TO_DOUBLE_ODDS * log2(odds / BASE_ODDS)`` with
        ``odds = (1 - pd) / pd``, clipped to ``[SCORE_MIN, SCORE_MAX]`` (unrounded, so that
        ranges between bureaus are not blurred by rounding).
    """
    p = np.clip(np.asarray(pd_, dtype=np.float64), 1e-9, 1 - 1e-9)
    score = BASE_SCORE + POINTS_TO_DOUBLE_ODDS * np.log2((1 - p) / p / BASE_ODDS)
    return np.clip(score, SCORE_MIN, SCORE_MAX)


def _pairs(wide: pd.DataFrame) -> list[tuple[str, str]]:
    return list(itertools.combinations(list(wide.columns), 2))


def pairwise_agreement(wide: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Agreement of every pair of bureaus on the persons both score.

    Parameters
    ----------
    wide
        Probabilities of default, one row per person and one column per bureau (NaN where
        the bureau does not score the person), columns in the order pairs are formed.

    Returns
    -------
    tuple of pandas.DataFrame
        ``pairwise``: one row per pair (:data:`PAIRWISE_COLUMNS`): persons both score,
        Spearman's rank correlation of their PDs, and the shares of those persons whom the two
        put in the same risk tier, one tier apart, and two or more apart (the three sum to 1).
        ``migration``: per pair the :data:`TIERS` x :data:`TIERS` counts of persons by the
        tier each bureau puts them in (:data:`MIGRATION_COLUMNS`, every cell present, zeros
        included).
    """
    rows, cells = [], []
    values = wide.to_numpy(dtype=np.float64)
    position = {name: i for i, name in enumerate(wide.columns)}
    tiers_a, tiers_b = np.divmod(np.arange(TIERS * TIERS), TIERS)
    for a, b in _pairs(wide):
        x, y = values[:, position[a]], values[:, position[b]]
        both = ~np.isnan(x) & ~np.isnan(y)
        x, y = x[both], y[both]
        n = len(x)
        ta, tb = risk_tier(x), risk_tier(y)
        gap = np.abs(ta - tb)
        # A rank correlation needs two persons and some spread on both sides.
        rho = (
            float(spearmanr(x, y).statistic)
            if n > 1 and np.ptp(x) > 0 and np.ptp(y) > 0
            else math.nan
        )
        rows.append(
            {
                "bureau_a": a,
                "bureau_b": b,
                "persons": n,
                "spearman": rho,
                "same_tier": float(np.mean(gap == 0)) if n else math.nan,
                "one_tier_apart": float(np.mean(gap == 1)) if n else math.nan,
                "two_or_more_apart": float(np.mean(gap >= 2)) if n else math.nan,
            }
        )
        counts = np.bincount((ta - 1) * TIERS + (tb - 1), minlength=TIERS * TIERS)
        cells.append(
            pd.DataFrame(
                {
                    "bureau_a": a,
                    "bureau_b": b,
                    "tier_a": tiers_a + 1,
                    "tier_b": tiers_b + 1,
                    "persons": counts,
                }
            )
        )
    pairwise = pd.DataFrame(rows, columns=list(PAIRWISE_COLUMNS))
    migration = (
        pd.concat(cells, ignore_index=True)
        if cells
        else pd.DataFrame({c: pd.Series(dtype=object) for c in MIGRATION_COLUMNS})
    )
    return pairwise, migration.astype({"tier_a": np.int64, "tier_b": np.int64, "persons": np.int64})


def score_spread(wide: pd.DataFrame) -> pd.DataFrame:
    """How far apart the bureaus' scores of one person are, on the common scale.

    Parameters
    ----------
    wide
        Probabilities of default, one row per person and one column per bureau (NaN where
        the bureau does not score the person).

    Returns
    -------
    pandas.DataFrame
        For persons scored by at least :data:`SPREAD_MIN_BUREAUS` bureaus, the range (highest
        minus lowest :func:`common_score`) per person, summarised: ``scored_by`` (``"3+"``
        for all of them, then one row per number of bureaus), ``persons``, ``median_range``,
        ``mean_range`` and ``share_range_50`` / ``share_range_100`` (the shares whose range is
        at least 50 / 100 points).
    """
    scores = common_score(wide.to_numpy(dtype=np.float64))
    scored = ~np.isnan(wide.to_numpy(dtype=np.float64))
    count = scored.sum(axis=1)
    keep = count >= SPREAD_MIN_BUREAUS
    high = np.where(scored, scores, -np.inf).max(axis=1)
    low = np.where(scored, scores, np.inf).min(axis=1)
    spread = pd.DataFrame({"bureaus": count[keep], "range": (high - low)[keep]})

    def summary(label: str, ranges: np.ndarray) -> dict[str, object]:
        n = len(ranges)
        row: dict[str, object] = {
            "scored_by": label,
            "persons": n,
            "median_range": float(np.median(ranges)) if n else math.nan,
            "mean_range": float(np.mean(ranges)) if n else math.nan,
        }
        for points in SPREAD_THRESHOLDS:
            row[f"share_range_{points}"] = float(np.mean(ranges >= points)) if n else math.nan
        return row

    rows = [summary(f"{SPREAD_MIN_BUREAUS}+", spread["range"].to_numpy())]
    for bureaus, group in spread.groupby("bureaus", sort=True):
        rows.append(summary(str(bureaus), group["range"].to_numpy()))
    return pd.DataFrame(rows)
