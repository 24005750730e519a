"""The stages of a run, declared once: from the world to the comparison of every bureau.

``world`` generates the truth, ``furnish`` writes every bureau's feeds from it, ``ingest`` loads
each bureau's feeds into its own database, ``accuracy`` measures the files against the truth,
``train`` fits each bureau's model, ``disputes`` files and settles consumers' disputes,
``submit`` sends every bureau's submissions to the aggregator, ``reconcile`` links, consolidates
and scores them, and ``compare`` sets every bureau and the consensus side by side against the
truth, in tables and an HTML report. :data:`STAGES` declares each (:class:`Stage`) in chain
order; each returns a :class:`~bureau.pipeline.contract.StageResult`, typed where it has more
to tell than row counts.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from bureau.aggregator.stage import ReconcileSummary, reconcile_all
from bureau.aggregator.submission import receive
from bureau.analysis.aggregation import assess_aggregation
from bureau.analysis.compare import compare
from bureau.analysis.file_accuracy import ACCURACY_COLUMNS
from bureau.analysis.html_report import write_html_report
from bureau.analysis.privacy import ledger_with_value, privacy_ledger
from bureau.analysis.rescoring import RESCORING_COLUMNS
from bureau.bureaus.ingest import IngestSummary, feed_bytes, ingest_all
from bureau.furnish.stage import furnish_all
from bureau.layout import RunLayout
from bureau.parallel import map_chunks, started
from bureau.pipeline.contract import Stage, StageContext, StageResult
from bureau.pipeline.jobs import (
    BureauJob,
    ablation_job,
    accuracy_job,
    dispute_job,
    submit_job,
    train_job,
    truth_job,
)
from bureau.rundir import write_text_atomic
from bureau.store.parquet import write_table
from bureau.world import write_world

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class IngestResult(StageResult):
    """What ingestion did: each bureau's summary of its files and rows."""

    summaries: list[IngestSummary] = field(default_factory=list)


