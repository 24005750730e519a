"""Every bureau and the aggregator's consensus side by side, measured against the truth.

From the views of a finished run (each bureau's scored files and the aggregator's consensus,
traced to persons: :mod:`bureau.analysis.views`), the world's persons and outcomes, and the
measures of the stages before, at the evaluation snapshot (:func:`compare_views`; the compare
stage reads them all, :mod:`bureau.pipeline.comparison`):

- ``comparison``: per bureau and for the consensus, coverage of the world's adults, then
  discrimination (AUC, Gini, KS) against the true outcome and against the outcome the bureau
  observed, and the Brier score against the truth;
- ``calibration``: per score, mean PD and true default rate by PD decile;
- ``pairwise`` and ``migration``: how far each pair of bureaus agrees about the persons both
  score (:mod:`bureau.analysis.agreement`);
- ``score_spread``: how far apart the scores of persons scored by three or more bureaus are, on
  one common scale;
- ``fairness``: approval, AUC and calibration per group of persons, with bootstrap confidence
  intervals (:mod:`bureau.analysis.fairness`);
- ``roc`` and ``score_distribution``: per score, its ROC curve against the truth and how the
  files that defaulted and those that did not spread over the common scale, for the figures
  of the HTML report.

Files and persons. ``comparison`` and ``calibration`` judge files (a bureau's consumers, the
aggregator's person keys), on the sample of the run's ``model_performance`` and ``consensus``
reports, so their figures match. The other tables compare persons: each file is traced to the
person behind it, and where a person has several files at one bureau (or several keys at the
aggregator) the one with the smallest consumer id (person key), the first opened, stands for
them. Files already in default in the bureau's own view are left out, as the bureau's own
evaluation leaves them out: a lender would not score them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from bureau.analysis.agreement import pairwise_agreement, score_spread
from bureau.analysis.curves import roc_table, score_distribution
from bureau.analysis.fairness import RESAMPLES, group_fairness, person_groups
from bureau.analysis.metrics import discrimination
from bureau.analysis.views import (
    AGGREGATOR,
    ComparisonError,
    ScoredView,
    person_scores,
    truth_sample,
)
from bureau.config.scenario import Scenario

#: Fewer tradelines than this on file is a thin file.
THIN_FILE_TRADELINES = 2
#: PD bins of the calibration table (equal numbers of files, by rank of PD).
DECILES = 10
#: The tables :func:`compare_views` returns, in the order it returns them.
TABLES = (
    "comparison",
    "calibration",
    "pairwise",
    "migration",
    "score_spread",
    "fairness",
    "roc",
    "score_distribution",
)

COMPARISON_COLUMNS = (
    "bureau",
    "model",
    "adults",
    "scorable",
    "coverage",
    "thin_file",
    "invisible",
    "truth_rows",
    "truth_bad_rate",
    "truth_auc",
    "truth_gini",
    "truth_ks",
    "truth_brier",
    "observed_rows",
    "observed_bad_rate",
    "observed_auc",
    "observed_gini",
    "observed_ks",
    "person_error_rate",
    "disputes_corrected_share",
    "corrected_score_changed_share",
    "corrected_tier_changed_share",
)
CALIBRATION_COLUMNS = ("bureau", "decile", "count", "pd_min", "pd_max", "mean_pd", "default_rate")


def _comparison_row(view: ScoredView, adults: int, judged: pd.DataFrame) -> dict[str, object]:
    units = view.units
    known = units[units["person_id"].to_numpy() >= 0]
    on_file = known.groupby("person_id")["tradelines"].sum()
    scorable = len(on_file)
    thin = int((on_file < THIN_FILE_TRADELINES).sum())
    truth = discrimination(judged["default"].to_numpy(), judged["pd"].to_numpy())
    y = judged["default"].to_numpy(dtype=float)
    brier = float(np.mean((judged["pd"].to_numpy() - y) ** 2)) if len(y) else math.nan
    mine = units[~units["in_default"].to_numpy(dtype=bool)]
    observed = discrimination(mine["bad"].to_numpy(), mine["pd"].to_numpy())

    def share(n: int) -> float:
        return n / adults if adults else math.nan

    return {
        "bureau": view.name,
        "model": view.model,
        "adults": adults,
        "scorable": scorable,
        "coverage": share(scorable),
        "thin_file": share(thin),
        "invisible": 1 - share(scorable),
        **{f"truth_{k}": v for k, v in truth.items()},
        "truth_brier": brier,
        **{f"observed_{k}": v for k, v in observed.items()},
    }


def calibration_table(name: str, judged: pd.DataFrame) -> pd.DataFrame:
    """Mean PD and true default rate by PD decile.

    Parameters
    ----------
    name
        The score (a bureau, or ``aggregator``).
    judged
        :func:`truth_sample`.

    Returns
    -------
    pandas.DataFrame
        :data:`CALIBRATION_COLUMNS`, one row per decile present (1 lowest PD). Files are
        ranked by PD, ties in file order, and cut into :data:`DECILES` bins of equal count.
    """
    n = len(judged)
    pd_ = judged["pd"].to_numpy(dtype=np.float64)
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(pd_, kind="stable")] = np.arange(n)
    frame = pd.DataFrame(
        {"decile": rank * DECILES // max(n, 1) + 1, "pd": pd_, "default": judged["default"]}
    )
    table = (
        frame.groupby("decile", sort=True)
        .agg(
            count=("pd", "size"),
            pd_min=("pd", "min"),
            pd_max=("pd", "max"),
            mean_pd=("pd", "mean"),
            default_rate=("default", "mean"),
        )
        .reset_index()
    )
    table.insert(0, "bureau", name)
    return table.astype({"decile": np.int64, "count": np.int64})[list(CALIBRATION_COLUMNS)]


def _column(earlier: Mapping[str, pd.DataFrame], table: str, key: str, column: str) -> pd.Series:
    """A column of an earlier stage's table by its key, or nothing if the table is absent."""
    frame = earlier.get(table)
    if frame is None:
        return pd.Series(dtype=float)
    for needed in (key, column):
        if needed not in frame.columns:
            raise ComparisonError(f"missing column of the {table} table", field=needed)
    return frame.set_index(key)[column]


