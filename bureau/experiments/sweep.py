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

import itertools
import json
import logging
import math
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from bureau.config import load_scenario, scenario_to_dict
from bureau.config.scenario import Scenario
from bureau.engine import map_chunks
from bureau.errors import BureauError, ScenarioError
from bureau.experiments.figure import sweep_figure
from bureau.pipeline.chain import execute
from bureau.pipeline.stages import records_json
from bureau.rundir import write_bytes_atomic, write_text_atomic
from bureau.store.parquet import write_table

logger = logging.getLogger(__name__)

#: The summary's file name, without suffix, in the sweep directory.
SUMMARY = "sweep"
#: Where the runs go inside the sweep directory.
CELLS = "cells"
#: The confidence level of the intervals.
CONFIDENCE = 0.95
#: The view that stands for the aggregator in the summary (as in the ``comparison`` table).
AGGREGATOR = "aggregator"
#: The summary's columns after the cell's settings.
SUMMARY_COLUMNS = ("view", "metric", "seeds", "mean", "std", "ci_low", "ci_high")

SweepProgress = Callable[[str, int, int], None]


class SweepError(BureauError):
    """A sweep asked for something impossible: an unknown key, a bad value, no seeds."""


@dataclass(frozen=True)
class Cell:
    """One point of the grid: its directory name and the value of each key."""

    id: str
    settings: dict[str, Any]


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


def split_values(text: str) -> list[str]:
    """Split ``V1,V2,...`` at the commas outside brackets and quotes.

    Parameters
    ----------
    text
        The values as typed after ``KEY=``; an array value such as ``[1, 2]`` stays whole.

    Returns
    -------
    list of str
        The values, stripped; an empty text gives one empty value.
    """
    values, depth, quote, start = [], 0, "", 0
    for i, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            values.append(text[start:i].strip())
            start = i + 1
    values.append(text[start:].strip())
    return values


def parse_settings(assignments: Sequence[str]) -> dict[str, list[str]]:
    """Parse ``KEY=V1,V2`` assignments into the values per key, still as text.

    Parameters
    ----------
    assignments
        The ``--set`` options of ``bureau sweep``.

    Returns
    -------
    dict
        The values per dotted key, in the order given; :func:`sweep` types them.

    Raises
    ------
    SweepError
        If an assignment has no ``=`` or no key, or a key is given twice.
    """
    settings: dict[str, list[str]] = {}
    for assignment in assignments:
        key, sep, raw = assignment.partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")):
            raise SweepError(f"must be KEY=V1,V2,..., got {assignment!r}", field="settings")
        if key in settings:
            raise SweepError(
                "given twice: list all its values in one assignment", field=f"settings {key}"
            )
        settings[key] = split_values(raw)
    return settings


def _lookup(data: Mapping[str, Any], key: str) -> Any:
    """The scenario's value at a dotted key, or None where it has none."""
    node: Any = data
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _typed(key: str, value: Any, current: Any) -> Any:
    """A value given as text read as the type the scenario holds at that key."""
    if not isinstance(value, str) or isinstance(current, str):
        return value
    text = value.strip()
    try:
        if isinstance(current, bool):
            if text.lower() not in ("true", "false"):
                raise ValueError
            return text.lower() == "true"
        if isinstance(current, int):
            return int(text.replace("_", ""))
        if isinstance(current, float):
            return float(text.replace("_", ""))
    except ValueError:
        kind = type(current).__name__
        raise SweepError(f"{value!r} is not a {kind}", field=f"settings {key}") from None
    # Arrays and tables, or a key the scenario leaves unset: read as a TOML value.
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _label(value: Any) -> str:
    """A value as written in a cell's name and the summary."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str | int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def _cell_id(settings: Mapping[str, Any], swept: Sequence[str]) -> str:
    """A directory name that reads as the cell's swept settings."""
    if not swept:
        return "base"
    text = "__".join(f"{key}={_label(settings[key])}" for key in swept)
    return re.sub(r"[^A-Za-z0-9._=+-]", "-", text)


def grid(scenario: Scenario, settings: Mapping[str, Sequence[Any]]) -> list[tuple[Cell, Scenario]]:
    """Every cell of the grid with its scenario, validated.

    Parameters
    ----------
    scenario
        The scenario the settings change.
    settings
        Values per dotted key (``{"sharing": ["siloed", "shared"]}``); values given as text
        are read as the type the scenario holds at that key.

    Returns
    -------
    list of (Cell, Scenario)
        In grid order: the last key varies fastest.

    Raises
    ------
    SweepError
        If a key has no values or a value twice, or a value cannot be read as its key's type.
    bureau.ScenarioError
        If a key is unknown or a value is out of range (the message names the key).
    """
    base = scenario_to_dict(scenario)
    typed: dict[str, list[Any]] = {}
    for key, values in settings.items():
        values = list(values)
        if not values or values == [""]:
            raise SweepError("no values given", field=f"settings {key}")
        current = _lookup(base, key)
        typed[key] = [_typed(key, value, current) for value in values]
        labels = [_label(value) for value in typed[key]]
        if len(set(labels)) < len(labels):
            raise SweepError("a value is given twice", field=f"settings {key}")
    swept = [key for key, values in typed.items() if len(values) > 1]
    cells: list[tuple[Cell, Scenario]] = []
    for combination in itertools.product(*typed.values()):
        chosen = dict(zip(typed, combination, strict=True))
        cell = Cell(_cell_id(chosen, swept), chosen)
        try:
            scn = load_scenario(base, chosen)
        except ScenarioError as exc:
            # The values came in as this function's settings, not as load_scenario's overrides.
            field = exc.field
            if field is not None and field.partition(" ")[0] == "overrides":
                field = "settings" + field.removeprefix("overrides")
            raise ScenarioError(exc.message, path=exc.path, row=exc.row, field=field) from None
        cells.append((cell, scn))
    ids = [cell.id for cell, _ in cells]
    if len(set(ids)) < len(ids):
        raise SweepError(
            "two cells would share a directory name; use plainer values", field="settings"
        )
    return cells


