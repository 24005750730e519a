"""A sweep: a grid of scenario settings, each cell run with several seeds, summarised.

Every cell of the grid (the cartesian product of the values given per key) is run once per
seed, each a whole run through the compare stage into ``OUT/cells/<cell>/seed-<k>/`` with the
scenario's seed plus ``k``. The runs are spread over worker processes, one run per worker and
each run with one worker of its own, so every run, and so the summary, is the same whatever
the number of workers. A run already finished from the same inputs is kept as it is, so a
sweep interrupted or extended (another value, more seeds) runs only what is missing.

The summary, ``OUT/sweep.{parquet,csv,json}``, has one row per cell, view and metric: every
numeric column of each run's ``comparison`` table per bureau and for the aggregator, plus the
pairwise F1 of both linkage methods (``report/linkage``) and the share of the world's persons
the aggregator holds a file on (``report/coverage_accuracy``), as the mean across seeds with
a 95% Student t confidence interval. ``OUT/sweep.png`` draws the AUC against the truth and the
coverage per cell.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bureau.config import load_scenario, scenario_to_dict
from bureau.config.scenario import Scenario
from bureau.experiments.cells import SweepError, grid, label
from bureau.experiments.figure import sweep_figure
from bureau.experiments.metrics import run_metrics, summarise
from bureau.parallel import map_chunks
from bureau.pipeline.outputs import records_json
from bureau.pipeline.runner import run_stages
from bureau.pipeline.stages import STAGES
from bureau.rundir import write_bytes_atomic, write_text_atomic
from bureau.store.parquet import write_table

logger = logging.getLogger(__name__)

#: The summary's file name, without suffix, in the sweep directory.
SUMMARY = "sweep"
#: Where the runs go inside the sweep directory.
CELLS = "cells"
#: The summary's columns after the cell's settings.
SUMMARY_COLUMNS = ("view", "metric", "seeds", "mean", "std", "ci_low", "ci_high")

SweepProgress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class CellRun:
    """One run of a cell with one seed: where it is and whether it was already done."""

    cell: str
    seed: int
    path: Path
    skipped: bool
    seconds: float


@dataclass(frozen=True)
class _Job:
    cell: str
    seed: int
    scenario: Scenario
    path: Path
    until: str | None


def _run_job(job: _Job) -> tuple[CellRun, pd.DataFrame]:
    """Run one cell with one seed (a worker-process entry point) and read its metrics."""
    # force: a run left by other inputs (other code, say) is made again; one from the same
    # inputs is kept as it is and an unfinished one resumed, which the runner does by itself.
    stages = None if job.until is None else [job.until]
    result = run_stages(job.path, job.scenario, stages=stages, workers=1, force=True)
    skipped = bool(result.stages) and all(stage.skipped for stage in result.stages)
    seconds = 0.0 if skipped else sum(stage.seconds for stage in result.stages)
    run = CellRun(job.cell, job.seed, job.path, skipped, round(seconds, 3))
    return run, run_metrics(job.path)


def sweep(
    scenario: Scenario | str | Path,
    settings: Mapping[str, Sequence[Any]],
    seeds: int,
    out: str | Path,
    workers: int = 1,
    *,
    until: str | None = None,
    progress: SweepProgress | None = None,
) -> pd.DataFrame:
    """Run a grid of settings with several seeds each and summarise it with intervals.

    Parameters
    ----------
    scenario
        A :class:`~bureau.Scenario`, a TOML file or a bundled scenario's name.
    settings
        Values per dotted scenario key, e.g. ``{"sharing": ["siloed", "shared"]}``; the grid
        is their cartesian product. Text values are read as the type the scenario holds at
        that key (``"2000"`` for an integer key is 2000).
    seeds
        Runs per cell, with the scenario's seed plus 0, 1, ..., ``seeds - 1``.
    out
        The sweep directory: runs in ``cells/<cell>/seed-<k>/``, the summary in
        ``sweep.{parquet,csv,json}`` and the figure in ``sweep.png``.
    workers
        Runs at a time, each in its own worker process with one worker of its own: the runs
        and the summary are the same bytes whatever this is.
    until
        Run each cell only up to this stage (with what it requires): ``market`` measures the
        market without the aggregator's stages, at a fraction of the cost; every stage when
        None. The metrics are those of the stages run.
    progress
        Called as ``progress("sweep", runs_done, runs)``.

    Returns
    -------
    pandas.DataFrame
        One row per cell, view (each bureau and ``aggregator``) and metric: ``cell``, one
        column per key of ``settings``, ``view``, ``metric``, ``seeds`` (how many runs gave a
        value), ``mean``, ``std``, and ``ci_low``, ``ci_high``: the 95% Student t interval
        of the mean across seeds. With one seed (or one seed giving a value, as for a bureau
        trained in only one run) the interval is NaN. ``attrs["runs"]`` lists every run
        (:class:`CellRun`), with ``skipped`` set where it was already done.

    Raises
    ------
    SweepError
        If ``seeds`` is below 1, a key has no values or a value that is not of its type.
    bureau.ScenarioError
        If a key is unknown or a value out of range; nothing has run then.
    """
    if seeds < 1:
        raise SweepError(f"at least one seed is needed, got {seeds}", field="seeds")
    if until is not None and until not in STAGES:
        raise SweepError(f"no stage {until!r} (stages: {', '.join(STAGES)})", field="until")
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    # Absolute: a run may be done by a Dask worker with another working directory.
    out = Path(out).absolute()
    cells = grid(scenario, settings)
    jobs = [
        _Job(
            cell.id,
            scn.seed + k,
            load_scenario(scenario_to_dict(scn), {"seed": scn.seed + k}),
            out / CELLS / cell.id / f"seed-{k}",
            until,
        )
        for cell, scn in cells
        for k in range(seeds)
    ]
    out.mkdir(parents=True, exist_ok=True)
    runs: list[CellRun] = []
    parts: list[pd.DataFrame] = []
    for done, (run, metrics) in enumerate(
        map_chunks(_run_job, jobs, workers=workers, fresh=True), 1
    ):
        runs.append(run)
        parts.append(metrics.assign(cell=run.cell, seed=run.seed))
        logger.info("%s seed %d: %s", run.cell, run.seed, "already done" if run.skipped else "done")
        if progress is not None:
            progress("sweep", done, len(jobs))
    table = summarise(pd.concat(parts, ignore_index=True))
    keys = pd.DataFrame(
        [{key: _column_value(value) for key, value in cell.settings.items()} for cell, _ in cells],
        index=pd.Index([cell.id for cell, _ in cells], name="cell"),
    )
    table = table.join(keys, on="cell")[["cell", *keys.columns, *SUMMARY_COLUMNS]]
    _write(out, table)
    table.attrs["runs"] = runs
    return table


def _column_value(value: Any) -> Any:
    """A setting as it goes into a column: scalars as they are, arrays and tables as text."""
    return value if isinstance(value, str | int | float | bool) else label(value)


def _write(out: Path, table: pd.DataFrame) -> None:
    """Write the summary (Parquet, CSV, JSON) and its figure, each file whole or not at all."""
    write_table(table, out / f"{SUMMARY}.parquet")
    write_text_atomic(out / f"{SUMMARY}.csv", table.to_csv(index=False))
    write_text_atomic(out / f"{SUMMARY}.json", records_json(table))
    write_bytes_atomic(out / f"{SUMMARY}.png", sweep_figure(table))
