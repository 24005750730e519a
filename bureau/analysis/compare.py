"""Every bureau and the aggregator's consensus side by side, measured against the truth.

From a finished run (its scores, the bureaus' credit files, the aggregator's consensus and
person keys, the world's persons and outcomes, and the report tables already written), at the
evaluation snapshot:

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

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import DeclarativeBase

from bureau.analysis.agreement import pairwise_agreement, score_spread
from bureau.analysis.curves import roc_table, score_distribution
from bureau.analysis.fairness import RESAMPLES, group_fairness, person_groups
from bureau.analysis.metrics import discrimination
from bureau.analysis.model_performance import true_outcomes
from bureau.analysis.provenance import file_owners
from bureau.analysis.views import (
    AGGREGATOR,
    ComparisonError,
    ScoredView,
    aggregator_view,
    bureau_view,
    person_scores,
    read_scores,
    tradelines_on_file,
    truth_sample,
)
from bureau.config import load_scenario
from bureau.config.scenario import Scenario
from bureau.errors import RunDirectoryError
from bureau.rundir import RESOLVED_SCENARIO
from bureau.store.aggregator import AggregatorBase
from bureau.store.credit_file import CreditFileBase
from bureau.store.engines import database_engine
from bureau.store.parquet import read_table

logger = logging.getLogger(__name__)

#: Fewer tradelines than this on file is a thin file.
THIN_FILE_TRADELINES = 2
#: PD bins of the calibration table (equal numbers of files, by rank of PD).
DECILES = 10
#: The tables :func:`compare` returns, in the order it returns them.
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


def _report_column(root: Path, table: str, key: str, column: str) -> pd.Series:
    """A column of an existing report table by its key, or nothing if the table is absent."""
    path = root / "report" / f"{table}.parquet"
    if not path.exists():
        return pd.Series(dtype=float)
    frame = pd.read_parquet(path)
    for needed in (key, column):
        if needed not in frame.columns:
            raise ComparisonError("missing column", path=path, field=needed)
    return frame.set_index(key)[column]


def _open(
    root: Path, name: str, base: type[DeclarativeBase], db_url: str | None, stage: str
) -> Engine:
    """Open a database of the run; a missing SQLite file is a missing stage, not a new file."""
    if db_url is None and not (root / "db" / f"{name}.db").exists():
        raise RunDirectoryError(f"no database of {name}: run the {stage} stage first", path=root)
    return database_engine(root, name, base, db_url)


@contextmanager
def _databases(
    run_dir: str | Path,
    bureaus: dict[str, Engine] | None,
    aggregator: Engine | None,
    db_url: str | None,
) -> Iterator[tuple[Path, Scenario, dict[str, Engine], Engine]]:
    """The run, its scenario and its databases; those opened here are closed on leaving."""
    root = Path(run_dir)
    if not (root / RESOLVED_SCENARIO).exists():
        raise RunDirectoryError(f"not a run directory (no {RESOLVED_SCENARIO})", path=root)
    scn = load_scenario(root / RESOLVED_SCENARIO)
    opened: list[Engine] = []
    try:
        if bureaus is None:
            bureaus = {
                b: _open(root, b, CreditFileBase, db_url, "ingest") for b in scn.active_bureaus
            }
            opened.extend(bureaus.values())
        if aggregator is None:
            aggregator = _open(root, "aggregator", AggregatorBase, db_url, "reconcile")
            opened.append(aggregator)
        yield root, scn, bureaus, aggregator
    finally:
        for engine in opened:
            engine.dispose()


def compare(
    run_dir: str | Path,
    *,
    bureaus: dict[str, Engine] | None = None,
    aggregator: Engine | None = None,
    db_url: str | None = None,
    resamples: int = RESAMPLES,
    workers: int = 1,
) -> dict[str, pd.DataFrame]:
    """Compare every bureau of a run and the aggregator's consensus against the truth.

    Parameters
    ----------
    run_dir
        A run directory whose chain has run through ``reconcile``.
    bureaus
        Each bureau's database; opened from the run (and closed again) when None.
    aggregator
        The aggregator's database; opened from the run (and closed again) when None.
    db_url
        The database server of the run's credit files, when they are not SQLite files in
        the run (used only to open the databases not given).
    resamples
        Bootstrap resamples of the fairness intervals.
    workers
        Worker processes for the fairness bootstrap; the result does not depend on it.

    Returns
    -------
    dict of pandas.DataFrame
        :data:`TABLES` by name (see the module's description); bureaus in alphabetical
        order, the consensus (``bureau`` = ``"aggregator"``) last. Floats are rounded to six
        decimals. Bureaus without a model (too few defaults to train) are left out.

    Raises
    ------
    RunDirectoryError
        If ``run_dir`` is not a run, or a database is missing.
    ComparisonError
        If no bureau has scores, there is no consensus at the evaluation snapshot, or a
        scores file or report table is malformed.
    """
    with _databases(run_dir, bureaus, aggregator, db_url) as (root, scn, engines, engine):
        return _compare(root, scn, _views(root, scn, engines, engine), resamples, workers)


def judged_samples(
    run_dir: str | Path,
    *,
    bureaus: dict[str, Engine] | None = None,
    aggregator: Engine | None = None,
    db_url: str | None = None,
) -> dict[str, pd.DataFrame]:
    """The files of each score judged against the truth: what ``comparison`` is computed on.

    Parameters
    ----------
    run_dir
        A run directory whose chain has run through ``reconcile``.
    bureaus
        Each bureau's database; opened from the run (and closed again) when None.
    aggregator
        The aggregator's database; opened from the run (and closed again) when None.
    db_url
        The database server of the run's credit files, when they are not SQLite files in
        the run (used only to open the databases not given).

    Returns
    -------
    dict of pandas.DataFrame
        By score (bureaus in alphabetical order, ``"aggregator"`` last), the
        :func:`~bureau.analysis.views.truth_sample` at the evaluation snapshot: ``unit``
        (consumer id or person key), ``person_id``, ``pd`` and the true ``default``.

    Raises
    ------
    RunDirectoryError
        If ``run_dir`` is not a run, or a database is missing.
    ComparisonError
        If no bureau has scores, there is no consensus at the evaluation snapshot, or a
        scores file is malformed.
    """
    with _databases(run_dir, bureaus, aggregator, db_url) as (root, scn, engines, engine):
        views = _views(root, scn, engines, engine)
        outcomes = true_outcomes(root / "world", scn.scoring.evaluation_snapshot)
        return {view.name: truth_sample(view.units, outcomes) for view in views}


def _views(
    root: Path, scn: Scenario, engines: dict[str, Engine], aggregator: Engine
) -> list[ScoredView]:
    """Every scored bureau's view in alphabetical order, then the consensus."""
    evaluation = scn.scoring.evaluation_snapshot
    truth_dir = root / "truth"
    models = _report_column(root, "model_performance", "bureau", "model")
    owners: dict[str, pd.Series] = {}
    scores: dict[str, pd.DataFrame] = {}
    views: list[ScoredView] = []
    for bureau in sorted(engines):
        owners[bureau] = file_owners(engines[bureau], truth_dir, bureau)
        path = root / "scores" / f"{bureau}.parquet"
        if not path.exists():
            logger.info("%s has no scores (no model); left out of the comparison", bureau)
            continue
        scores[bureau] = read_scores(path, evaluation)
        lines = tradelines_on_file(engines[bureau], evaluation)
        model = str(models.get(bureau, "unknown"))
        views.append(bureau_view(bureau, model, scores[bureau], owners[bureau], lines))
    if not scores:
        raise ComparisonError(
            "no bureau has scores: run the train stage first", path=root / "scores"
        )
    all_owners = pd.concat(
        [s.rename_axis("consumer_id").reset_index().assign(bureau=b) for b, s in owners.items()],
        ignore_index=True,
    )[["bureau", "consumer_id", "person_id"]]
    sqlite = aggregator.dialect.name == "sqlite" and aggregator.url.database
    where = Path(aggregator.url.database) if sqlite else root
    views.append(
        aggregator_view(aggregator, evaluation, scn.aggregator.linkage, all_owners, scores, where)
    )
    return views


def _compare(
    root: Path,
    scn: Scenario,
    views: list[ScoredView],
    resamples: int,
    workers: int,
) -> dict[str, pd.DataFrame]:
    evaluation = scn.scoring.evaluation_snapshot
    outcomes = true_outcomes(root / "world", evaluation)
    persons = read_table(
        root / "world" / "persons",
        ["person_id", "birth_date", "gender", "hukou", "city_tier", "device"],
    )
    adults = len(persons)
    errors = _report_column(root, "coverage_accuracy", "view", "person_error_rate")
    corrected = _report_column(root, "disputes", "bureau", "corrected_share")
    rescored = {
        column: _report_column(root, "correction_rescoring", "bureau", f"{column}_share")
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
    groups = person_groups(persons, scn.start_date, evaluation)
    tables = {
        "comparison": pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS)),
        "calibration": pd.concat(calibration, ignore_index=True),
        "pairwise": pairwise,
        "migration": migration,
        "score_spread": score_spread(wide),
        "fairness": group_fairness(fair, groups, scn.seed, resamples, workers),
        "roc": roc_table(judged),
        "score_distribution": score_distribution(judged),
    }
    return {name: tables[name].round(6) for name in TABLES}
