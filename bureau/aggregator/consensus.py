"""The consensus score: one probability of default per person from everything submitted.

Per person key at a snapshot the aggregator holds each bureau's probability of default (where
the bureau has a file) and the consolidated tradelines and public records. The consensus is a
logistic regression over the bureaus' log-odds (a missing bureau contributes its average, and a
flag) and a few consolidated features, fitted at the development snapshot on the defaults the
aggregator itself sees in the next twelve months (in the evaluation snapshot's histories), so
it learns how far to trust each bureau. It is a calibrated combination: its output is a PD.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bureau.errors import BureauError
from bureau.formats.history import history_defaulted, status_levels
from bureau.parallel import one_thread

#: Consolidated features beside the bureaus' log-odds.
CONSOLIDATED = (
    "tradelines",
    "open_tradelines",
    "worst_status",
    "delinquent_90_12m",
    "active_public_records",
    "bureaus_with_file",
)


class ConsensusError(BureauError):
    """The consensus cannot be fitted (no defaults, or nothing but defaults, seen)."""


def log_odds(p: np.ndarray) -> np.ndarray:
    """The log-odds of probabilities, kept finite at 0 and 1.

    Parameters
    ----------
    p
        Probabilities.

    Returns
    -------
    numpy.ndarray
        ``log(p / (1 - p))`` of ``p`` clipped to ``[1e-6, 1 - 1e-6]``.
    """
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def consensus_features(
    tradelines: pd.DataFrame,
    public_records: pd.DataFrame,
    scores: pd.DataFrame,
    keys: pd.DataFrame,
    bureaus: list[str],
    snapshot: int,
) -> pd.DataFrame:
    """The consensus model's inputs for every person key at a snapshot.

    Parameters
    ----------
    tradelines, public_records
        The snapshot's consolidated tables (``person_key``, ``status``, ``history``;
        ``person_key``, ``ended``).
    scores
        The submitted scores: ``bureau``, ``consumer_id``, ``pd``, ``in_default``.
    keys
        The linkage: ``bureau``, ``consumer_id``, ``person_key``.
    bureaus
        The bureaus whose scores are inputs (fixed, so the columns do not depend on the data).
    snapshot
        The month.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``person_key`` (sorted): ``logit_<bureau>`` and ``has_<bureau>`` for each
        bureau, the :data:`CONSOLIDATED` features, and ``in_default`` (a bureau reports the
        person in default, or a consolidated account is 90+ or written off now).
    """
    persons = pd.Index(np.unique(keys["person_key"].to_numpy(dtype=np.int64)), name="person_key")
    scored = scores.merge(keys, on=["bureau", "consumer_id"], how="inner")
    columns: dict[str, np.ndarray] = {}
    for bureau in bureaus:
        mine = scored[scored["bureau"] == bureau]
        logit = pd.Series(log_odds(mine["pd"].to_numpy(dtype=float))).groupby(
            mine["person_key"].to_numpy()
        )
        mean = logit.mean().reindex(persons)
        has = mean.notna().to_numpy()
        fill = float(mean.mean()) if has.any() else 0.0
        columns[f"logit_{bureau}"] = mean.fillna(fill).to_numpy()
        columns[f"has_{bureau}"] = has.astype(float)
    owner = tradelines["person_key"].to_numpy()
    level = status_levels(tradelines["status"])
    is_open = (tradelines["status"] != "C").to_numpy()
    count = pd.Series(1.0, index=owner).groupby(level=0)
    columns["tradelines"] = count.sum().reindex(persons, fill_value=0).to_numpy()
    columns["open_tradelines"] = (
        (pd.Series(is_open.astype(float), index=owner).groupby(level=0).sum())
        .reindex(persons, fill_value=0)
        .to_numpy()
    )
    columns["worst_status"] = (
        pd.Series(level, index=owner).groupby(level=0).max().reindex(persons, fill_value=0)
    ).to_numpy()
    recent_bad = history_defaulted(tradelines["history"], snapshot - 11, snapshot, snapshot)
    columns["delinquent_90_12m"] = (
        (pd.Series(recent_bad.astype(float), index=owner).groupby(level=0).max())
        .reindex(persons, fill_value=0)
        .to_numpy()
    )
    active = (public_records["ended"].to_numpy() < 0).astype(float)
    columns["active_public_records"] = (
        (pd.Series(active, index=public_records["person_key"].to_numpy()).groupby(level=0).sum())
        .reindex(persons, fill_value=0)
        .to_numpy()
    )
    files = keys.groupby("person_key")["bureau"].nunique()
    columns["bureaus_with_file"] = files.reindex(persons, fill_value=0).to_numpy(dtype=float)
    in_default_now = (
        pd.Series(level >= 4, index=owner).groupby(level=0).any().reindex(persons, fill_value=False)
    ).to_numpy(dtype=bool)
    reported = scored.groupby("person_key")["in_default"].any().reindex(persons, fill_value=False)
    frame = pd.DataFrame(columns, index=persons)
    frame["in_default"] = in_default_now | reported.to_numpy(dtype=bool)
    return frame


def observed_defaults(
    tradelines: pd.DataFrame, persons: pd.Index, snapshot: int, horizon: int, end: int
) -> np.ndarray:
    """Persons whose consolidated accounts show a default in the months after a snapshot.

    Parameters
    ----------
    tradelines
        Consolidated tradelines of a later snapshot (``person_key``, ``history``).
    persons
        The person keys asked about.
    snapshot
        The snapshot; months ``snapshot + 1 .. snapshot + horizon`` are looked at.
    horizon
        Months of outcome.
    end
        The later snapshot (the histories' last month).

    Returns
    -------
    numpy.ndarray
        One bool per person of ``persons``.
    """
    bad = history_defaulted(tradelines["history"], snapshot + 1, snapshot + horizon, end)
    owners = tradelines["person_key"].to_numpy()[bad]
    return persons.isin(owners)


@dataclass(frozen=True)
class ConsensusModel:
    """A fitted consensus: standardisation and logistic-regression coefficients.

    Attributes
    ----------
    features
        Input column names, in order.
    mean, scale
        Standardisation of each input.
    coef, intercept
        The logistic regression on the standardised inputs.
    rows, bad_rate
        The development sample.
    """

    features: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    rows: int
    bad_rate: float

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Probability of default of each row.

        Parameters
        ----------
        frame
            Rows with every column of ``features``.

        Returns
        -------
        numpy.ndarray
            PDs.
        """
        x = (frame[self.features].to_numpy(dtype=float) - np.array(self.mean)) / np.array(
            self.scale
        )
        z = x @ np.array(self.coef) + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def to_dict(self) -> dict[str, Any]:
        """The model as plain JSON-ready data.

        Returns
        -------
        dict
            ``kind``, ``features``, ``mean``, ``scale``, ``coef``, ``intercept``, ``rows`` and
            ``bad_rate``.
        """
        return {
            "kind": "logistic_regression",
            "features": self.features,
            "mean": self.mean,
            "scale": self.scale,
            "coef": self.coef,
            "intercept": self.intercept,
            "rows": self.rows,
            "bad_rate": self.bad_rate,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConsensusModel:
        """Rebuild a model from :meth:`to_dict`'s output.

        Parameters
        ----------
        data
            The dict :meth:`to_dict` made (read back from JSON).

        Returns
        -------
        ConsensusModel
            The same model.
        """
        return cls(
            features=list(data["features"]),
            mean=[float(v) for v in data["mean"]],
            scale=[float(v) for v in data["scale"]],
            coef=[float(v) for v in data["coef"]],
            intercept=float(data["intercept"]),
            rows=int(data["rows"]),
            bad_rate=float(data["bad_rate"]),
        )


def fit_consensus(features: pd.DataFrame, bad: np.ndarray) -> ConsensusModel:
    """Fit the consensus on persons not in default at the development snapshot.

    Parameters
    ----------
    features
        :func:`consensus_features` at the development snapshot.
    bad
        :func:`observed_defaults` of the same persons.

    Returns
    -------
    ConsensusModel
        The fitted model.

    Raises
    ------
    ConsensusError
        If the sample has no defaults or only defaults.
    """
    from sklearn.linear_model import LogisticRegression

    keep = ~features["in_default"].to_numpy(dtype=bool)
    names = [c for c in features.columns if c != "in_default"]
    x = features.loc[keep, names].to_numpy(dtype=float)
    y = np.asarray(bad, dtype=bool)[keep]
    if y.all() or not y.any():
        raise ConsensusError(
            f"the consensus needs defaults and non-defaults; the sample has {int(y.sum())} "
            f"defaults among {len(y)} persons"
        )
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=1.0, max_iter=2000)
    # On one BLAS thread the coefficients are the same bytes on every machine.
    with one_thread():
        model.fit((x - mean) / scale, y)
    return ConsensusModel(
        features=names,
        mean=[float(v) for v in mean],
        scale=[float(v) for v in scale],
        coef=[float(v) for v in model.coef_[0]],
        intercept=float(model.intercept_[0]),
        rows=len(y),
        bad_rate=float(y.mean()),
    )
