"""The chain of stages of one run, from the scenario to the run directory.

A whole run is built in a staging directory and renamed into place; a single stage can also be
run on an existing run directory, and does nothing when it has already run.

A run is keyed by its inputs: the resolved scenario, the database and the code. Run again on
the same inputs, a finished run is left as it is, and a run whose process died goes on from
the stages it had finished.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bureau import __version__
from bureau.bureaus.ingest import bureau_engine
from bureau.config.loader import load_scenario, scenario_to_toml
from bureau.config.scenario import Scenario
from bureau.engine import one_thread
from bureau.errors import BureauError, RunDirectoryError
from bureau.pipeline.stages import REQUIRES, STAGES, StageContext, StageProgress
from bureau.rundir import (
    MANIFEST,
    RESOLVED_SCENARIO,
    finished_stages,
    read_manifest,
    record_finished,
    remove_temporaries,
    run_lock,
    staged_directory,
    write_manifest,
)
from bureau.store.engines import (
    NOT_A_URL,
    RUN_ID,
    DatabaseError,
    drop_run_schemas,
    run_id,
)


@dataclass(frozen=True)
class StageReport:
    """What one stage did: its wall time and the rows it wrote per table."""

    name: str
    seconds: float
    rows: dict[str, int]
    skipped: bool = False
    detail: Any = None


@dataclass(frozen=True)
class RunResult:
    """A finished run: where it is and what each stage did."""

    path: Path
    scenario: Scenario
    stages: list[StageReport] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)


def _code_digest() -> str:
    """A hash of the package's source: a run made by other code is not the same run."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode("utf-8"))
        digest.update(path.read_bytes())
    return digest.hexdigest()


def run_inputs(resolved: str, db_url: str | None) -> str:
    """The hash a run is keyed by: its resolved scenario, its database and the code.

    Parameters
    ----------
    resolved
        The resolved scenario (TOML text).
    db_url
        The database server URL, or None for SQLite files.

    Returns
    -------
    str
        SHA-256 in hex.
    """
    state = {
        "scenario": resolved,
        "database": _safe_url(db_url),
        "version": __version__,
        "code": _code_digest(),
    }
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode("utf-8")).hexdigest()


def _finished_run(
    out: Path, inputs: str, chosen: list[str], scenario: Scenario
) -> RunResult | None:
    """An existing run directory from the same inputs holding every stage asked for, or None."""
    manifest = read_manifest(out)
    recorded = manifest.get("stages", {})
    if manifest.get("inputs") != inputs or any(name not in recorded for name in chosen):
        return None
    reports = [
        StageReport(
            name, float(recorded[name].get("seconds", 0.0)), recorded[name]["rows"], skipped=True
        )
        for name in chosen
    ]
    return RunResult(path=out, scenario=scenario, stages=reports, manifest=manifest)


def execute(
    scenario: Scenario,
    out: str | Path,
    *,
    stages: list[str] | None = None,
    workers: int = 1,
    force: bool = False,
    progress: StageProgress | None = None,
    db_url: str | None = None,
) -> RunResult:
    """Run stages of the chain into a new run directory.

    Run again on the same inputs (scenario, database, code), a finished run directory is left
    as it is (with or without ``force``: it would be made again byte for byte), and a run
    killed before it finished goes on from the stages it had finished.

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
        Replace an existing run directory made from other inputs.
    progress
        Called as ``progress(stage, done, total)``.
    db_url
        A database server URL for the bureaus' credit files; SQLite files when None.

    Returns
    -------
    RunResult
        The run directory and per-stage reports (``skipped`` for stages already done).

    Raises
    ------
    RunDirectoryError
        If ``out`` exists, was made from other inputs or lacks a stage asked for, and
        ``force`` is False; or is not a run directory.
    """
    out = Path(out)
    chosen = list(STAGES) if stages is None else [s for s in STAGES if s in stages]
    unknown = sorted(set(stages or ()) - set(STAGES))
    if unknown:
        raise BureauError(
            f"no stage {', '.join(unknown)} (stages: {', '.join(STAGES)})", field="stages"
        )
    resolved = scenario_to_toml(scenario)
    inputs = run_inputs(resolved, db_url)
    try:
        out.absolute().parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirectoryError(
            f"cannot create a run directory here: {exc.strerror}", path=out
        ) from None
    with run_lock(out):
        return _execute(scenario, out, chosen, resolved, inputs, workers, force, progress, db_url)


