"""Whether a score treats groups of persons alike: approval, discrimination and calibration.

For each score (a bureau's, or the aggregator's consensus) and each group attribute of the
persons (:data:`GROUP_ATTRIBUTES`), per group: the share approved at one PD cut-off
(:data:`APPROVAL_PD`), the AUC against the true outcome, and calibration (mean PD against the
true default rate). The point estimates are fairlearn's :class:`~fairlearn.metrics.MetricFrame`;
the 95% confidence intervals come from a bootstrap of the scored persons
(:data:`RESAMPLES` resamples), seeded from the scenario's seed, vectorised over resamples and
groups: each resample is a vector of weights (how often each person was drawn), and every group
metric is computed from weighted sums, so no resampled table is ever built.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame
from sklearn.metrics import roc_auc_score

from bureau.analysis.agreement import TIER_BANDS
from bureau.parallel import map_chunks, one_thread
from bureau.rng import generator

#: The persons' attributes compared, as the world holds them; ``age_band`` is derived from the
#: birth date, and ``device`` (the phone's operating system, iOS or Android) is the world's only
#: attribute of a person's device.
GROUP_ATTRIBUTES = ("hukou", "gender", "age_band", "city_tier", "device")
#: Lower bounds of the age bands after the first: 18-29, 30-44, 45-59, and 60 (the statutory
#: retirement age of men in China) and over; fifteen-year bands keep every band large.
AGE_BANDS = (30, 45, 60)
#: Everyone in the world is an adult at month 0.
ADULT_AGE = 18
#: A person is approved when the score's PD is below this: the upper bound of risk tier 2,
#: about the scored population's true default rate, so the approved are those a score rates
#: no riskier than average.
APPROVAL_PD = TIER_BANDS[1]
#: Bootstrap resamples behind each confidence interval: enough for stable 2.5% and 97.5%
#: quantiles at a width that matters here, and fast on a run of 100,000 persons.
RESAMPLES = 200
#: Coverage of the confidence intervals.
CONFIDENCE = 0.95
# Resamples drawn at once: bounds the weight matrix (resamples x persons) to a few tens of MB.
_BLOCK = 50

FAIRNESS_COLUMNS = (
    "bureau",
    "attribute",
    "group",
    "persons",
    "defaults",
    "approval_rate",
    "approval_rate_low",
    "approval_rate_high",
    "auc",
    "auc_low",
    "auc_high",
    "mean_pd",
    "default_rate",
    "calibration_gap",
    "calibration_gap_low",
    "calibration_gap_high",
)
_WITH_INTERVAL = ("approval_rate", "auc", "calibration_gap")


def person_groups(persons: pd.DataFrame, start: dt.date, snapshot: int) -> pd.DataFrame:
    """Every person's group under each of :data:`GROUP_ATTRIBUTES`, as text.

    Parameters
    ----------
    persons
        The world's persons: ``person_id``, ``birth_date``, ``gender``, ``hukou``,
        ``city_tier``, ``device``.
    start
        The first day of month 0.
    snapshot
        The month ages are taken at.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``person_id``, one text column per attribute; ``age_band`` is the age in
        whole years at the snapshot month (``18-29``, ``30-44``, ``45-59``, ``60+``).
    """
    month = start.year * 12 + (start.month - 1) + snapshot
    birth = pd.to_datetime(persons["birth_date"])
    age = (month - (birth.dt.year * 12 + birth.dt.month - 1)).to_numpy(dtype=np.int64) // 12
    lows = (ADULT_AGE, *AGE_BANDS)
    labels = [f"{lo}-{hi - 1}" for lo, hi in zip(lows, AGE_BANDS, strict=False)]
    labels.append(f"{AGE_BANDS[-1]}+")
    band = np.asarray(labels, dtype=object)[np.searchsorted(np.asarray(AGE_BANDS), age, "right")]
    frame = pd.DataFrame(
        {
            "hukou": persons["hukou"].astype(str).to_numpy(),
            "gender": persons["gender"].astype(str).to_numpy(),
            "age_band": band,
            "city_tier": persons["city_tier"].astype(str).to_numpy(),
            "device": persons["device"].astype(str).to_numpy(),
        },
        index=pd.Index(persons["person_id"].to_numpy(dtype=np.int64), name="person_id"),
    )
    return frame[list(GROUP_ATTRIBUTES)]


def _approval_rate(y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray) -> float:
    return float(np.average(y_pred < APPROVAL_PD, weights=sample_weight))


def _auc(y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray) -> float:
    if len(np.unique(y_true)) < 2:
        return float("nan")
    return float(roc_auc_score(y_true, y_pred, sample_weight=sample_weight))


def _mean_pd(y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray) -> float:
    return float(np.average(y_pred, weights=sample_weight))


def _default_rate(y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray) -> float:
    return float(np.average(y_true, weights=sample_weight))


_METRICS = {
    "approval_rate": _approval_rate,
    "auc": _auc,
    "mean_pd": _mean_pd,
    "default_rate": _default_rate,
}


class _Bootstrap:
    """A view's persons, arranged to compute every group metric of many resamples at once.

    Persons are rows; a resample is a column of weights (how often each person was drawn).
    Counts, approvals, PD sums and defaults per group, for every attribute, are one matrix
    product. The AUC of a group is the weighted share of (default, non-default) pairs in which
    the default has the higher PD, ties counting half: with the group's non-defaults sorted by
    PD, the weight of those below each default is a difference of cumulative sums, so beyond
    one cumulative sum per attribute only the defaults (a few percent of rows) are visited.
    """

    def __init__(self, codes: list[np.ndarray], pd_: np.ndarray, bad: np.ndarray) -> None:
        n = len(pd_)
        self.sizes = [int(c.max()) + 1 for c in codes]
        approved = (pd_ < APPROVAL_PD).astype(float)
        sums = []
        for c, groups in zip(codes, self.sizes, strict=True):
            onehot = np.zeros((groups, n))
            onehot[c, np.arange(n)] = 1.0
            sums.extend([onehot, onehot * approved, onehot * pd_, onehot * bad])
        self.sums = np.vstack(sums)
        self.positives = np.flatnonzero(bad)
        self.ranks = []
        for c, groups in zip(codes, self.sizes, strict=True):
            # Dense ranks of (group, PD): equal PDs within a group share a rank, and tie.
            order = np.lexsort((pd_, c))
            step = np.zeros(n, dtype=np.int64)
            step[1:] = (c[order][1:] != c[order][:-1]) | (pd_[order][1:] != pd_[order][:-1])
            rank = np.empty(n, dtype=np.int64)
            rank[order] = np.cumsum(step)
            negatives = order[~bad[order]]
            negative_rank, negative_group = rank[negatives], c[negatives]
            positive_rank = rank[self.positives]
            first = np.searchsorted(negative_group, np.arange(groups), "left")
            self.ranks.append(
                {
                    "negatives": negatives,
                    "first": first,
                    "last": np.searchsorted(negative_group, np.arange(groups), "right"),
                    "below": np.searchsorted(negative_rank, positive_rank, "left"),
                    "up_to": np.searchsorted(negative_rank, positive_rank, "right"),
                    "start": first[c[self.positives]],
                    "onehot": (c[self.positives] == np.arange(groups)[:, None]).astype(float),
                }
            )

    def statistics(self, weights: np.ndarray) -> list[np.ndarray]:
        """Approval rate, AUC and calibration gap per group, for each column of weights.

        Parameters
        ----------
        weights
            ``(persons, resamples)``: how often each person is in each resample.

        Returns
        -------
        list of numpy.ndarray
            Per attribute, ``(resamples, groups, 3)``; NaN where a group is empty, or lacks
            defaults or non-defaults (for the AUC), in a resample.
        """
        totals = self.sums @ weights
        # Each resample's draws sum to the persons: below 2**23 of them, every running sum,
        # difference and half of one below is exact in single precision, which halves the
        # memory of the largest arrays and the time to sum them. Column-major, each
        # resample's running sum walks contiguous memory, several times faster than across
        # rows.
        exact = np.float32 if weights.shape[0] < 2**23 else np.float64
        counts = weights.astype(exact)
        positive_weights = weights[self.positives]
        out, row = [], 0
        for groups, at in zip(self.sizes, self.ranks, strict=True):
            count, approved, pd_sum, bad_sum = (
                totals[row + i * groups : row + (i + 1) * groups] for i in range(4)
            )
            row += 4 * groups
            cumulative = np.zeros((len(at["negatives"]) + 1, weights.shape[1]), exact, "F")
            np.cumsum(np.asfortranarray(counts[at["negatives"]]), axis=0, out=cumulative[1:])
            lower = cumulative[at["below"]] - cumulative[at["start"]]
            tied = cumulative[at["up_to"]] - cumulative[at["below"]]
            concordant = at["onehot"] @ (positive_weights * (lower + 0.5 * tied))
            negatives = cumulative[at["last"]] - cumulative[at["first"]]
            with np.errstate(invalid="ignore", divide="ignore"):
                approval = approved / count
                gap = (pd_sum - bad_sum) / count
                auc = np.where(
                    (bad_sum > 0) & (negatives > 0), concordant / (bad_sum * negatives), np.nan
                )
            out.append(np.stack([approval, auc, gap], axis=2).transpose(1, 0, 2))
        return out


def _resample_weights(rng: np.random.Generator, persons: int, count: int) -> np.ndarray:
    """``count`` bootstrap resamples of ``persons`` rows: ``(persons, count)`` draw counts."""
    drawn = rng.integers(0, persons, size=(count, persons))
    cells = (drawn * count + np.arange(count)[:, None]).ravel()
    return np.bincount(cells, minlength=persons * count).reshape(persons, count).astype(float)


def _interval(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval over axis 0, NaN where no resample gave a value."""
    shape = samples.shape[1:]
    low, high = np.full(shape, np.nan), np.full(shape, np.nan)
    known = ~np.isnan(samples).all(axis=0)
    if known.any():
        tail = (1 - CONFIDENCE) / 2
        quantiles = np.nanquantile(samples[:, known], [tail, 1 - tail], axis=0)
        low[known], high[known] = quantiles[0], quantiles[1]
    return low, high


