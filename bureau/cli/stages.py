"""``bureau furnish`` and ``bureau ingest``: run one stage on an existing run directory."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from bureau.bureaus import IngestReport
from bureau.cli.common import (
    AsJson,
    Quiet,
    Workers,
    console,
    default_workers,
    err_console,
    handle_errors,
    print_json,
    progress_bars,
    relative,
)
from bureau.pipeline import run_stage

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


@handle_errors
def furnish(
    run: RunArg, workers: Workers = DEFAULT_WORKERS, quiet: Quiet = False, as_json: AsJson = False
) -> None:
    """Write every bureau's feed files from the world of a run."""
    with progress_bars(quiet or as_json) as progress:
        report = run_stage(run, "furnish", workers=workers, progress=progress)
    if as_json:
        print_json(
            {
                "run": relative(run),
                "skipped": report.skipped,
                "seconds": report.seconds,
                "records": report.rows,
            }
        )
        return
    if report.skipped:
        console.print(
            f"feeds already written in {relative(run)}/feeds/; nothing to do", highlight=False
        )
        return
    if not quiet:
        table = Table(title="records furnished")
        table.add_column("record type")
        table.add_column("records", justify="right")
        for key, value in report.rows.items():
            table.add_row(key, f"{value:,}")
        console.print(table)
    console.print(
        f"feeds in {relative(run)}/feeds/ ({report.seconds:.1f} s)", highlight=False, soft_wrap=True
    )


def ingest_json(r: IngestReport) -> dict[str, Any]:
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


def print_ingest_warnings(reports: Sequence[IngestReport]) -> None:
    """One line on stderr per file of which nothing loaded, and per entry not loaded.

    Parameters
    ----------
    reports
        The bureaus' ingestion reports.
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
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Load each bureau's feeds into its own credit files (loaded files are skipped)."""
    with progress_bars(quiet or as_json) as progress:
        report = run_stage(
            run, "ingest", workers=workers, progress=progress, db_url=db, bureaus=bureau
        )
    reports = report.detail or []
    print_ingest_warnings(reports)
    if as_json:
        print_json(
            {
                "run": relative(run),
                "seconds": report.seconds,
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
    console.print(f"credit files loaded ({report.seconds:.1f} s)", highlight=False)
