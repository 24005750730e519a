"""The chain of stages of one run, from the scenario to the run directory.

``world`` generates the truth, ``furnish`` writes every bureau's feeds from it, ``ingest`` loads
each bureau's feeds into its own database. Each later stage (scoring, reconciliation,
comparison) joins :data:`STAGES` in order. A whole run is built in a staging directory and
renamed into place; a single stage can also be run on an existing run directory, and does
nothing when it has already run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from bureau import __version__
from bureau.aggregator.stage import reconcile_all
from bureau.aggregator.submission import receive
from bureau.analysis import assess_files
from bureau.analysis.aggregation import assess_aggregation, world_truth
from bureau.analysis.disputes import dispute_statistics
from bureau.analysis.file_errors import item_errors
from bureau.analysis.metrics import rounded
from bureau.analysis.model_performance import file_owners, true_outcomes, truth_performance
from bureau.bureaus.applicants import score_applicants
from bureau.bureaus.batch import ScoringSummary
from bureau.bureaus.disputes import record_disputes, score_changes
from bureau.bureaus.ingest import bureau_engine, ingest_all
from bureau.bureaus.models.artifacts import BureauModel, load_model, save_model
from bureau.bureaus.submission import BureauSubmission, bureau_submission
from bureau.bureaus.train import TrainingError, train_bureau
from bureau.config.loader import load_scenario, scenario_to_toml
from bureau.config.scenario import Scenario
from bureau.engine import map_chunks
from bureau.errors import BureauError, RunDirectoryError
from bureau.formats.schema import label_months, month_labels
from bureau.furnish.disputes import file_disputes
from bureau.furnish.stage import furnish_all
from bureau.rng import generator
from bureau.rundir import (
    RESOLVED_SCENARIO,
    read_manifest,
    staged_directory,
    write_manifest,
    write_text_atomic,
)
from bureau.store.aggregator import AggregatorBase
from bureau.store.engines import database_engine
from bureau.store.parquet import write_table
from bureau.world import write_world

logger = logging.getLogger(__name__)

StageProgress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class StageReport:
    """What one stage did: its wall time and the rows it wrote per table."""

    name: str
    seconds: float
    rows: dict[str, int]
    skipped: bool = False
    detail: Any = None


@dataclass(frozen=True)
class RunResult:
    """A finished run: where it is and what each stage did."""

    path: Path
    scenario: Scenario
    stages: list[StageReport] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StageContext:
    """What every stage is given: the scenario, the run directory and how to run."""

    scenario: Scenario
    root: Path
    workers: int = 1
    progress: StageProgress | None = None
    db_url: str | None = None
    bureaus: list[str] | None = None
    #: For ``reconcile``: the linkage method (the scenario's when None).
    method: str | None = None
    #: Stage results beyond row counts (e.g. ingestion reports), for the caller to render.
    details: dict[str, Any] = field(default_factory=dict)

    def report(self, stage: str) -> Callable[[int, int], None]:
        """A ``progress(done, total)`` callback for one stage."""

        def update(done: int, total: int) -> None:
            if self.progress:
                self.progress(stage, done, total)

        return update


def _world_stage(ctx: StageContext) -> dict[str, int]:
    return write_world(
        ctx.scenario, ctx.root / "world", workers=ctx.workers, progress=ctx.report("world")
    )


def _furnish_stage(ctx: StageContext) -> dict[str, int]:
    return furnish_all(ctx.scenario, ctx.root, workers=ctx.workers, progress=ctx.report("furnish"))


def _ingest_stage(ctx: StageContext) -> dict[str, int]:
    reports = ingest_all(
        ctx.scenario,
        ctx.root,
        bureaus=ctx.bureaus,
        db_url=ctx.db_url,
        workers=ctx.workers,
        progress=ctx.report("ingest"),
    )
    ctx.details["ingest"] = reports
    rows: dict[str, int] = {}
    for r in reports:
        rows[f"{r.bureau}.files_loaded"] = r.files_loaded
        rows[f"{r.bureau}.files_skipped"] = r.files_skipped
        rows[f"{r.bureau}.files_failed"] = len(r.failed)
        rows[f"{r.bureau}.read"] = r.rows_read
        rows[f"{r.bureau}.loaded"] = r.rows_loaded
        rows[f"{r.bureau}.rejected"] = r.rows_rejected
    return rows


def write_report(root: Path, tables: dict[str, pd.DataFrame], csv: bool = True) -> None:
    """Write report tables as Parquet and CSV into ``RUN/report/``, each file whole or not at all.

    Parameters
    ----------
    root
        The run directory.
    tables
        The tables by name (the file name without suffix).
    csv
        Also write a CSV beside each Parquet file.
    """
    report = root / "report"
    report.mkdir(exist_ok=True)
    for name, frame in tables.items():
        write_table(frame, report / f"{name}.parquet")
        if csv:
            write_text_atomic(report / f"{name}.csv", frame.to_csv(index=False))


def _accuracy_stage(ctx: StageContext) -> dict[str, int]:
    engines = {b: bureau_engine(ctx.root, b, ctx.db_url) for b in ctx.scenario.active_bureaus}
    try:
        table, by_rule = assess_files(ctx.root, engines)
    finally:
        for engine in engines.values():
            engine.dispose()
    write_report(ctx.root, {"file_accuracy": table, "rejects_by_rule": by_rule})
    ctx.details["accuracy"] = table
    return {"bureaus": len(table), "rules": len(by_rule)}


@dataclass(frozen=True)
class BureauJob:
    """One bureau's work in a worker process.

    Its run, its database, and for training the model family (the profile's when None).
    """

    scenario: Scenario
    root: Path
    bureau: str
    db_url: str | None
    family: str | None = None


def train_job(job: BureauJob) -> dict[str, Any]:
    """Train a bureau, score its consumers, and set the scores against the truth.

    Writes ``models/<bureau>/`` (model and card) and ``scores/<bureau>.parquet`` (every
    consumer at the evaluation snapshot). A worker-process entry point.

    Parameters
    ----------
    job
        The bureau and its run.

    Returns
    -------
    dict
        The bureau, its model family, and its metrics in time, out of time, and out of time
        against the true outcomes.
    """
    engine = bureau_engine(job.root, job.bureau, job.db_url)
    try:
        result = train_bureau(engine, job.scenario, job.bureau, job.family)
        owners = file_owners(engine, job.root / "truth", job.bureau)
    except TrainingError as exc:
        # A bureau too small to have seen a default has no model; the others go on.
        logger.warning("%s", exc.message)
        family = job.family or job.scenario.bureaus[job.bureau].model
        return {"bureau": job.bureau, "model": family, "status": exc.message}
    finally:
        engine.dispose()
    snapshot = job.scenario.scoring.evaluation_snapshot
    truth = truth_performance(result.scores, owners, true_outcomes(job.root / "world", snapshot))
    truth = rounded(truth)
    result.model.card["metrics"]["out_of_time_truth"] = truth
    result.model.card["package_version"] = __version__
    save_model(result.model, job.root / "models" / job.bureau)
    write_table(
        result.scores.assign(snapshot=snapshot), job.root / "scores" / f"{job.bureau}.parquet"
    )
    return {
        "bureau": job.bureau,
        "model": result.model.family,
        "status": "trained",
        **{
            f"{window}_{metric}": result.model.card["metrics"][window][metric]
            for window in ("development", "out_of_time", "out_of_time_truth")
            for metric in ("rows", "bad_rate", "auc", "gini", "ks")
        },
    }


def _each_bureau(
    ctx: StageContext, stage: str, job: Callable[[BureauJob], Any], bureaus: list[str]
) -> Iterator[tuple[str, Any]]:
    """Run a per-bureau job for each bureau (in worker processes), yielding in bureau order."""
    jobs = [BureauJob(ctx.scenario, ctx.root, b, ctx.db_url) for b in bureaus]
    progress = ctx.report(stage)
    progress(0, len(jobs))
    results = map_chunks(job, jobs, workers=ctx.workers)
    for done, (bureau, result) in enumerate(zip(bureaus, results, strict=True), start=1):
        yield bureau, result
        progress(done, len(jobs))


def _trained_model(root: Path, bureau: str) -> BureauModel | None:
    """A bureau's model in a run, or None if it has none (too few defaults to train)."""
    directory = root / "models" / bureau
    return load_model(directory) if (directory / "model_card.json").exists() else None


def _train_stage(ctx: StageContext) -> dict[str, int]:
    bureaus = ctx.bureaus or ctx.scenario.active_bureaus
    rows = [row for _, row in _each_bureau(ctx, "train", train_job, bureaus)]
    table = pd.DataFrame(rows)
    report = ctx.root / "report"
    previous = report / "model_performance.parquet"
    if ctx.bureaus and previous.exists():
        # Training some bureaus again keeps the others' rows.
        kept = pd.read_parquet(previous)
        table = pd.concat([kept[~kept["bureau"].isin(bureaus)], table], ignore_index=True)
    table = table.sort_values("bureau", ignore_index=True)
    write_report(ctx.root, {"model_performance": table})
    ctx.details["train"] = table
    return {f"{r['bureau']}.scored": int(r.get("out_of_time_rows", 0)) for r in rows}


def aggregator_engine(root: str | Path, db_url: str | None = None) -> Engine:
    """The aggregator's database of a run (a SQLite file, or its schema on a server).

    Parameters
    ----------
    root
        The run directory.
    db_url
        A database server URL, or None for the run's SQLite file.

    Returns
    -------
    sqlalchemy.Engine
        An engine whose tables exist.
    """
    return database_engine(root, "aggregator", AggregatorBase, db_url)


def submit_job(job: BureauJob) -> dict[int, BureauSubmission]:
    """Build one bureau's submission at every snapshot (a worker-process entry point).

    Parameters
    ----------
    job
        The bureau and its run.

    Returns
    -------
    dict
        The submission of each snapshot.
    """
    scn = job.scenario
    profile = scn.bureaus[job.bureau]
    model = _trained_model(job.root, job.bureau)
    groups = list(model.card["feature_groups"]) if model else list(profile.feature_groups)
    engine = bureau_engine(job.root, job.bureau, job.db_url)
    try:
        return {
            snapshot: bureau_submission(
                engine, snapshot, list(profile.sources), model, groups, scn.start_date
            )
            for snapshot in scn.snapshots
        }
    finally:
        engine.dispose()


def dispute_job(job: BureauJob) -> tuple[dict[str, object], pd.DataFrame]:
    """File, investigate and measure one bureau's disputes (a worker-process entry point).

    Consumers dispute the errors on their files at the development snapshot; the bureau
    records the outcomes and corrections; the errors still on file and the score changes are
    measured at the evaluation snapshot.

    Parameters
    ----------
    job
        The bureau and its run.

    Returns
    -------
    tuple
        :func:`~bureau.analysis.disputes.dispute_statistics` of the bureau.
    """
    scn = job.scenario
    development, evaluation = scn.snapshots
    _, account_months, wrongful = world_truth(job.root)
    truth = job.root / "truth"
    engine = bureau_engine(job.root, job.bureau, job.db_url)
    try:
        errors = item_errors(engine, truth, job.bureau, account_months, wrongful, development)
        rng = generator(scn.seed, f"disputes:{job.bureau}", 0)
        filed = file_disputes(job.bureau, errors, scn.aggregator.disputes, rng, development)
        record_disputes(engine, filed)
        later = item_errors(engine, truth, job.bureau, account_months, wrongful, evaluation)
        model = _trained_model(job.root, job.bureau)
        changes = pd.DataFrame({"consumer_id": [], "before": [], "after": []})
        if model is not None:
            groups = list(model.card["feature_groups"])
            changes = score_changes(engine, model, groups, evaluation, scn.start_date)
    finally:
        engine.dispose()
    return dispute_statistics(job.bureau, errors, filed, later, changes)


def _disputes_stage(ctx: StageContext) -> dict[str, int]:
    rows, by_severity = [], []
    for _, (row, severity) in _each_bureau(
        ctx, "disputes", dispute_job, ctx.scenario.active_bureaus
    ):
        rows.append(row)
        by_severity.append(severity)
    tables = {
        "disputes": pd.DataFrame(rows).round(6),
        "disputes_by_severity": pd.concat(by_severity, ignore_index=True).round(6),
    }
    write_report(ctx.root, tables)
    ctx.details["disputes"] = tables["disputes"]
    return {
        f"{r['bureau']}.{k}": int(r[k]) for r in rows for k in ("errors", "disputed", "corrected")
    }


def _submit_stage(ctx: StageContext) -> dict[str, int]:
    bureaus = ctx.bureaus or ctx.scenario.active_bureaus
    engine = aggregator_engine(ctx.root, ctx.db_url)
    rows: dict[str, int] = {}
    try:
        for bureau, made in _each_bureau(ctx, "submit", submit_job, bureaus):
            for snapshot, submission in made.items():
                parts = {
                    "identities": submission.identities,
                    "tradelines": submission.tradelines,
                    "public_records": submission.public_records,
                    "scores": submission.scores,
                }
                received = receive(engine, bureau, snapshot, parts)
                for part, count in received.rows.items():
                    rows[f"{bureau}.{snapshot}.{part}"] = count
                rows[f"{bureau}.{snapshot}.rejected"] = received.rejected
    finally:
        engine.dispose()
    return rows


def _reconcile_stage(ctx: StageContext) -> dict[str, int]:
    scn = ctx.scenario
    method = ctx.method or scn.aggregator.linkage
    engine = aggregator_engine(ctx.root, ctx.db_url)
    engines = {b: bureau_engine(ctx.root, b, ctx.db_url) for b in scn.active_bureaus}
    try:
        summary = reconcile_all(
            engine,
            method=method,
            threshold=scn.aggregator.match_threshold,
            rules=list(scn.aggregator.rules),
            bureaus=scn.active_bureaus,
            snapshots=scn.snapshots,
            progress=ctx.report("reconcile"),
        )
        tables = assess_aggregation(ctx.root, engine, engines, method, scn.snapshots)
    finally:
        engine.dispose()
        for bureau_db in engines.values():
            bureau_db.dispose()
    tables = {name: frame.round(6) for name, frame in tables.items()}
    # Every disagreement is a long table: Parquet only.
    write_report(ctx.root, {"discrepancies": tables.pop("discrepancies")}, csv=False)
    write_report(ctx.root, tables)
    fitted = ctx.root / "report" / "consensus_model.json"
    if summary.consensus is not None:
        text = json.dumps(summary.consensus, indent=1, sort_keys=True) + "\n"
        write_text_atomic(fitted, text)
    else:
        # No consensus could be fitted on these submissions: no earlier one may stand for it.
        fitted.unlink(missing_ok=True)
    ctx.details["reconcile"] = (summary, tables)
    rows = {
        f"linkage.{m}.{k}": v for m, figures in summary.linkages.items() for k, v in figures.items()
    }
    for snapshot in summary.snapshots:
        rows[f"{snapshot}.tradelines"] = summary.tradelines[snapshot]
        rows[f"{snapshot}.public_records"] = summary.public_records[snapshot]
        rows[f"{snapshot}.discrepancies"] = summary.discrepancies[snapshot]
    rows["missing_submissions"] = len(summary.missing)
    return rows


STAGES: dict[str, Callable[[StageContext], dict[str, int]]] = {
    "world": _world_stage,
    "furnish": _furnish_stage,
    "ingest": _ingest_stage,
    "accuracy": _accuracy_stage,
    "train": _train_stage,
    "disputes": _disputes_stage,
    "submit": _submit_stage,
    "reconcile": _reconcile_stage,
}
#: What each stage needs done before it.
REQUIRES = {
    "world": None,
    "furnish": "world",
    "ingest": "furnish",
    "accuracy": "ingest",
    "train": "ingest",
    "disputes": "train",
    "submit": "disputes",
    "reconcile": "submit",
}


def execute(
    scenario: Scenario,
    out: str | Path,
    *,
    stages: list[str] | None = None,
    workers: int = 1,
    force: bool = False,
    progress: StageProgress | None = None,
    db_url: str | None = None,
) -> RunResult:
    """Run stages of the chain into a new run directory.

    Parameters
    ----------
    scenario
        The scenario.
    out
        The run directory to create (``runs/NAME``).
    stages
        Names of the stages to run, in chain order; all of them when None.
    workers
        Worker processes for chunked stages; outputs are identical for any number.
    force
        Replace an existing run directory.
    progress
        Called as ``progress(stage, done, total)``.
    db_url
        A database server URL for the bureaus' credit files; SQLite files when None.

    Returns
    -------
    RunResult
        The run directory and per-stage reports.

    Raises
    ------
    RunDirectoryError
        If ``out`` exists and ``force`` is False.
    """
    out = Path(out)
    chosen = list(STAGES) if stages is None else [s for s in STAGES if s in stages]
    resolved = scenario_to_toml(scenario)
    reports: list[StageReport] = []
    with staged_directory(out, force=force) as root:
        (root / RESOLVED_SCENARIO).write_text(resolved, encoding="utf-8")
        for name in chosen:
            started = time.perf_counter()
            ctx = StageContext(scenario, root, workers, progress, db_url)
            rows = STAGES[name](ctx)
            seconds = round(time.perf_counter() - started, 3)
            reports.append(StageReport(name, seconds, rows, detail=ctx.details.get(name)))
        header = {
            "package": "bureau",
            "version": __version__,
            "scenario": scenario.name,
            "seed": scenario.seed,
            "scenario_sha256": hashlib.sha256(resolved.encode("utf-8")).hexdigest(),
            "workers": workers,
            "database": _safe_url(db_url),
        }
        manifest = write_manifest(
            root, header, {r.name: _stage_entry(r, scenario) for r in reports}
        )
    return RunResult(path=out, scenario=scenario, stages=reports, manifest=manifest)


def run(
    scenario: Scenario | str | Path,
    out: str | Path | None = None,
    *,
    workers: int = 1,
    force: bool = False,
    progress: StageProgress | None = None,
) -> RunResult:
    """Run the whole chain for a scenario into ``out`` (default ``runs/<scenario name>``).

    Parameters
    ----------
    scenario
        A :class:`Scenario`, a path to a TOML file, or a bundled scenario's name.
    out
        The run directory to create.
    workers
        Worker processes; outputs are identical for any number.
    force
        Replace an existing run directory.
    progress
        Called as ``progress(stage, done, total)``.

    Returns
    -------
    RunResult
        The run directory and per-stage reports.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    target = Path("runs") / scenario.name if out is None else Path(out)
    return execute(scenario, target, workers=workers, force=force, progress=progress)


def _stage_entry(report: StageReport, scenario: Scenario) -> dict[str, Any]:
    """A stage's record in the manifest (reconciliation also names its linkage method)."""
    entry: dict[str, Any] = {"seconds": report.seconds, "rows": report.rows}
    if report.name == "reconcile":
        entry["method"] = scenario.aggregator.linkage
    return entry


def _safe_url(url: str | None) -> str:
    """A database URL fit to write down: no password."""
    if url is None:
        return "sqlite"
    return make_url(url).render_as_string(hide_password=True)


def run_stage(
    run_dir: str | Path,
    stage: str,
    *,
    workers: int = 1,
    progress: StageProgress | None = None,
    db_url: str | None = None,
    bureaus: list[str] | None = None,
    method: str | None = None,
) -> StageReport:
    """Run one stage on an existing run directory.

    A stage already recorded in the manifest is not run again (ingestion, which loads file by
    file, is always resumed: files already loaded are skipped; the accuracy report is redone
    after every ingestion; training trains the bureaus not trained yet; reconciliation runs
    again when asked for another linkage method).

    Parameters
    ----------
    run_dir
        The run directory.
    stage
        A name in :data:`STAGES`.
    workers
        Worker processes.
    progress
        Called as ``progress(stage, done, total)``.
    db_url
        For ``ingest``, ``accuracy`` and ``train``: the database server URL of the credit
        files, or None for SQLite files.
    bureaus
        For ``ingest`` and ``train``: the bureaus to load or train (all when None).
    method
        For ``reconcile``: the linkage method (the scenario's when None).

    Returns
    -------
    StageReport
        The stage's wall time and rows (``skipped`` set when there was nothing to do).

    Raises
    ------
    RunDirectoryError
        If the directory is not a run, or the stage this one needs has not run.
    """
    root = Path(run_dir)
    manifest = read_manifest(root)
    scenario = load_scenario(root / RESOLVED_SCENARIO)
    needed = REQUIRES[stage]
    if needed and needed not in manifest.get("stages", {}):
        raise RunDirectoryError(f"run the {needed} stage first", path=root)
    unknown = sorted(set(bureaus or ()) - set(scenario.active_bureaus))
    if unknown:
        known = ", ".join(scenario.active_bureaus)
        raise BureauError(
            f"no bureau {', '.join(unknown)} in this run (bureaus: {known})", field="--bureau"
        )
    recorded = manifest.get("stages", {}).get(stage)
    if stage == "train" and recorded is not None:
        # Training is per bureau: only the bureaus not trained yet are trained.
        wanted = bureaus or scenario.active_bureaus
        bureaus = [b for b in wanted if f"{b}.scored" not in recorded.get("rows", {})]
        if not bureaus:
            return StageReport(stage, 0.0, recorded.get("rows", {}), skipped=True)
    elif stage == "reconcile" and recorded is not None:
        method = method or scenario.aggregator.linkage
        if recorded.get("method") == method:
            return StageReport(stage, 0.0, recorded.get("rows", {}), skipped=True)
    elif stage not in ("ingest", "accuracy") and recorded is not None:
        return StageReport(stage, 0.0, recorded.get("rows", {}), skipped=True)
    held = manifest.get("database", "sqlite")
    on_server = ("train", "accuracy", "disputes", "submit", "reconcile")
    if stage in on_server and db_url is None and held != "sqlite":
        raise BureauError(
            f"this run's credit files are on {held}: pass the same --db URL", field="--db"
        )
    started = time.perf_counter()
    ctx = StageContext(scenario, root, workers, progress, db_url, bureaus, method)
    rows = STAGES[stage](ctx)
    report = StageReport(
        stage, round(time.perf_counter() - started, 3), rows, detail=ctx.details.get(stage)
    )
    stages = dict(manifest.get("stages", {}))
    if stage in ("ingest", "train") and stage in stages:
        # Loading or training some bureaus again leaves the others' figures as they were.
        rows = {**stages[stage].get("rows", {}), **rows}
    stages[stage] = {"seconds": report.seconds, "rows": rows}
    if stage == "reconcile":
        stages[stage]["method"] = method or scenario.aggregator.linkage
    header = {k: v for k, v in manifest.items() if k not in ("stages", "files")}
    if stage == "ingest":
        header["database"] = _safe_url(db_url)
    write_manifest(root, header, stages)
    if stage == "ingest":
        # The accuracy report describes the credit files: keep it in step with them.
        run_stage(root, "accuracy", workers=workers, db_url=db_url)
    return report


def month_of(scenario: Scenario, as_of: str | None) -> int:
    """The month number of an ``--as-of YYYY-MM`` label (the run's last month by default).

    Parameters
    ----------
    scenario
        The run's scenario (its calendar).
    as_of
        A month as ``YYYY-MM``, or None.

    Returns
    -------
    int
        The 0-based month.

    Raises
    ------
    BureauError
        If the label is not a month of the run.
    """
    if as_of is None:
        return scenario.months - 1
    try:
        month = int(label_months(scenario.start_date, pd.Series([as_of]))[0])
    except (ValueError, TypeError):
        month = -1
    if not re.fullmatch(r"\d{4}-\d{2}", as_of) or not 0 <= month < scenario.months:
        first = month_labels(scenario.start_date, np.array([0, scenario.months - 1]))
        raise BureauError(
            f"{as_of!r} is not a month of this run ({first[0]} to {first[1]}, as YYYY-MM)",
            field="--as-of",
        )
    return month


def score_file(
    run_dir: str | Path,
    bureau: str,
    input_path: str | Path,
    output_path: str | Path,
    *,
    as_of: str | None = None,
    db_url: str | None = None,
    record_inquiries: bool = True,
    requester: str = "batch",
    rows_per_chunk: int = 200_000,
    progress: Callable[[int, int], None] | None = None,
) -> ScoringSummary:
    """Score a file of applicants with one bureau of a run (see :func:`score_applicants`).

    Parameters
    ----------
    run_dir
        A run whose bureau has been trained.
    bureau
        The bureau.
    input_path, output_path
        The applicants (CSV or Parquet) and the scores to write (CSV or Parquet).
    as_of
        The month scored, as ``YYYY-MM``; the run's last month when None.
    db_url
        The database server of the credit files, or None for the run's SQLite files.
    record_inquiries
        Record an inquiry per consumer scored in the bureau's file.
    requester
        Who asks (the inquiry's furnisher).
    rows_per_chunk
        Rows read at a time.
    progress
        Called as ``progress(done, total)``.

    Returns
    -------
    ScoringSummary
        Rows, matches, scores and rejects.

    Raises
    ------
    BureauError
        If the run, bureau, model, month or input is not usable.
    """
    root = Path(run_dir)
    read_manifest(root)
    scenario = load_scenario(root / RESOLVED_SCENARIO)
    if bureau not in scenario.active_bureaus:
        known = ", ".join(scenario.active_bureaus)
        raise BureauError(f"no bureau {bureau} in this run (bureaus: {known})", field="--bureau")
    model_dir = root / "models" / bureau
    if not (model_dir / "model_card.json").exists():
        raise RunDirectoryError(f"{bureau} has no model: run bureau train first", path=model_dir)
    model = load_model(model_dir)
    month = month_of(scenario, as_of)
    year = int(str(month_labels(scenario.start_date, np.array([month]))[0])[:4])
    engine = bureau_engine(root, bureau, db_url)
    try:
        return score_applicants(
            engine,
            model,
            scenario.bureaus[bureau].matching,
            Path(input_path),
            Path(output_path),
            as_of=month,
            start=scenario.start_date,
            as_of_year=year,
            record_inquiries=record_inquiries,
            requester=requester,
            rows_per_chunk=rows_per_chunk,
            progress=progress,
        )
    finally:
        engine.dispose()
