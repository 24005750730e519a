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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from bureau.aggregator.stage import ReconcileSummary, reconcile_all
from bureau.aggregator.submission import receive
from bureau.analysis.aggregator_gain import assess_aggregation, read_aggregator_tables
from bureau.analysis.compare import compare_views
from bureau.analysis.file_accuracy import (
    ACCURACY_COLUMNS,
    ACCURACY_TRUTH_COLUMNS,
    consumer_errors,
)
from bureau.analysis.privacy import ledger_with_value, privacy_ledger
from bureau.analysis.provenance import OWNER_COLUMNS, TRUTH_COLUMNS
from bureau.analysis.rescoring import RESCORING_COLUMNS
from bureau.bureaus.ingest import IngestSummary, feed_bytes, ingest_all
from bureau.furnish.stage import furnish_all
from bureau.parallel import map_built, started
from bureau.pipeline.comparison import (
    EARLIER_TABLES,
    PERSON_COLUMNS,
    read_views,
    trace_owners,
)
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
from bureau.pipeline.market import market_stage
from bureau.pipeline.outputs import read_report_tables, write_report_page, write_report_tables
from bureau.pipeline.signal_audit import DIAGNOSTIC_COLUMNS, audit_table, world_audit
from bureau.pipeline.truth import (
    TruthSlice,
    item_slicer,
    month_status,
    outcomes_of,
    owner_slicer,
    read_account_months,
    read_outcomes,
    read_persons,
    read_wrongful_records,
)
from bureau.rundir import write_text_atomic
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


def _world_stage(ctx: StageContext) -> StageResult:
    rows = write_world(
        ctx.scenario, ctx.layout.world, workers=ctx.workers, progress=ctx.progress_of("world")
    )
    return StageResult(rows)