def compare_views(
    views: list[ScoredView],
    outcomes: pd.DataFrame,
    persons: pd.DataFrame,
    earlier: Mapping[str, pd.DataFrame],
    scenario: Scenario,
    resamples: int = RESAMPLES,
    workers: int = 1,
) -> dict[str, pd.DataFrame]:
    """Compare every score of a run, bureaus and the aggregator's consensus, against the truth.

    Parameters
    ----------
    views
        Every scored bureau's view in alphabetical order, then the consensus
        (:func:`~bureau.analysis.views.bureau_view`,
        :func:`~bureau.analysis.views.aggregator_view`).
    outcomes
        Every person's true outcome at the evaluation snapshot, indexed by ``person_id``
        (``default_12m``, ``in_default``).
    persons
        The world's persons: ``person_id``, ``birth_date``, ``gender``, ``hukou``,
        ``city_tier``, ``device``.
    earlier
        Tables of the stages before, by name, as far as the run has them:
        ``coverage_accuracy`` (``view``, ``person_error_rate``), ``disputes`` (``bureau``,
        ``corrected_share``) and ``correction_rescoring`` (``bureau``,
        ``score_changed_share``, ``tier_changed_share``). The figures of a table absent are
        NaN.
    scenario
        The run's scenario (its start, evaluation snapshot and seed).
    resamples
        Bootstrap resamples of the fairness intervals.
    workers
        Worker processes for the fairness bootstrap; the result does not depend on it.

    Returns
    -------
    dict of pandas.DataFrame
        :data:`TABLES` by name (see the module's description), each in the order of
        ``views``. Floats are rounded to six decimals.

    Raises
    ------
    ComparisonError
        If a table of ``earlier`` lacks a column it is read for.
    """
    evaluation = scenario.scoring.evaluation_snapshot
    adults = len(persons)
    errors = _column(earlier, "coverage_accuracy", "view", "person_error_rate")
    corrected = _column(earlier, "disputes", "bureau", "corrected_share")
    rescored = {
        column: _column(earlier, "correction_rescoring", "bureau", f"{column}_share")
        for column in ("score_changed", "tier_changed")
    }

    rows, calibration, by_person, fair, judged = [], [], {}, {}, {}
    for view in views:
        judged[view.name] = truth_sample(view.units, outcomes)
        row = _comparison_row(view, adults, judged[view.name])
        row["person_error_rate"] = float(errors.get(view.name, math.nan))
        row["disputes_corrected_share"] = float(corrected.get(view.name, math.nan))
        for column, values in rescored.items():
            row[f"corrected_{column}_share"] = float(values.get(view.name, math.nan))
        rows.append(row)
        calibration.append(calibration_table(view.name, judged[view.name]))
        fair[view.name] = person_scores(judged[view.name])[["person_id", "pd", "default"]]
        if view.name != AGGREGATOR:
            scored = view.units[~view.units["in_default"].to_numpy(dtype=bool)]
            by_person[view.name] = person_scores(scored).set_index("person_id")["pd"]
    wide = pd.DataFrame(by_person).sort_index()
    pairwise, migration = pairwise_agreement(wide)
    groups = person_groups(persons, scenario.start_date, evaluation)
    tables = {
        "comparison": pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS)),
        "calibration": pd.concat(calibration, ignore_index=True),
        "pairwise": pairwise,
        "migration": migration,
        "score_spread": score_spread(wide),
        "fairness": group_fairness(fair, groups, scenario.seed, resamples, workers),
        "roc": roc_table(judged),
        "score_distribution": score_distribution(judged),
    }
    return {name: tables[name].round(6) for name in TABLES}
