"""``bureau sweep``: a grid of scenario settings, each run with several seeds, summarised."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from bureau.cli.common import (
    AsJson,
    Quiet,
    Scheduler,
    Workers,
    console,
    default_workers,
    handle_errors,
    print_json,
    progress_bars,
    relative,
)
from bureau.cli.simulate import ScenarioArg
from bureau.config import load_scenario
from bureau.experiments import sweep as experiment
from bureau.experiments.cells import parse_settings
from bureau.pipeline.outputs import records_json

DEFAULT_WORKERS = default_workers()

SweepSettings = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="A scenario key and the values to sweep, e.g. --set sharing=siloed,shared "
        "(repeatable: the grid is every combination).",
    ),
]
Seeds = Annotated[int, typer.Option("--seeds", min=1, help="Runs per cell, one seed each.")]
Until = Annotated[
    str | None,
    typer.Option(
        "--until",
        help="Run each cell only up to this stage, e.g. --until market for the market's "
        "figures without the aggregator's stages.",
    ),
]
SweepOut = Annotated[
    Path, typer.Option("--out", "-o", help="The sweep directory (created or resumed).")
]


def _interval(row: pd.Series) -> str:
    if math.isnan(row["mean"]):
        return "-"
    if math.isnan(row["ci_low"]):
        return f"{row['mean']:.3f}"
    return f"{row['mean']:.3f} ± {(row['ci_high'] - row['ci_low']) / 2:.3f}"


def _summary_table(table: pd.DataFrame, seeds: int) -> Table:
    """The bureaus' AUC per cell or, for a sweep of the market alone, its lending figures."""
    auc = table[table["metric"] == "truth_auc"]
    if auc.empty:
        shown_rows = table[table["view"] == "lending"]
        title = f"Lending after the market opens: mean across {seeds} seed(s) ± 95% CI"
        column = "metric"
    else:
        shown_rows = auc
        title = f"AUC against the true default: mean across {seeds} seed(s) ± 95% CI"
        column = "view"
    shown = Table(title=title)
    shown.add_column("cell", no_wrap=True)
    columns = list(dict.fromkeys(shown_rows[column]))
    for name in columns:
        shown.add_column(name, justify="right")
    by_cell = shown_rows.set_index(["cell", column])
    for cell in dict.fromkeys(shown_rows["cell"]):
        cells = [
            _interval(by_cell.loc[(cell, name)]) if (cell, name) in by_cell.index else "-"
            for name in columns
        ]
        shown.add_row(cell, *cells)
    return shown


@handle_errors
def sweep(
    scenario: ScenarioArg,
    out: SweepOut,
    settings: SweepSettings = None,
    seeds: Seeds = 1,
    until: Until = None,
    workers: Workers = DEFAULT_WORKERS,
    scheduler: Scheduler = None,
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Run a grid of settings with several seeds each; summarise with 95% intervals."""
    grid = parse_settings(settings or [])
    scn = load_scenario(scenario)
    with progress_bars(quiet or as_json) as progress:
        table = experiment.sweep(
            scn, grid, seeds, out, workers=workers, until=until, progress=progress
        )
    runs = table.attrs.get("runs", [])
    done_before = sum(run.skipped for run in runs)
    if as_json:
        print_json(
            {
                "sweep": relative(out),
                "runs": [
                    {
                        "cell": run.cell,
                        "seed": run.seed,
                        "run": relative(run.path),
                        "skipped": run.skipped,
                        "seconds": run.seconds,
                    }
                    for run in runs
                ],
                "summary": json.loads(records_json(table)),
            }
        )
        return
    if not quiet:
        console.print(_summary_table(table, seeds))
    console.print(
        f"{len(runs)} runs ({done_before} already done from the same inputs); summary in "
        f"{relative(out)}/{experiment.SUMMARY}.{{parquet,csv,json}}, figure "
        f"{relative(out)}/{experiment.SUMMARY}.png",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