def _furnish_stage(ctx: StageContext) -> StageResult:
    scn = ctx.scenario
    # With a market, the months from its start are furnished round by round (market stage).
    months = (0, scn.market_start) if scn.market_rounds else None
    rows = furnish_all(
        scn, ctx.layout, workers=ctx.workers, progress=ctx.progress_of("furnish"), months=months
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


def _jobs(
    ctx: StageContext, bureaus: list[str], truths: Mapping[str, TruthSlice]
) -> tuple[list[BureauJob], list[float]]:
    """One job per bureau, each with its slice of the truth, and the jobs' expected costs."""
    jobs = [BureauJob(ctx.scenario, ctx.layout, b, truth=truths[b]) for b in bureaus]
    return jobs, [feed_bytes(ctx.layout, b) for b in bureaus]


def _each_bureau(
    ctx: StageContext,
    stage: str,
    job: Callable[[BureauJob], Any],
    bureaus: list[str],
    slice_of: Callable[[str], TruthSlice] | None = None,
) -> Iterator[tuple[str, Any]]:
    """Run a per-bureau job for each bureau (in worker processes), yielding in bureau order.

    Each job is made, with its bureau's slice of the truth (``slice_of``), when a worker is
    about to take it: only the slices of the jobs running are held at a time.
    """

    def build(bureau: str) -> BureauJob:
        truth = slice_of(bureau) if slice_of else TruthSlice()
        return BureauJob(ctx.scenario, ctx.layout, bureau, truth=truth)

    progress = ctx.progress_of(stage)
    progress(0, len(bureaus))
    weights = [feed_bytes(ctx.layout, b) for b in bureaus]
    results = map_built(job, build, bureaus, workers=ctx.workers, weights=weights)
    for done, (bureau, result) in enumerate(zip(bureaus, results, strict=True), start=1):
        yield bureau, result
        progress(done, len(bureaus))


def _accuracy_stage(ctx: StageContext) -> TablesResult:
    bureaus = sorted(ctx.scenario.active_bureaus)
    truth = item_slicer(ctx.layout, ACCURACY_TRUTH_COLUMNS, persons=True)
    rows, rules, owners = [], [], {}
    for bureau, (row, by_rule, consumers) in _each_bureau(
        ctx, "accuracy", accuracy_job, bureaus, truth
    ):
        rows.append(row)
        rules.append(by_rule)
        owners[bureau] = consumers
    tables = {
        "file_accuracy": pd.DataFrame(rows, columns=list(ACCURACY_COLUMNS)),
        "rejects_by_rule": pd.concat(rules, ignore_index=True),
        "consumer_errors": consumer_errors(owners),
    }
    write_report_tables(ctx.layout, tables)
    rows_written = {
        "bureaus": len(tables["file_accuracy"]),
        "rules": len(tables["rejects_by_rule"]),
    }
    return TablesResult(rows_written, tables=tables)


def _train_stage(ctx: StageContext) -> TablesResult:
    bureaus = ctx.active_bureaus
    evaluation = ctx.scenario.scoring.evaluation_snapshot
    truth = owner_slicer(ctx.layout, OWNER_COLUMNS, evaluation)
    rows = [row for _, row in _each_bureau(ctx, "train", train_job, bureaus, truth)]
    table = pd.DataFrame(rows)
    if ctx.bureaus is not None:
        # Training some bureaus again keeps the others' rows, which only this table holds.
        kept = read_report_tables(ctx.layout, ["model_performance"]).get("model_performance")
        if kept is not None:
            table = pd.concat([kept[~kept["bureau"].isin(bureaus)], table], ignore_index=True)
    table = table.sort_values("bureau", ignore_index=True)
    write_report_tables(ctx.layout, {"model_performance": table})
    scored = {f"{r['bureau']}.scored": int(r.get("out_of_time_rows", 0)) for r in rows}
    return TablesResult(scored, tables={"model_performance": table})


def _disputes_stage(ctx: StageContext) -> TablesResult:
    bureaus = ctx.scenario.active_bureaus
    truth = item_slicer(ctx.layout, TRUTH_COLUMNS)
    rows, by_severity, rescored = [], [], []
    for _, (row, severity, rescoring) in _each_bureau(ctx, "disputes", dispute_job, bureaus, truth):
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
    # Each job reads its own bureau's furnished truth: this process, busy linking, holds none.
    jobs, weights = _jobs(ctx, bureaus, {b: TruthSlice() for b in bureaus})
    with ctx.layout.aggregator_database() as engine:
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
            found = dict(zip(bureaus, traced(), strict=True))
        held = read_aggregator_tables(engine, scn.snapshots[-1])
    # The statuses of the accounts the bureaus hold, read once for all of them.
    held_accounts = [t.accounts["account_id"].to_numpy(dtype=np.int64) for t in found.values()]
    accounts = np.unique(np.concatenate([np.array([], dtype=np.int64), *held_accounts]))
    tables = assess_aggregation(
        held,
        found,
        _trained_scores(ctx, bureaus),
        len(read_persons(ctx.layout)),
        month_status(read_account_months(ctx.layout, accounts)),
        read_wrongful_records(ctx.layout),
        read_outcomes(ctx.layout, scn.snapshots),
        ctx.linkage,
        scn.snapshots,
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


def _trained_scores(ctx: StageContext, bureaus: list[str]) -> dict[str, pd.DataFrame]:
    """The scores each bureau with a model made at the evaluation snapshot (``scores/``)."""
    columns = ["consumer_id", "pd", "in_default"]
    return {
        b: pd.read_parquet(ctx.layout.scores_of(b), columns=columns)
        for b in sorted(bureaus)
        if ctx.layout.scores_of(b).is_file()
    }


def _ablation_tables(
    ctx: StageContext,
    found: list[dict[str, list[dict[str, Any]]]],
    world: pd.DataFrame,
    engines: dict[str, Engine],
) -> dict[str, pd.DataFrame]:
    """The data-source ablation, the privacy ledger and the signal audit set beside it."""
    columns = ["bureau", "removed", "observed_auc", "truth_auc"]
    columns += ["observed_auc_gain", "truth_auc_gain"]
    ablation = pd.DataFrame([row for job in found for row in job["ablation"]], columns=columns)
    diagnostics = pd.DataFrame(
        [row for job in found for row in job["signals"]], columns=DIAGNOSTIC_COLUMNS
    )
    ledger = ledger_with_value(privacy_ledger(engines), ablation)
    families = {b: p.model for b, p in ctx.scenario.bureaus.items()}
    audit = audit_table(world, ablation, diagnostics, families)
    return {"ablation": ablation, "privacy_ledger": ledger, "signal_audit": audit}


def _compare_stage(ctx: StageContext) -> TablesResult:
    scn, run = ctx.scenario, ctx.layout
    bureaus = scn.active_bureaus
    evaluation = scn.scoring.evaluation_snapshot
    progress = ctx.progress_of("compare")
    progress(0, 2)
    with run.aggregator_database() as engine, run.bureau_databases(bureaus) as dbs:
        owners = trace_owners(run, dbs)
        outcomes = read_outcomes(run, [evaluation])[evaluation]
        truths = {
            b: TruthSlice(owners=owners[b], outcomes=outcomes_of(outcomes, owners[b].to_numpy()))
            for b in bureaus
        }
        jobs, weights = _jobs(ctx, bureaus, truths)
        # The ablation retrains every bureau in worker processes while this one compares.
        with started(ablation_job, jobs, ctx.workers, weights) as ablation:
            earlier = read_report_tables(run, EARLIER_TABLES)
            views = read_views(run, scn, dbs, engine, owners)
            persons = read_persons(run, PERSON_COLUMNS)
            tables = compare_views(views, outcomes, persons, earlier, scn, workers=ctx.workers)
            world = world_audit(scn, run)
            progress(1, 2)
            found = list(ablation())
        ablated = _ablation_tables(ctx, found, world, dbs)
        tables.update({k: v.round(6) for k, v in ablated.items()})
    write_report_tables(run, tables, as_json=True)
    # The page draws the earlier stages' tables too: all of them are handed to it.
    write_report_page(run, {**earlier, **tables}, workers=ctx.workers)
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
            "market",
            ("ingest",),
            market_stage,
            "run the market's rounds: lenders buy scores, decide, and the world goes on",
            resumable=True,
        ),
        Stage(
            "accuracy", ("market",), _accuracy_stage, "measure the credit files against the truth"
        ),
        Stage(
            "train",
            ("market",),
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
