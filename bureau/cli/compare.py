"""``bureau compare``: every bureau and the consensus side by side, against the truth."""

from __future__ import annotations

import json

from rich.table import Table

from bureau.analysis.compare import TABLES
from bureau.analysis.html_report import INDEX
from bureau.cli.common import (
    AsJson,
    Quiet,
    Scheduler,
    Workers,
    cell_text,
    console,
    handle_errors,
    print_json,
    progress_bars,
    relative,
)
from bureau.cli.stages import DEFAULT_WORKERS, DbOption, RunArg, stage_command
from bureau.errors import RunDirectoryError
from bureau.layout import RunLayout
from bureau.pipeline.outputs import write_html_report

# The summary's columns: title, field of the comparison table, format.
_COLUMNS = (
    ("bureau", "bureau", "{}"),
    ("scored", "coverage", "{:.1%}"),
    ("thin", "thin_file", "{:.1%}"),
    ("invisible", "invisible", "{:.1%}"),
    ("AUC", "truth_auc", "{:.3f}"),
    ("KS", "truth_ks", "{:.3f}"),
    ("Brier", "truth_brier", "{:.3f}"),
    ("AUC seen", "observed_auc", "{:.3f}"),
)


@handle_errors
def compare(
    run: RunArg,
    db: DbOption = None,
    workers: Workers = DEFAULT_WORKERS,
    scheduler: Scheduler = None,
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Compare the bureaus and the consensus: coverage, accuracy, agreement, fairness, HTML."""
    with progress_bars(quiet or as_json) as progress:
        outcome = stage_command(run, "compare", workers=workers, progress=progress, db_url=db)
    tables = {}
    for name in TABLES:
        path = RunLayout(run).report_file(name, "json")
        if not path.exists():
            raise RunDirectoryError("missing: run bureau compare on a complete run", path=path)
        tables[name] = json.loads(path.read_text(encoding="utf-8"))
    page = RunLayout(run).report / INDEX
    if not page.exists():
        # Compared by a version that wrote no HTML report: make it from the tables.
        page = write_html_report(run, workers=workers)
    if as_json:
        print_json(
            {
                "run": relative(run),
                "skipped": outcome.skipped,
                "seconds": outcome.seconds,
                "html": relative(page),
                **tables,
            }
        )
        return
    if not quiet:
        shown = Table(
            title="at the evaluation snapshot: shares of adults scored, with a thin file and "
            "invisible; AUC, KS and Brier against the truth; AUC against the defaults each "
            "bureau saw"
        )
        shown.add_column("bureau", no_wrap=True, min_width=len("zhongzhicheng"))
        for title, _, _ in _COLUMNS[1:]:
            # Headers whole; the last one wraps when the terminal is narrow.
            shown.add_column(title, justify="right", min_width=len(title.split()[-1]))
        for row in tables["comparison"]:
            shown.add_row(*(cell_text(row.get(key), form) for _, key, form in _COLUMNS))
        console.print(shown)
        spread = tables["score_spread"]
        if spread:
            overall = spread[0]
            console.print(
                f"persons scored by {overall['scored_by']} bureaus: {overall['persons']:,}; "
                f"median score range {cell_text(overall['median_range'], '{:.0f}')} points on the "
                f"common 300-850 scale, {cell_text(overall['share_range_100'], '{:.0%}')} "
                "100 points or more apart",
                highlight=False,
                soft_wrap=True,
            )
    state = "already compared; nothing to do" if outcome.skipped else "compared"
    console.print(
        f"{state}; tables in {relative(run)}/report/ ({', '.join(TABLES)}; CSV, Parquet and "
        f"JSON) ({outcome.seconds:.1f} s)",
        highlight=False,
        soft_wrap=True,
    )
    console.print(f"HTML report: {relative(page)}", highlight=False, soft_wrap=True)