def _execute(
    scenario: Scenario,
    out: Path,
    chosen: list[str],
    resolved: str,
    inputs: str,
    workers: int,
    force: bool,
    progress: StageProgress | None,
    db_url: str | None,
) -> RunResult:
    """:func:`execute`, with the run directory held."""
    if (out / MANIFEST).is_file():
        finished = _finished_run(out, inputs, chosen, scenario)
        if finished is not None:
            return finished
        if not force:
            raise RunDirectoryError(
                "already exists, made from other inputs (scenario, database or code) or "
                "without every stage asked for; replace it with --force (force=True)",
                path=out,
            )
    replaced = _server_run(out, db_url)
    reports: list[StageReport] = []
    with staged_directory(out, force=force, inputs=inputs) as root:
        (root / RESOLVED_SCENARIO).write_text(resolved, encoding="utf-8")
        done = finished_stages(root)
        for name in chosen:
            if name in done:
                # Finished by an earlier run of the same inputs that died later on.
                record = done[name]
                reports.append(StageReport(name, record["seconds"], record["rows"], skipped=True))
                continue
            started = time.perf_counter()
            ctx = StageContext(scenario, root, workers, progress, db_url)
            # What a killed earlier run of this stage left aside is not part of the run.
            remove_temporaries(root)
            with one_thread():
                rows = STAGES[name](ctx)
            seconds = round(time.perf_counter() - started, 3)
            report = StageReport(name, seconds, rows, detail=ctx.details.get(name))
            reports.append(report)
            record_finished(root, name, _stage_entry(report, scenario))
        header = {
            "package": "bureau",
            "version": __version__,
            "scenario": scenario.name,
            "seed": scenario.seed,
            "scenario_sha256": hashlib.sha256(resolved.encode("utf-8")).hexdigest(),
            "inputs": inputs,
            "workers": workers,
            "database": _safe_url(db_url),
        }
        manifest = write_manifest(
            root, header, {r.name: _stage_entry(r, scenario) for r in reports}
        )
    if replaced is not None and db_url is not None:
        # The run replaced had its own schemas on this server: nothing uses them any more.
        drop_run_schemas(db_url, replaced)
    return RunResult(path=out, scenario=scenario, stages=reports, manifest=manifest)


def _server_run(out: Path, db_url: str | None) -> str | None:
    """The id of the run in ``out`` if its credit files are on the server ``db_url``."""
    if db_url is None or not (out / MANIFEST).is_file() or not (out / RUN_ID).is_file():
        return None
    if read_manifest(out).get("database") != _safe_url(db_url):
        return None
    return run_id(out)


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


def _stage_entry(report: StageReport, scenario: Scenario) -> dict[str, Any]:
    """A stage's record in the manifest (reconciliation also names its linkage method)."""
    entry: dict[str, Any] = {"seconds": report.seconds, "rows": report.rows}
    if report.name == "reconcile":
        entry["method"] = scenario.aggregator.linkage
    return entry


def _safe_url(url: str | None) -> str:
    """A database URL fit to write down: no password."""
    if url is None:
        return "sqlite"
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        raise DatabaseError(NOT_A_URL, field="db_url") from None


def run_stage(
    run_dir: str | Path,
    stage: str,
    *,
    workers: int = 1,
    progress: StageProgress | None = None,
    db_url: str | None = None,
    bureaus: list[str] | None = None,
    method: str | None = None,
) -> StageReport:
    """Run one stage on an existing run directory.

    A stage already recorded in the manifest is not run again (ingestion, which loads file by
    file, is always resumed: files already loaded are skipped; the accuracy report is redone
    after every ingestion; training trains the bureaus not trained yet; reconciliation runs
    again when asked for another linkage method).

    Parameters
    ----------
    run_dir
        The run directory.
    stage
        A name in :data:`STAGES`.
    workers
        Worker processes.
    progress
        Called as ``progress(stage, done, total)``.
    db_url
        For ``ingest``, ``accuracy`` and ``train``: the database server URL of the credit
        files, or None for SQLite files.
    bureaus
        For ``ingest`` and ``train``: the bureaus to load or train (all when None).
    method
        For ``reconcile``: the linkage method (the scenario's when None).

    Returns
    -------
    StageReport
        The stage's wall time and rows (``skipped`` set when there was nothing to do).

    Raises
    ------
    RunDirectoryError
        If the directory is not a run, or the stage this one needs has not run.
    """
    root = Path(run_dir)
    if stage not in STAGES:
        raise BureauError(f"no stage {stage} (stages: {', '.join(STAGES)})", field="stage")
    read_manifest(root)
    with run_lock(root):
        # Read again once held: the command that held it before may have changed it.
        return _run_stage(root, stage, workers, progress, db_url, bureaus, method)


