"""``bureau calibrate``: fit scenario keys to published figures (Optuna; SALib screening)."""

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
from bureau.experiments import calibrate as experiment
from bureau.pipeline.outputs import records_json

DEFAULT_WORKERS = default_workers()

TargetsFile = Annotated[
    Path,
    typer.Option(
        "--targets", help="A TOML file of named statistics with their values and tolerances."
    ),
]
ParamsFile = Annotated[
    Path,
    typer.Option("--params", help="A TOML file of the scenario keys to fit and their bounds."),
]
Trials = Annotated[
    int,
    typer.Option(
        "--trials",
        min=1,
        help="Trials in all, those of an earlier, interrupted calibration included.",
    ),
]
Seeds = Annotated[int, typer.Option("--seeds", min=1, help="Runs per trial, one seed each.")]
Screen = Annotated[
    bool,
    typer.Option(
        "--screen", help="First run a Morris screening: which keys move which statistics."
    ),
]
Trajectories = Annotated[
    int, typer.Option("--trajectories", min=2, help="The screening's Morris trajectories.")
]
CalibrationOut = Annotated[
    Path, typer.Option("--out", "-o", help="The output directory (created or resumed).")
]


def _fit_table(fit: pd.DataFrame, seeds: int) -> Table:
    shown = Table(title=f"Fit of the best trial: mean across {seeds} seed(s), 95% CI")
    for name in ("target", "statistic", "value", "tolerance", "mean", "95% CI", "within"):
        shown.add_column(name, justify="left" if name in ("target", "statistic") else "right")
    for row in fit.itertuples():
        interval = "-" if math.isnan(row.ci_low) else f"{row.ci_low:.4g} - {row.ci_high:.4g}"
        shown.add_row(
            row.target,
            f"{row.aggregate} {row.statistic}",
            f"{row.value:.4g}",
            f"{row.tolerance:.4g}",
            f"{row.mean:.4g}",
            interval,
            "yes" if row.within else "no",
        )
    return shown


def _screening_table(screening: pd.DataFrame) -> Table:
    shown = Table(title="Morris screening: mu* in tolerances (sigma)")
    shown.add_column("parameter")
    targets = list(dict.fromkeys(screening["target"]))
    for name in targets:
        shown.add_column(name, justify="right")
    by = screening.set_index(["parameter", "target"])
    for parameter in dict.fromkeys(screening["parameter"]):
        cells = []
        for name in targets:
            row = by.loc[(parameter, name)]
            cells.append(f"{row['mu_star_tolerances']:.2f} ({row['sigma_tolerances']:.2f})")
        shown.add_row(parameter, *cells)
    return shown


@handle_errors
def calibrate(
    scenario: ScenarioArg,
    targets: TargetsFile,
    params: ParamsFile,
    out: CalibrationOut,
    trials: Trials = 20,
    seeds: Seeds = 3,
    screen: Screen = False,
    trajectories: Trajectories = 4,
    workers: Workers = DEFAULT_WORKERS,
    scheduler: Scheduler = None,
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Fit scenario keys so that runs come closest to published figures (Optuna, SALib)."""
    with progress_bars(quiet or as_json) as progress:
        found = experiment.calibrate(
            scenario,
            targets,
            params,
            out,
            trials=trials,
            seeds=seeds,
            workers=workers,
            screen=screen,
            trajectories=trajectories,
            progress=progress,
        )
    if as_json:
        print_json(
            {
                "out": relative(found.out),
                "best": found.best,
                "fit": json.loads(records_json(found.fit)),
                "trials": len(found.trials),
                "screening": None
                if found.screening is None
                else json.loads(records_json(found.screening)),
            }
        )
        return
    if not quiet:
        if found.screening is not None:
            console.print(_screening_table(found.screening))
        console.print(_fit_table(found.fit, seeds))
    within = int(found.fit["within"].sum())
    console.print(
        f"{within} of {len(found.fit)} targets within tolerance after {len(found.trials)} "
        f"trials; calibrated scenario {relative(found.out)}/calibrated.toml, fit, trials and "
        f"figure in {relative(found.out)}/",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
