"""The stages of a run, each a function of the run directory: from the world to reconciliation.

``world`` generates the truth, ``furnish`` writes every bureau's feeds from it, ``ingest`` loads
each bureau's feeds into its own database, ``accuracy`` measures the files against the truth,
``train`` fits each bureau's model, ``disputes`` files and settles consumers' disputes,
``submit`` sends every bureau's reports to the aggregator, ``reconcile`` links, consolidates
and scores them, and ``compare`` sets every bureau and the consensus side by side against the
truth, in tables and an HTML report. :data:`STAGES` lists them in chain order and
:data:`REQUIRES` what each needs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from bureau.aggregator.stage import reconcile_all
from bureau.aggregator.submission import receive
from bureau.analysis.aggregation import assess_aggregation
from bureau.analysis.compare import compare
from bureau.analysis.file_accuracy import ACCURACY_COLUMNS
from bureau.analysis.html_report import write_html_report
from bureau.analysis.privacy import ledger_with_value, privacy_ledger
from bureau.analysis.rescoring import RESCORING_COLUMNS
from bureau.bureaus.ingest import bureau_engine, feed_bytes, ingest_all
from bureau.config.scenario import Scenario
from bureau.engine import map_chunks, started
from bureau.furnish.stage import furnish_all
from bureau.pipeline.jobs import (
    BureauJob,
    ablation_job,
    accuracy_job,
    dispute_job,
    submit_job,
    train_job,
    truth_job,
)
from bureau.rundir import (
    write_text_atomic,
)
from bureau.store.aggregator import AggregatorBase
from bureau.store.engines import database_engine
from bureau.store.parquet import write_table
from bureau.world import write_world

logger = logging.getLogger(__name__)

StageProgress = Callable[[str, int, int], None]


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


def records_json(frame: pd.DataFrame) -> str:
    """A table as a JSON list of records, keys in column order, missing values as null.

    Parameters
    ----------
    frame
        The table.

    Returns
    -------
    str
        The JSON text, ending in a newline; the same table always gives the same text.
    """
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return json.dumps(records, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def write_report(
    root: Path, tables: dict[str, pd.DataFrame], csv: bool = True, as_json: bool = False
) -> None:
    """Write report tables as Parquet and CSV into ``RUN/report/``, each file whole or not at all.

    Parameters
    ----------
    root
        The run directory.
    tables
        The tables by name (the file name without suffix).
    csv
        Also write a CSV beside each Parquet file.
    as_json
        Also write each table as JSON records (:func:`records_json`).
    """
    report = root / "report"
    report.mkdir(exist_ok=True)
    for name, frame in tables.items():
        write_table(frame, report / f"{name}.parquet")
        if csv:
            write_text_atomic(report / f"{name}.csv", frame.to_csv(index=False))
        if as_json:
            write_text_atomic(report / f"{name}.json", records_json(frame))


def _accuracy_stage(ctx: StageContext) -> dict[str, int]:
    rows, rules = [], []
    for _, (row, by_rule) in _each_bureau(
        ctx, "accuracy", accuracy_job, sorted(ctx.scenario.active_bureaus)
    ):
        rows.append(row)
        rules.append(by_rule)
    table = pd.DataFrame(rows, columns=list(ACCURACY_COLUMNS))
    by_rule = pd.concat(rules, ignore_index=True)
    write_report(ctx.root, {"file_accuracy": table, "rejects_by_rule": by_rule})
    ctx.details["accuracy"] = table
    return {"bureaus": len(table), "rules": len(by_rule)}


def _each_bureau(
    ctx: StageContext, stage: str, job: Callable[[BureauJob], Any], bureaus: list[str]
) -> Iterator[tuple[str, Any]]:
    """Run a per-bureau job for each bureau (in worker processes), yielding in bureau order."""
    jobs = [BureauJob(ctx.scenario, ctx.root, b, ctx.db_url) for b in bureaus]
    progress = ctx.report(stage)
    progress(0, len(jobs))
    weights = [feed_bytes(ctx.root, b) for b in bureaus]
    results = map_chunks(job, jobs, workers=ctx.workers, weights=weights)
    for done, (bureau, result) in enumerate(zip(bureaus, results, strict=True), start=1):
        yield bureau, result
        progress(done, len(jobs))


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


def aggregator_engine(root: str | Path, db_url: str | None = None, create: bool = True) -> Engine:
    """The aggregator's database of a run (a SQLite file, or its schema on a server).

    Parameters
    ----------
    root
        The run directory.
    db_url
        A database server URL, or None for the run's SQLite file.
    create
        Create the database if there is none; a reader passes False.

    Returns
    -------
    sqlalchemy.Engine
        An engine whose tables exist.
    """
    return database_engine(root, "aggregator", AggregatorBase, db_url, create=create)


def _disputes_stage(ctx: StageContext) -> dict[str, int]:
    rows, by_severity, rescored = [], [], []
    for _, (row, severity, rescoring) in _each_bureau(
        ctx, "disputes", dispute_job, ctx.scenario.active_bureaus
    ):
        rows.append(row)
        by_severity.append(severity)
        if rescoring is not None:
            rescored.append(rescoring)
    tables = {
        "disputes": pd.DataFrame(rows).round(6),
        "disputes_by_severity": pd.concat(by_severity, ignore_index=True).round(6),
        "correction_rescoring": pd.DataFrame(rescored, columns=list(RESCORING_COLUMNS)).round(6),
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
    bureaus = scn.active_bureaus
    engines = {b: bureau_engine(ctx.root, b, ctx.db_url) for b in bureaus}
    jobs = [BureauJob(scn, ctx.root, b, ctx.db_url) for b in bureaus]
    weights = [feed_bytes(ctx.root, b) for b in bureaus]
    try:
        # Tracing each bureau's files to the truth needs no reconciliation: it goes on in a
        # worker process while this one links and reconciles.
        with started(truth_job, jobs, ctx.workers, weights, spare=True) as traced:
            summary = reconcile_all(
                engine,
                method=method,
                threshold=scn.aggregator.match_threshold,
                rules=list(scn.aggregator.rules),
                bureaus=bureaus,
                snapshots=scn.snapshots,
                progress=ctx.report("reconcile"),
            )
            truths = dict(zip(bureaus, traced(), strict=True))
        tables = assess_aggregation(ctx.root, engine, engines, method, scn.snapshots, truths)
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


def _ablation_tables(
    rows: list[dict[str, Any]], engines: dict[str, Engine]
) -> dict[str, pd.DataFrame]:
    """The data-source ablation, and the privacy ledger set beside it."""
    columns = ["bureau", "removed", "observed_auc", "truth_auc"]
    columns += ["observed_auc_gain", "truth_auc_gain"]
    ablation = pd.DataFrame(rows, columns=columns)
    ledger = ledger_with_value(privacy_ledger(engines), ablation)
    return {"ablation": ablation, "privacy_ledger": ledger}


def _compare_stage(ctx: StageContext) -> dict[str, int]:
    bureaus = ctx.scenario.active_bureaus
    jobs = [BureauJob(ctx.scenario, ctx.root, b, ctx.db_url) for b in bureaus]
    weights = [feed_bytes(ctx.root, b) for b in bureaus]
    progress = ctx.report("compare")
    progress(0, 2)
    engines = {b: bureau_engine(ctx.root, b, ctx.db_url) for b in bureaus}
    engine = aggregator_engine(ctx.root, ctx.db_url)
    try:
        # The ablation retrains every bureau in worker processes while this one compares.
        with started(ablation_job, jobs, ctx.workers, weights) as ablation:
            tables = compare(ctx.root, bureaus=engines, aggregator=engine, workers=ctx.workers)
            progress(1, 2)
            rows = [row for found in ablation() for row in found]
        tables.update({k: v.round(6) for k, v in _ablation_tables(rows, engines).items()})
    finally:
        engine.dispose()
        for bureau_db in engines.values():
            bureau_db.dispose()
    write_report(ctx.root, tables, as_json=True)
    write_html_report(ctx.root, tables, workers=ctx.workers)
    progress(2, 2)
    ctx.details["compare"] = tables
    return {name: len(frame) for name, frame in tables.items()}


STAGES: dict[str, Callable[[StageContext], dict[str, int]]] = {
    "world": _world_stage,
    "furnish": _furnish_stage,
    "ingest": _ingest_stage,
    "accuracy": _accuracy_stage,
    "train": _train_stage,
    "disputes": _disputes_stage,
    "submit": _submit_stage,
    "reconcile": _reconcile_stage,
    "compare": _compare_stage,
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
    "compare": "reconcile",
}
