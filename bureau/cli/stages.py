"""``bureau furnish`` and ``bureau ingest``: run one stage on an existing run directory.

Every stage command runs through the one runner: the stages the one asked for requires are run
first when they are not done, and a stage done already is not run again.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from bureau.bureaus import IngestSummary
from bureau.cli.common import (
    AsJson,
    Quiet,
    Scheduler,
    Workers,
    console,
    default_workers,
    err_console,
    handle_errors,
    print_json,
    progress_bars,
    relative,
)
from bureau.pipeline import IngestResult, RunResult, StageOutcome, run_stages

DEFAULT_WORKERS = default_workers()
RunArg = Annotated[Path, typer.Argument(help="A run directory (made by bureau run or simulate).")]
BureauOption = Annotated[
    list[str] | None, typer.Option("--bureau", "-b", help="Only this bureau (repeatable).")
]
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="A database server URL (e.g. postgresql+psycopg://user@host/db); each bureau "
        "gets its own schema. Default: SQLite files in RUN/db/.",
    ),
]


def stage_command(run: Path, stage: str, **options: Any) -> StageOutcome:
    """Run one stage of a run, with whatever it requires that is not done.

    Parameters
    ----------
    run
        The run directory.
    stage
        The stage asked for.
    **options
        The runner's options (``workers``, ``progress``, ``db_url``, ``bureaus``...).

    Returns
    -------
    StageOutcome
        What the stage asked for did.
    """
    result = run_stages(run, stages=[stage], **options)
    print_ingest_warnings(ingest_summaries(result))
    return result.outcome(stage)


def ingest_summaries(result: RunResult) -> list[IngestSummary]:
    """The bureaus' ingestion summaries of a call of the runner, if it ran ingestion.

    Parameters
    ----------
    result
        The runner's result.

    Returns
    -------
    list of IngestSummary
        One per bureau ingested; empty when ingestion was not run.
    """
    for outcome in result.stages:
        if isinstance(outcome.result, IngestResult):
            return outcome.result.summaries
    return []


@handle_errors
def furnish(
    run: RunArg,
    workers: Workers = DEFAULT_WORKERS,
    scheduler: Scheduler = None,
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Write every bureau's feed files from the world of a run."""
    with progress_bars(quiet or as_json) as progress:
        outcome = stage_command(run, "furnish", workers=workers, progress=progress)
    if as_json:
        print_json(
            {
                "run": relative(run),
                "skipped": outcome.skipped,
                "seconds": outcome.seconds,
                "records": outcome.rows,
            }
        )
        return
    if outcome.skipped:
        console.print(
            f"feeds already written in {relative(run)}/feeds/; nothing to do", highlight=False
        )
        return
    if not quiet:
        table = Table(title="records furnished")
        table.add_column("record type")
        table.add_column("records", justify="right")
        for key, value in outcome.rows.items():
            table.add_row(key, f"{value:,}")
        console.print(table)
    console.print(
        f"feeds in {relative(run)}/feeds/ ({outcome.seconds:.1f} s)",
        highlight=False,
        soft_wrap=True,
    )


def ingest_json(r: IngestSummary) -> dict[str, Any]:
    """One bureau's ingestion as JSON: counts, and every file or entry not loaded."""
    return {
        "files_loaded": r.files_loaded,
        "files_skipped": r.files_skipped,
        "files_failed": [{"file": f, "reason": why} for f, why in r.failed],
        "ignored": [{"path": path, "reason": why} for path, why in r.ignored],
        "rows_read": r.rows_read,
        "rows_loaded": r.rows_loaded,
        "rows_rejected": r.rows_rejected,
        "by_rule": dict(sorted(r.by_rule.items())),
    }


def print_ingest_warnings(reports: Sequence[IngestSummary]) -> None:
    """One line on stderr per file of which nothing loaded, and per entry not loaded.

    Parameters
    ----------
    reports
        The bureaus' ingestion summaries.
    """
    for r in reports:
        lines = [f"{file}: {why} (nothing of it loaded)" for file, why in r.failed]
        lines += [f"{path}: {why}" for path, why in r.ignored]
        for line in lines:
            err_console.print(
                f"warning: {r.bureau}: {line}", markup=False, highlight=False, soft_wrap=True
            )


@handle_errors
def ingest(
    run: RunArg,
    bureau: BureauOption = None,
    db: DbOption = None,
    workers: Workers = DEFAULT_WORKERS,
    scheduler: Scheduler = None,
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Load each bureau's feeds into its own credit files (loaded files are skipped)."""
    with progress_bars(quiet or as_json) as progress:
        result = run_stages(
            run, stages=["ingest"], workers=workers, progress=progress, db_url=db, bureaus=bureau
        )
    reports = ingest_summaries(result)
    print_ingest_warnings(reports)
    outcome = result.outcome("ingest")
    if as_json:
        print_json(
            {
                "run": relative(run),
                "seconds": outcome.seconds,
                "bureaus": {r.bureau: ingest_json(r) for r in reports},
            }
        )
        return
    if not quiet:
        table = Table(title="ingestion")
        for column in (
            "bureau",
            "files",
            "skipped",
            "failed",
            "rows read",
            "loaded",
            "rejected",
            "by rule",
        ):
            table.add_column(column, justify="left" if column in ("bureau", "by rule") else "right")
        for r in reports:
            rules = ", ".join(f"{rule} {n:,}" for rule, n in sorted(r.by_rule.items()))
            table.add_row(
                r.bureau,
                f"{r.files_loaded:,}",
                f"{r.files_skipped:,}",
                f"{len(r.failed):,}",
                f"{r.rows_read:,}",
                f"{r.rows_loaded:,}",
                f"{r.rows_rejected:,}",
                rules or "-",
            )
        console.print(table)
    console.print(f"credit files loaded ({outcome.seconds:.1f} s)", highlight=False)
