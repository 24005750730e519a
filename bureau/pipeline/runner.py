"""The runner: any set of stages, in dependency order, into a run directory.

Asked for some stages, the runner visits them and every stage they require, in chain order.
A stage that is done for the same inputs is skipped; a missing prerequisite is run first,
whichever stage was asked for; a stage that changes what others were made from makes those
others not done. Each stage's wall time and rows go into the manifest.

A new run is built in a staging directory and renamed into place when every stage asked for
has run; one whose process died goes on from the stages it had finished. A run keyed by the
same inputs (the resolved scenario, the database and the code) that already exists is carried
on in place: the stages it has are skipped, the others are run in it. Run on an existing run
directory without a scenario, the runner uses the run's own, whatever code made it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bureau.config.loader import load_scenario, scenario_to_toml
from bureau.config.scenario import Scenario
from bureau.errors import BureauError, RunDirectoryError
from bureau.layout import RunLayout
from bureau.parallel import one_thread
from bureau.pipeline.contract import Stage, StageContext, StageProgress, StageResult, Window
from bureau.pipeline.inputs import check_database, run_inputs, safe_url, server_run
from bureau.pipeline.ledger import Ledger, entry_of, left_to_do, loaded_bureaus
from bureau.pipeline.stages import STAGES
from bureau.run_lock import run_lock
from bureau.rundir import (
    MANIFEST,
    RESOLVED_SCENARIO,
    finished_stages,
    read_manifest,
    remove_temporaries,
    staged_directory,
    write_manifest,
)
from bureau.store.engines import drop_run_schemas
from bureau.version import __version__


@dataclass(frozen=True)
class StageOutcome:
    """What one stage did in a call of the runner.

    Parameters
    ----------
    name
        The stage.
    seconds
        Its wall time (as recorded when it was skipped).
    rows
        Rows it wrote per table (as recorded when it was skipped).
    skipped
        It was done already and was not run.
    result
        What the stage returned, with its typed fields; None when skipped.
    """

    name: str
    seconds: float
    rows: dict[str, int]
    skipped: bool = False
    result: StageResult | None = None


@dataclass(frozen=True)
class RunResult:
    """A call of the runner: the run directory and what each stage visited did.

    Parameters
    ----------
    path
        The run directory.
    scenario
        Its scenario.
    stages
        Every stage visited, in the order visited (prerequisites included).
    manifest
        The manifest as written.
    """

    path: Path
    scenario: Scenario
    stages: list[StageOutcome] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)

    def outcome(self, name: str) -> StageOutcome:
        """What one stage did.

        Parameters
        ----------
        name
            The stage.

        Returns
        -------
        StageOutcome
            Its outcome.

        Raises
        ------
        KeyError
            If the stage was not visited.
        """
        for outcome in self.stages:
            if outcome.name == name:
                return outcome
        raise KeyError(name)


@dataclass(frozen=True)
class _Options:
    """How to run, as given to :func:`run_stages`."""

    workers: int
    progress: StageProgress | None
    db_url: str | None
    bureaus: tuple[str, ...] | None
    method: str | None
    window: Window | None
    registry: Mapping[str, Stage]
    #: Stages of an existing run asked for by name: a resumable one is entered again.
    by_name: bool = False


def plan(targets: list[str], registry: Mapping[str, Stage] | None = None) -> list[str]:
    """The stages to visit for some targets: them and all they require, in chain order.

    Parameters
    ----------
    targets
        Names of the stages asked for.
    registry
        The stages, in chain order (:data:`~bureau.pipeline.stages.STAGES` when None).

    Returns
    -------
    list of str
        Stage names, every stage after the stages it requires.
    """
    registry = STAGES if registry is None else registry
    needed: set[str] = set()
    todo = list(targets)
    while todo:
        name = todo.pop()
        if name not in needed:
            needed.add(name)
            todo.extend(registry[name].requires)
    return [name for name in registry if name in needed]


def dependents(name: str, registry: Mapping[str, Stage] | None = None) -> list[str]:
    """The stages made, directly or not, from what a stage makes.

    Parameters
    ----------
    name
        The stage.
    registry
        The stages (:data:`~bureau.pipeline.stages.STAGES` when None).

    Returns
    -------
    list of str
        Every stage that requires it, or requires one that does, in chain order.
    """
    registry = STAGES if registry is None else registry
    found: set[str] = set()
    for stage in registry.values():
        if name in stage.requires or found & set(stage.requires):
            found.add(stage.name)
    return [n for n in registry if n in found]


def run_stages(
    out: str | Path,
    scenario: Scenario | None = None,
    *,
    stages: list[str] | None = None,
    workers: int = 1,
    force: bool = False,
    progress: StageProgress | None = None,
    db_url: str | None = None,
    bureaus: list[str] | None = None,
    method: str | None = None,
    window: Window | None = None,
    registry: Mapping[str, Stage] | None = None,
) -> RunResult:
    """Run stages, with every stage they require that is not done, into a run directory.

    Parameters
    ----------
    out
        The run directory.
    scenario
        The scenario to run. None runs stages of the existing run ``out``, with the scenario
        it was made from. Given, ``out`` is made new, unless it is a run of the same inputs
        (scenario, database, code), which is carried on in place.
    stages
        The stages asked for (every stage when None); the stages they require are run first
        when they are not done.
    workers
        Worker processes for chunked stages; outputs are identical for any number.
    force
        Replace ``out`` when it is a run made from other inputs.
    progress
        Called as ``progress(stage, done, total)``.
    db_url
        A database server URL for the credit files and the aggregator; SQLite files in
        ``out/db/`` when None. Once credit files are loaded, the run's own.
    bureaus
        For the stages that run per bureau (ingestion, training): only these bureaus.
    method
        For reconciliation: the linkage method (the scenario's when None).
    window
        For the stages that run over a window of months: the window (the whole run when None).
    registry
        The stages, in chain order (:data:`~bureau.pipeline.stages.STAGES` when None): a
        study adds a stage of its own by running with ``{**STAGES, "mine": Stage(...)}``.

    Returns
    -------
    RunResult
        The run directory and what each stage visited did (``skipped`` for those done).

    Raises
    ------
    RunDirectoryError
        If ``out`` is not a run directory (without a scenario), or was made from other
        inputs and ``force`` is False, or is locked by another command.
    BureauError
        If a stage or bureau asked for does not exist, or ``db_url`` is not the run's database.
    """
    # Absolute, as every path a job is given: see RunLayout.
    out = Path(out).absolute()
    registry = STAGES if registry is None else registry
    targets = _targets(stages, registry)
    chosen = tuple(bureaus) if bureaus is not None else None
    opts = _Options(workers, progress, db_url, chosen, method, window, registry)
    if scenario is None:
        read_manifest(out)
        with run_lock(out):
            # Read again once held: the command that held it before may have changed it.
            scenario = load_scenario(out / RESOLVED_SCENARIO)
            return _in_place(out, scenario, targets, replace(opts, by_name=True))
    resolved = scenario_to_toml(scenario)
    inputs = run_inputs(resolved, db_url)
    try:
        out.absolute().parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirectoryError(
            f"cannot create a run directory here: {exc.strerror}", path=out
        ) from None
    with run_lock(out):
        if (out / MANIFEST).is_file() and read_manifest(out).get("inputs") == inputs:
            return _in_place(out, scenario, targets, opts)
        if (out / MANIFEST).is_file() and not force:
            raise RunDirectoryError(
                "already exists, made from other inputs (scenario, database or code); "
                "replace it with --force (force=True)",
                path=out,
            )
        return _build(out, scenario, resolved, inputs, targets, opts, force)


def _targets(stages: list[str] | None, registry: Mapping[str, Stage]) -> list[str]:
    """The stages asked for, checked."""
    if stages is None:
        return list(registry)
    unknown = sorted(set(stages) - set(registry))
    if unknown:
        raise BureauError(
            f"no stage {', '.join(unknown)} (stages: {', '.join(registry)})", field="stages"
        )
    return [name for name in registry if name in stages]


def _in_place(root: Path, scenario: Scenario, targets: list[str], opts: _Options) -> RunResult:
    """Run stages in an existing run directory, which is held."""
    manifest = read_manifest(root)
    header = {k: v for k, v in manifest.items() if k not in ("stages", "files")}
    records = dict(manifest.get("stages", {}))
    ledger = Ledger(root, header, records, staged=False, registry=opts.registry)
    layout = RunLayout(root, opts.db_url)
    outcomes = _visit(layout, scenario, ledger, targets, opts)
    if any(not o.skipped for o in outcomes):
        manifest = read_manifest(root)
    return RunResult(path=root, scenario=scenario, stages=outcomes, manifest=manifest)


def _build(
    out: Path,
    scenario: Scenario,
    resolved: str,
    inputs: str,
    targets: list[str],
    opts: _Options,
    force: bool,
) -> RunResult:
    """Build a new run directory, which is held, in a staging directory."""
    replaced = server_run(out, opts.db_url)
    with staged_directory(out, force=force, inputs=inputs) as root:
        (root / RESOLVED_SCENARIO).write_text(resolved, encoding="utf-8")
        header = {
            "package": "bureau",
            "version": __version__,
            "scenario": scenario.name,
            "seed": scenario.seed,
            "scenario_sha256": hashlib.sha256(resolved.encode("utf-8")).hexdigest(),
            "inputs": inputs,
            "workers": opts.workers,
            "database": safe_url(opts.db_url),
        }
        # Finished by an earlier run of the same inputs that died later on.
        ledger = Ledger(root, header, finished_stages(root), staged=True, registry=opts.registry)
        outcomes = _visit(RunLayout(root, opts.db_url), scenario, ledger, targets, opts)
        manifest = write_manifest(root, header, ledger.records)
    if replaced is not None and opts.db_url is not None:
        # The run replaced had its own schemas on this server: nothing uses them any more.
        drop_run_schemas(opts.db_url, replaced)
    return RunResult(path=out, scenario=scenario, stages=outcomes, manifest=manifest)


def _visit(
    layout: RunLayout, scenario: Scenario, ledger: Ledger, targets: list[str], opts: _Options
) -> list[StageOutcome]:
    """Visit the stages the targets need, in chain order: skip what is done, run the rest."""
    unknown = sorted(set(opts.bureaus or ()) - set(scenario.active_bureaus))
    if unknown:
        known = ", ".join(scenario.active_bureaus)
        raise BureauError(
            f"no bureau {', '.join(unknown)} in this run (bureaus: {known})", field="bureaus"
        )
    loaded = loaded_bureaus(ledger.records, opts.registry)
    check_database(
        layout.root, {**ledger.header, "stages": ledger.records}, opts.db_url, loading=not loaded
    )
    base = StageContext(
        scenario,
        layout,
        workers=opts.workers,
        progress=opts.progress,
        method=opts.method,
        window=opts.window,
    )
    outcomes = []
    checked = False
    for name in plan(targets, opts.registry):
        stage = opts.registry[name]
        ctx = base.narrowed(bureaus=opts.bureaus) if stage.per_bureau else base
        record = ledger.records.get(name)
        todo = left_to_do(stage, record, ctx, asked=opts.by_name and name in targets)
        if todo is None:
            outcomes.append(
                StageOutcome(name, float(record.get("seconds", 0.0)), record["rows"], skipped=True)
            )
            continue
        if not checked and not stage.loads_databases:
            # Every credit file loaded is checked before any work: a damaged one stops the
            # run before anything is written for the others.
            for bureau in loaded_bureaus(ledger.records, opts.registry):
                layout.bureau_engine(bureau, create=False).dispose()
            checked = True
        # What a killed earlier run of a stage left aside is not part of the run.
        remove_temporaries(layout.root)
        started = time.perf_counter()
        with one_thread():
            result = stage.run(todo)
        seconds = round(time.perf_counter() - started, 3)
        entry = entry_of(stage, record, todo, result, seconds)
        if stage.loads_databases:
            ledger.header["database"] = safe_url(opts.db_url)
        undone = dependents(name, opts.registry) if result.changed else []
        ledger.record(name, entry, undone)
        outcomes.append(StageOutcome(name, seconds, result.rows, result=result))
    return outcomes