def run_metrics(root: Path) -> pd.DataFrame:
    """The metrics of one finished run, one row per view and metric.

    Parameters
    ----------
    root
        A run directory that has been through the compare stage.

    Returns
    -------
    pandas.DataFrame
        ``view``, ``metric``, ``value``: every numeric column of ``report/comparison`` per
        bureau and for the aggregator, then for the aggregator ``linkage_f1_<method>`` per
        linkage method and ``visible_coverage`` (the share of the world's persons with a file
        at the aggregator).
    """
    report = root / "report"
    comparison = pd.read_parquet(report / "comparison.parquet")
    numeric = list(comparison.select_dtypes(include="number").columns)
    views = comparison["bureau"].to_numpy(dtype=object)
    frame = pd.DataFrame(
        {
            "view": np.repeat(views, len(numeric)),
            "metric": np.tile(np.array(numeric, dtype=object), len(views)),
            "value": comparison[numeric].to_numpy(dtype=float).ravel(),
        }
    )
    linkage = pd.read_parquet(report / "linkage.parquet").sort_values("method")
    coverage = pd.read_parquet(report / "coverage_accuracy.parquet").set_index("view")
    visible = coverage["coverage"].get(AGGREGATOR, math.nan)
    extra = pd.DataFrame(
        {
            "view": AGGREGATOR,
            "metric": [*("linkage_f1_" + linkage["method"].astype(str)), "visible_coverage"],
            "value": [*linkage["f1"].astype(float), float(visible)],
        }
    )
    return pd.concat([frame, extra], ignore_index=True)


def _run_job(job: _Job) -> tuple[CellRun, pd.DataFrame]:
    """Run one cell with one seed (a worker-process entry point) and read its metrics."""
    # force: a run left by other inputs (other code, say) is made again; one from the same
    # inputs is kept as it is and an unfinished one resumed, which execute does by itself.
    result = execute(job.scenario, job.path, workers=1, force=True)
    skipped = bool(result.stages) and all(stage.skipped for stage in result.stages)
    seconds = 0.0 if skipped else sum(stage.seconds for stage in result.stages)
    run = CellRun(job.cell, job.seed, job.path, skipped, round(seconds, 3))
    return run, run_metrics(job.path)


def summarise(values: pd.DataFrame, level: float = CONFIDENCE) -> pd.DataFrame:
    """Mean and Student t confidence interval across seeds, per cell, view and metric.

    Parameters
    ----------
    values
        ``cell``, ``view``, ``metric``, ``value``: one row per seed.
    level
        The confidence level.

    Returns
    -------
    pandas.DataFrame
        ``cell``, ``view``, ``metric``, ``seeds`` (seeds with a value), ``mean``, ``std``
        (sample standard deviation), ``ci_low``, ``ci_high``, in order of first appearance.
        The interval is NaN when fewer than two seeds give a value.
    """
    grouped = values.groupby(["cell", "view", "metric"], sort=False)["value"]
    table = grouped.agg(seeds="count", mean="mean", std="std").reset_index()
    n = table["seeds"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = stats.t.ppf(0.5 + level / 2, np.maximum(n - 1, 1))
        half = np.where(n >= 2, t * table["std"].to_numpy() / np.sqrt(n), np.nan)
    table["ci_low"] = table["mean"] - half
    table["ci_high"] = table["mean"] + half
    return table


def sweep(
    scenario: Scenario | str | Path,
    settings: Mapping[str, Sequence[Any]],
    seeds: int,
    out: str | Path,
    workers: int = 1,
    *,
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
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    out = Path(out)
    cells = grid(scenario, settings)
    jobs = [
        _Job(
            cell.id,
            scn.seed + k,
            load_scenario(scenario_to_dict(scn), {"seed": scn.seed + k}),
            out / CELLS / cell.id / f"seed-{k}",
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
    return value if isinstance(value, str | int | float | bool) else _label(value)


def _write(out: Path, table: pd.DataFrame) -> None:
    """Write the summary (Parquet, CSV, JSON) and its figure, each file whole or not at all."""
    write_table(table, out / f"{SUMMARY}.parquet")
    write_text_atomic(out / f"{SUMMARY}.csv", table.to_csv(index=False))
    write_text_atomic(out / f"{SUMMARY}.json", records_json(table))
    write_bytes_atomic(out / f"{SUMMARY}.png", sweep_figure(table))
