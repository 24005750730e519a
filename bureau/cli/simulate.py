"""``bureau simulate`` and ``bureau run``: build a run directory from a scenario."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from bureau.cli.common import (
    AsJson,
    Force,
    LinkageBackend,
    Quiet,
    Scheduler,
    Seed,
    Settings,
    Workers,
    console,
    default_workers,
    handle_errors,
    print_json,
    progress_bars,
    relative,
    scenario_from_cli,
)
from bureau.cli.stages import DbOption, ingest_summaries, print_ingest_warnings
from bureau.layout import RunLayout
from bureau.pipeline import RunResult, run_stages

DEFAULT_WORKERS = default_workers()

ScenarioArg = Annotated[
    str, typer.Argument(help="A scenario TOML file, or a bundled one: small, baseline, large.")
]


def _render(result: RunResult, as_json: bool, quiet: bool) -> None:
    where = relative(result.path)
    print_ingest_warnings(ingest_summaries(result))
    if as_json:
        print_json(
            {
                "run": where,
                "scenario": result.scenario.name,
                "seed": result.scenario.seed,
                "stages": {
                    s.name: {"seconds": s.seconds, "rows": s.rows, "skipped": s.skipped}
                    for s in result.stages
                },
            }
        )
        return
    if not quiet:
        table = Table(title=f"{result.scenario.name} (seed {result.scenario.seed})")
        table.add_column("stage")
        table.add_column("table")
        table.add_column("rows", justify="right")
        for stage in result.stages:
            for i, (name, rows) in enumerate(stage.rows.items()):
                table.add_row(stage.name if i == 0 else "", name, f"{rows:,}")
        console.print(table)
        for stage in result.stages:
            # A stage finished by an earlier run of the same inputs was not run again.
            earlier = " (done earlier, not run again)" if stage.skipped else ""
            console.print(f"{stage.name}: {stage.seconds:.1f} s{earlier}")
    if result.stages and all(stage.skipped for stage in result.stages):
        console.print("already complete from the same inputs: nothing to do")
    headline = _headline(result.path)
    if headline:
        console.print(headline, markup=False, highlight=False, soft_wrap=True)
    console.print(f"results in {where}/", markup=False, highlight=False, soft_wrap=True)


def _headline(run: Path) -> str | None:
    """One line on what the aggregator gained, when the run got that far."""
    layout = RunLayout(run)
    linkage, consensus = (
        layout.report_file("linkage", "csv"),
        layout.report_file("consensus", "csv"),
    )
    if not (linkage.exists() and consensus.exists()):
        return None
    links = pd.read_csv(linkage).set_index("method")
    auc = pd.read_csv(consensus).set_index("view")["auc"]
    if not {"splink", "exact"} <= set(links.index) or "aggregator" not in auc.index:
        return None
    bureaus = auc.drop(index="aggregator").dropna()
    best = f", best single bureau {bureaus.max():.3f} ({bureaus.idxmax()})" if len(bureaus) else ""
    return (
        f"aggregator: {int(links.loc['splink', 'files']):,} files linked into "
        f"{int(links.loc['splink', 'keys']):,} persons (F1 {links.loc['splink', 'f1']:.4f}, "
        f"exact ID {links.loc['exact', 'f1']:.4f}); out-of-time AUC against the truth of the "
        f"consensus {auc['aggregator']:.3f}{best}"
    )


@handle_errors
def simulate(
    scenario: ScenarioArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="The run directory to create.")],
    seed: Seed = None,
    workers: Workers = DEFAULT_WORKERS,
    scheduler: Scheduler = None,
    settings: Settings = None,
    force: Force = False,
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Generate the synthetic world (the ground truth) of a scenario into a run directory."""
    _build(scenario, out, seed, workers, settings, force, quiet, as_json, stages=["world"])


@handle_errors
def run(
    scenario: ScenarioArg,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="The run directory to create [default: runs/NAME]."),
    ] = None,
    seed: Seed = None,
    workers: Workers = DEFAULT_WORKERS,
    scheduler: Scheduler = None,
    linkage_backend: LinkageBackend = None,
    settings: Settings = None,
    force: Force = False,
    db: DbOption = None,
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Run the whole chain of a scenario into a run directory."""
    _build(scenario, out, seed, workers, settings, force, quiet, as_json, stages=None, db=db)


def _build(
    source: str,
    out: Path | None,
    seed: int | None,
    workers: int,
    settings: list[str] | None,
    force: bool,
    quiet: bool,
    as_json: bool,
    stages: list[str] | None,
    db: str | None = None,
) -> None:
    scn = scenario_from_cli(source, seed, settings)
    target = out if out is not None else Path("runs") / scn.name
    with progress_bars(quiet or as_json) as progress:
        result = run_stages(
            target, scn, stages=stages, workers=workers, force=force, progress=progress, db_url=db
        )
    _render(result, as_json, quiet)