@dataclass(frozen=True, eq=False)
class TablesResult(StageResult):
    """What a stage that writes report tables made: the tables, by name."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class ReconcileResult(TablesResult):
    """What reconciliation did: its summary, and the tables that measure it."""

    summary: ReconcileSummary | None = None


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


def write_report_tables(
    run: RunLayout, tables: dict[str, pd.DataFrame], csv: bool = True, as_json: bool = False
) -> None:
    """Write report tables as Parquet and CSV into ``RUN/report/``, each file whole or not at all.

    Parameters
    ----------
    run
        The run.
    tables
        The tables by name (the file name without suffix).
    csv
        Also write a CSV beside each Parquet file.
    as_json
        Also write each table as JSON records (:func:`records_json`).
    """
    run.report.mkdir(exist_ok=True)
    for name, frame in tables.items():
        write_table(frame, run.report_file(name))
        if csv:
            write_text_atomic(run.report_file(name, "csv"), frame.to_csv(index=False))
        if as_json:
            write_text_atomic(run.report_file(name, "json"), records_json(frame))


def _world_stage(ctx: StageContext) -> StageResult:
    rows = write_world(
        ctx.scenario, ctx.layout.world, workers=ctx.workers, progress=ctx.progress_of("world")
    )
    return StageResult(rows)


def _furnish_stage(ctx: StageContext) -> StageResult:
    rows = furnish_all(
        ctx.scenario, ctx.layout, workers=ctx.workers, progress=ctx.progress_of("furnish")
    )
    return StageResult(rows)


def _ingest_stage(ctx: StageContext) -> IngestResult:
    summaries = ingest_all(
        ctx.scenario,
        ctx.layout,
        bureaus=ctx.active_bureaus,
        workers=ctx.workers,
        progress=ctx.progress_of("ingest"),
    )
    rows: dict[str, int] = {}
    for r in summaries:
        rows[f"{r.bureau}.files_loaded"] = r.files_loaded
        rows[f"{r.bureau}.files_skipped"] = r.files_skipped
        rows[f"{r.bureau}.files_failed"] = len(r.failed)
        rows[f"{r.bureau}.read"] = r.rows_read
        rows[f"{r.bureau}.loaded"] = r.rows_loaded
        rows[f"{r.bureau}.rejected"] = r.rows_rejected
    # Only new files change the credit files that every later stage reads.
    changed = any(r.files_loaded for r in summaries)
    return IngestResult(rows, changed=changed, summaries=summaries)


def _each_bureau(
    ctx: StageContext, stage: str, job: Callable[[BureauJob], Any], bureaus: list[str]
) -> Iterator[tuple[str, Any]]:
    """Run a per-bureau job for each bureau (in worker processes), yielding in bureau order."""
    jobs = [BureauJob(ctx.scenario, ctx.layout, b) for b in bureaus]
    progress = ctx.progress_of(stage)
    progress(0, len(jobs))
    weights = [feed_bytes(ctx.layout, b) for b in bureaus]
    results = map_chunks(job, jobs, workers=ctx.workers, weights=weights)
    for done, (bureau, result) in enumerate(zip(bureaus, results, strict=True), start=1):
        yield bureau, result
        progress(done, len(jobs))


def _accuracy_stage(ctx: StageContext) -> TablesResult:
    rows, rules = [], []
    for _, (row, by_rule) in _each_bureau(
        ctx, "accuracy", accuracy_job, sorted(ctx.scenario.active_bureaus)
    ):
        rows.append(row)
        rules.append(by_rule)
    tables = {
        "file_accuracy": pd.DataFrame(rows, columns=list(ACCURACY_COLUMNS)),
        "rejects_by_rule": pd.concat(rules, ignore_index=True),
    }
    write_report_tables(ctx.layout, tables)
    rows_written = {
        "bureaus": len(tables["file_accuracy"]),
        "rules": len(tables["rejects_by_rule"]),
    }
    return TablesResult(rows_written, tables=tables)


def _train_stage(ctx: StageContext) -> TablesResult:
    bureaus = ctx.active_bureaus
    rows = [row for _, row in _each_bureau(ctx, "train", train_job, bureaus)]
    table = pd.DataFrame(rows)
    previous = ctx.layout.report_file("model_performance")
    if ctx.bureaus is not None and previous.exists():
        # Training some bureaus again keeps the others' rows.
        kept = pd.read_parquet(previous)
        table = pd.concat([kept[~kept["bureau"].isin(bureaus)], table], ignore_index=True)
    table = table.sort_values("bureau", ignore_index=True)
    write_report_tables(ctx.layout, {"model_performance": table})
    scored = {f"{r['bureau']}.scored": int(r.get("out_of_time_rows", 0)) for r in rows}
    return TablesResult(scored, tables={"model_performance": table})


def _disputes_stage(ctx: StageContext) -> TablesResult:
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
    write_report_tables(ctx.layout, tables)
    counts = {
        f"{r['bureau']}.{k}": int(r[k]) for r in rows for k in ("errors", "disputed", "corrected")
    }
    return TablesResult(counts, tables=tables)


def _submit_stage(ctx: StageContext) -> StageResult:
    rows: dict[str, int] = {}
    with ctx.layout.aggregator_database() as engine:
        for bureau, made in _each_bureau(ctx, "submit", submit_job, ctx.active_bureaus):
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
    return StageResult(rows)


def _reconcile_stage(ctx: StageContext) -> ReconcileResult:
    scn = ctx.scenario
    bureaus = scn.active_bureaus
    jobs = [BureauJob(scn, ctx.layout, b) for b in bureaus]
    weights = [feed_bytes(ctx.layout, b) for b in bureaus]
    with ctx.layout.aggregator_database() as engine, ctx.layout.bureau_databases(bureaus) as dbs:
        # Tracing each bureau's files to the truth needs no reconciliation: it goes on in a
        # worker process while this one links and reconciles.
        with started(truth_job, jobs, ctx.workers, weights, spare=True) as traced:
            summary = reconcile_all(
                engine,
                method=ctx.linkage,
                threshold=scn.aggregator.match_threshold,
                rules=list(scn.aggregator.rules),
                bureaus=bureaus,
                snapshots=scn.snapshots,
                progress=ctx.progress_of("reconcile"),
            )
            truths = dict(zip(bureaus, traced(), strict=True))
        tables = assess_aggregation(
            ctx.layout.root, engine, dbs, ctx.linkage, scn.snapshots, truths
        )
    tables = {name: frame.round(6) for name, frame in tables.items()}
    # Every disagreement is a long table: Parquet only.
    write_report_tables(ctx.layout, {"discrepancies": tables.pop("discrepancies")}, csv=False)
    write_report_tables(ctx.layout, tables)
    fitted = ctx.layout.report_file("consensus_model", "json")
    if summary.consensus is not None:
        text = json.dumps(summary.consensus, indent=1, sort_keys=True) + "\n"
        write_text_atomic(fitted, text)
    else:
        # No consensus could be fitted on these submissions: no earlier one may stand for it.
        fitted.unlink(missing_ok=True)
    rows = {
        f"linkage.{m}.{k}": v for m, figures in summary.linkages.items() for k, v in figures.items()
    }
    for snapshot in summary.snapshots:
        rows[f"{snapshot}.tradelines"] = summary.tradelines[snapshot]
        rows[f"{snapshot}.public_records"] = summary.public_records[snapshot]
        rows[f"{snapshot}.discrepancies"] = summary.discrepancies[snapshot]
    rows["missing_submissions"] = len(summary.missing)
    return ReconcileResult(rows, keys={"method": ctx.linkage}, tables=tables, summary=summary)


def _ablation_tables(
    rows: list[dict[str, Any]], engines: dict[str, Engine]
) -> dict[str, pd.DataFrame]:
    """The data-source ablation, and the privacy ledger set beside it."""
    columns = ["bureau", "removed", "observed_auc", "truth_auc"]
    columns += ["observed_auc_gain", "truth_auc_gain"]
    ablation = pd.DataFrame(rows, columns=columns)
    ledger = ledger_with_value(privacy_ledger(engines), ablation)
    return {"ablation": ablation, "privacy_ledger": ledger}


def _compare_stage(ctx: StageContext) -> TablesResult:
    bureaus = ctx.scenario.active_bureaus
    jobs = [BureauJob(ctx.scenario, ctx.layout, b) for b in bureaus]
    weights = [feed_bytes(ctx.layout, b) for b in bureaus]
    progress = ctx.progress_of("compare")
    progress(0, 2)
    root = ctx.layout.root
    with ctx.layout.aggregator_database() as engine, ctx.layout.bureau_databases(bureaus) as dbs:
        # The ablation retrains every bureau in worker processes while this one compares.
        with started(ablation_job, jobs, ctx.workers, weights) as ablation:
            tables = compare(root, bureaus=dbs, aggregator=engine, workers=ctx.workers)
            progress(1, 2)
            rows = [row for found in ablation() for row in found]
        tables.update({k: v.round(6) for k, v in _ablation_tables(rows, dbs).items()})
    write_report_tables(ctx.layout, tables, as_json=True)
    write_html_report(root, tables, workers=ctx.workers)
    progress(2, 2)
    return TablesResult({name: len(frame) for name, frame in tables.items()}, tables=tables)


#: Every stage, in chain order: what it requires and how it runs.
STAGES: dict[str, Stage] = {
    stage.name: stage
    for stage in (
        Stage("world", (), _world_stage, "generate the truth: persons, accounts, records"),
        Stage("furnish", ("world",), _furnish_stage, "write every bureau's feed files"),
        Stage(
            "ingest",
            ("furnish",),
            _ingest_stage,
            "load each bureau's feeds into its own credit files",
            per_bureau=True,
            resumable=True,
            loads_databases=True,
        ),
        Stage(
            "accuracy", ("ingest",), _accuracy_stage, "measure the credit files against the truth"
        ),
        Stage(
            "train",
            ("ingest",),
            _train_stage,
            "fit each bureau's model and score its consumers",
            per_bureau=True,
        ),
        Stage("disputes", ("train",), _disputes_stage, "file, settle and measure disputes"),
        Stage(
            "submit",
            ("disputes",),
            _submit_stage,
            "send every bureau's submissions to the aggregator",
        ),
        Stage(
            "reconcile",
            ("submit",),
            _reconcile_stage,
            "link identities, consolidate tradelines, fit the consensus",
            keys=("method",),
        ),
        Stage(
            "compare",
            ("reconcile", "accuracy"),
            _compare_stage,
            "set the bureaus and the consensus side by side against the truth",
        ),
    )
}