def _run_stage(
    root: Path,
    stage: str,
    workers: int,
    progress: StageProgress | None,
    db_url: str | None,
    bureaus: list[str] | None,
    method: str | None,
) -> StageReport:
    """:func:`run_stage`, with the run directory held."""
    manifest = read_manifest(root)
    scenario = load_scenario(root / RESOLVED_SCENARIO)
    needed = REQUIRES[stage]
    if needed and needed not in manifest.get("stages", {}):
        raise RunDirectoryError(f"run the {needed} stage first", path=root)
    unknown = sorted(set(bureaus or ()) - set(scenario.active_bureaus))
    if unknown:
        known = ", ".join(scenario.active_bureaus)
        raise BureauError(
            f"no bureau {', '.join(unknown)} in this run (bureaus: {known})", field="bureaus"
        )
    check_database(root, manifest, db_url, loading=stage == "ingest")
    recorded = manifest.get("stages", {}).get(stage)
    if stage == "train" and recorded is not None:
        # Training is per bureau: only the bureaus not trained yet are trained.
        wanted = bureaus or scenario.active_bureaus
        bureaus = [b for b in wanted if f"{b}.scored" not in recorded.get("rows", {})]
        if not bureaus:
            return StageReport(stage, 0.0, recorded.get("rows", {}), skipped=True)
    elif stage == "reconcile" and recorded is not None:
        method = method or scenario.aggregator.linkage
        if recorded.get("method") == method:
            return StageReport(stage, 0.0, recorded.get("rows", {}), skipped=True)
    elif stage not in ("ingest", "accuracy") and recorded is not None:
        return StageReport(stage, 0.0, recorded.get("rows", {}), skipped=True)
    if list(STAGES).index(stage) > list(STAGES).index("ingest"):
        # Every credit file loaded is checked before any work: a damaged one stops the stage
        # before it has written anything for the others.
        loaded = manifest.get("stages", {}).get("ingest", {}).get("rows", {})
        for bureau in bureaus or scenario.active_bureaus:
            if f"{bureau}.files_loaded" in loaded:
                bureau_engine(root, bureau, db_url, create=False).dispose()
    started = time.perf_counter()
    ctx = StageContext(scenario, root, workers, progress, db_url, bureaus, method)
    remove_temporaries(root)
    with one_thread():
        rows = STAGES[stage](ctx)
    report = StageReport(
        stage, round(time.perf_counter() - started, 3), rows, detail=ctx.details.get(stage)
    )
    stages = dict(manifest.get("stages", {}))
    if stage in ("ingest", "train") and stage in stages:
        # Loading or training some bureaus again leaves the others' figures as they were.
        rows = {**stages[stage].get("rows", {}), **rows}
    changed = stage != "accuracy" and (
        stage != "ingest" or any(v for k, v in rows.items() if k.endswith(".files_loaded"))
    )
    if changed:
        # What the later stages made was made from what this stage has just replaced: they
        # are to be done again, not reported as done.
        later = list(STAGES)[list(STAGES).index(stage) + 1 :]
        stages = {name: record for name, record in stages.items() if name not in later}
    stages[stage] = {"seconds": report.seconds, "rows": rows}
    if stage == "reconcile":
        stages[stage]["method"] = method or scenario.aggregator.linkage
    header = {k: v for k, v in manifest.items() if k not in ("stages", "files")}
    if stage == "ingest":
        header["database"] = _safe_url(db_url)
    write_manifest(root, header, stages)
    if stage == "ingest":
        # The accuracy report describes the credit files: keep it in step with them.
        _run_stage(root, "accuracy", workers, None, db_url, None, None)
    return report


def check_database(
    root: Path, manifest: dict[str, Any], db_url: str | None, loading: bool = False
) -> None:
    """Check that ``db_url`` names the database that holds a run's credit files.

    Parameters
    ----------
    root
        The run directory.
    manifest
        Its manifest.
    db_url
        The database server URL given, or None for the run's SQLite files.
    loading
        For ingestion into a run not ingested yet, which may choose any database.

    Raises
    ------
    BureauError
        If the run's credit files are elsewhere.
    """
    if loading and "ingest" not in manifest.get("stages", {}):
        return
    held = manifest.get("database", "sqlite")
    given = _safe_url(db_url)
    if given == held:
        return
    if held == "sqlite":
        raise BureauError(
            "this run's credit files are SQLite files in its db/ folder; give no database URL",
            path=root,
            field="db_url",
        )
    raise BureauError(
        f"this run's credit files are on {held}: give the same database URL",
        path=root,
        field="db_url",
    )