@dataclass(frozen=True)
class FairnessJob:
    """One score's fairness, to compute in a worker process.

    ``frame``: one row per person scored, ``person_id``, ``pd``, ``default`` (the true
    outcome) and one column per :data:`GROUP_ATTRIBUTES`.
    """

    name: str
    frame: pd.DataFrame
    seed: int
    resamples: int = RESAMPLES


def view_fairness(job: FairnessJob) -> pd.DataFrame:
    """Group metrics of one score, with bootstrap confidence intervals.

    A worker-process entry point. The resamples are drawn from
    ``generator(seed, "compare.fairness.<name>", 0)``: each score has its own stream, so the
    intervals do not depend on which other scores are compared, nor where they are computed.

    Parameters
    ----------
    job
        The score, its persons and the seed.

    Returns
    -------
    pandas.DataFrame
        One row per attribute and group present (:data:`FAIRNESS_COLUMNS`).
    """
    name, frame, seed, resamples = job.name, job.frame, job.seed, job.resamples
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in FAIRNESS_COLUMNS})
    pd_ = frame["pd"].to_numpy(dtype=np.float64)
    bad = frame["default"].to_numpy(dtype=bool)
    tables, codes = [], []
    for attribute in GROUP_ATTRIBUTES:
        code, values = pd.factorize(frame[attribute], sort=True)
        # Persons alike in group, PD and outcome are one row weighted by their number: the
        # metrics are the same, and fairlearn, which converts every group's rows value by
        # value, has a fraction of the rows to convert (scorecards give few distinct PDs).
        # Integer codes stand for the groups: text in Arrow arrays converts slower still.
        alike = pd.DataFrame({"group": code, "pd": pd_, "default": bad.astype(float)})
        alike = alike.groupby(["group", "pd", "default"], sort=True).size().reset_index()
        weight = {"sample_weight": alike[0].to_numpy(dtype=float)}
        by_group = MetricFrame(
            metrics=_METRICS,
            y_true=alike["default"].to_numpy(),
            y_pred=alike["pd"].to_numpy(),
            sensitive_features=alike["group"].to_numpy(),
            sample_params={metric: weight for metric in _METRICS},
        ).by_group.reindex(np.arange(len(values)))
        table = pd.DataFrame(
            {
                "bureau": name,
                "attribute": attribute,
                "group": [str(v) for v in values],
                "persons": np.bincount(code, minlength=len(values)),
                "defaults": np.bincount(code, weights=bad, minlength=len(values)).astype(int),
                "approval_rate": by_group["approval_rate"].to_numpy(dtype=float),
                "auc": by_group["auc"].to_numpy(dtype=float),
                "mean_pd": by_group["mean_pd"].to_numpy(dtype=float),
                "default_rate": by_group["default_rate"].to_numpy(dtype=float),
            }
        )
        table["calibration_gap"] = table["mean_pd"] - table["default_rate"]
        tables.append(table)
        codes.append(code)
    bootstrap = _Bootstrap(codes, pd_, bad)
    rng = generator(seed, f"compare.fairness.{name}", 0)
    draws: list[list[np.ndarray]] = [[] for _ in GROUP_ATTRIBUTES]
    # One thread for the matrix products: the resamples are many small products, and a
    # threaded BLAS spinning for a busy core costs more than it gives.
    with one_thread():
        for start in range(0, resamples, _BLOCK):
            weights = _resample_weights(rng, len(frame), min(_BLOCK, resamples - start))
            for found, drawn in zip(draws, bootstrap.statistics(weights), strict=True):
                found.append(drawn)
    for table, found in zip(tables, draws, strict=True):
        low, high = _interval(np.concatenate(found, axis=0))
        for k, metric in enumerate(_WITH_INTERVAL):
            table[f"{metric}_low"] = low[:, k]
            table[f"{metric}_high"] = high[:, k]
    return pd.concat(tables, ignore_index=True)[list(FAIRNESS_COLUMNS)]


def group_fairness(
    views: dict[str, pd.DataFrame],
    groups: pd.DataFrame,
    seed: int,
    resamples: int = RESAMPLES,
    workers: int = 1,
) -> pd.DataFrame:
    """:func:`view_fairness` of every score, in the order given.

    Parameters
    ----------
    views
        Each score's persons: ``person_id``, ``pd``, ``default``.
    groups
        :func:`person_groups`.
    seed
        The scenario's seed.
    resamples
        Bootstrap resamples.
    workers
        Worker processes (the scores are shared out among them; the result does not depend
        on how many).

    Returns
    -------
    pandas.DataFrame
        :data:`FAIRNESS_COLUMNS`, one row per score, attribute and group.
    """
    jobs = [
        FairnessJob(
            name,
            frame.join(groups, on="person_id", how="inner").reset_index(drop=True),
            seed,
            resamples,
        )
        for name, frame in views.items()
    ]
    sizes = [float(len(job.frame)) for job in jobs]
    tables = [t for t in map_chunks(view_fairness, jobs, workers, sizes) if len(t)]
    if not tables:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in FAIRNESS_COLUMNS})
    return pd.concat(tables, ignore_index=True)
