"""The chain of stages of one run, from the scenario to the run directory.

For now the chain holds one stage, the world; each later stage (furnishing, ingestion, scoring,
reconciliation, comparison) joins :data:`STAGES` in order.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bureau import __version__
from bureau.config.loader import load_scenario, scenario_to_toml
from bureau.config.scenario import Scenario
from bureau.rundir import RESOLVED_SCENARIO, staged_directory, write_manifest
from bureau.world import write_world

StageProgress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class StageReport:
    """What one stage did: its wall time and the rows it wrote per table."""

    name: str
    seconds: float
    rows: dict[str, int]


@dataclass(frozen=True)
class RunResult:
    """A finished run: where it is and what each stage did."""

    path: Path
    scenario: Scenario
    stages: list[StageReport] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)


def _world_stage(
    scenario: Scenario, root: Path, workers: int, progress: StageProgress | None
) -> dict[str, int]:
    def report(done: int, total: int) -> None:
        if progress:
            progress("world", done, total)

    return write_world(scenario, root / "world", workers=workers, progress=report)


STAGES: dict[str, Callable[[Scenario, Path, int, StageProgress | None], dict[str, int]]] = {
    "world": _world_stage,
}


def execute(
    scenario: Scenario,
    out: str | Path,
    *,
    stages: list[str] | None = None,
    workers: int = 1,
    force: bool = False,
    progress: StageProgress | None = None,
) -> RunResult:
    """Run stages of the chain into a new run directory.

    Parameters
    ----------
    scenario
        The scenario.
    out
        The run directory to create (``runs/NAME``).
    stages
        Names of the stages to run, in chain order; all of them when None.
    workers
        Worker processes for chunked stages; outputs are identical for any number.
    force
        Replace an existing run directory.
    progress
        Called as ``progress(stage, done, total)``.

    Returns
    -------
    RunResult
        The run directory and per-stage reports.

    Raises
    ------
    RunDirectoryError
        If ``out`` exists and ``force`` is False.
    """
    out = Path(out)
    chosen = list(STAGES) if stages is None else [s for s in STAGES if s in stages]
    resolved = scenario_to_toml(scenario)
    reports: list[StageReport] = []
    with staged_directory(out, force=force) as root:
        (root / RESOLVED_SCENARIO).write_text(resolved, encoding="utf-8")
        for name in chosen:
            started = time.perf_counter()
            rows = STAGES[name](scenario, root, workers, progress)
            reports.append(StageReport(name, round(time.perf_counter() - started, 3), rows))
        header = {
            "package": "bureau",
            "version": __version__,
            "scenario": scenario.name,
            "seed": scenario.seed,
            "scenario_sha256": hashlib.sha256(resolved.encode("utf-8")).hexdigest(),
            "workers": workers,
        }
        manifest = write_manifest(
            root, header, {r.name: {"seconds": r.seconds, "rows": r.rows} for r in reports}
        )
    return RunResult(path=out, scenario=scenario, stages=reports, manifest=manifest)


def run(
    scenario: Scenario | str | Path,
    out: str | Path | None = None,
    *,
    workers: int = 1,
    force: bool = False,
    progress: StageProgress | None = None,
) -> RunResult:
    """Run the whole chain for a scenario into ``out`` (default ``runs/<scenario name>``).

    Parameters
    ----------
    scenario
        A :class:`Scenario`, a path to a TOML file, or a bundled scenario's name.
    out
        The run directory to create.
    workers
        Worker processes; outputs are identical for any number.
    force
        Replace an existing run directory.
    progress
        Called as ``progress(stage, done, total)``.

    Returns
    -------
    RunResult
        The run directory and per-stage reports.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    target = Path("runs") / scenario.name if out is None else Path(out)
    return execute(scenario, target, workers=workers, force=force, progress=progress)
