"""What a run records as done, and what a stage has left to do.

The manifest records, per stage, its wall time, its rows, and what tells one run of it from
another: the bureaus it ran for, the values of its keys, the windows of months it covered.
From that record and what is asked, :func:`left_to_do` says whether a stage is done and, when
it is done in part, narrows the context to the rest; :func:`entry_of` makes the record anew.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bureau.pipeline.contract import Stage, StageContext, StageResult
from bureau.rundir import write_finished, write_manifest


class Ledger:
    """The stages done in a run being written, kept on disk after every stage.

    A run carried on in place keeps them in its manifest; a run being built keeps them in its
    staging directory (a manifest hashes every file: it is written once, when the run is
    complete).

    Parameters
    ----------
    root
        The run directory, or the staging directory it is built in.
    header
        The manifest's header (versions, scenario, database...).
    records
        Stage name to its record, as the manifest holds them.
    staged
        Whether ``root`` is a staging directory.
    registry
        The stages, in chain order.
    """

    def __init__(
        self,
        root: Path,
        header: dict[str, Any],
        records: dict[str, Any],
        staged: bool,
        registry: Mapping[str, Stage],
    ) -> None:
        self.root = root
        self.header = header
        self.records = records
        self.staged = staged
        self.registry = registry

    def record(self, name: str, entry: dict[str, Any], undone: list[str]) -> None:
        """Record a stage as done, and the stages made from its old outputs as not done.

        Parameters
        ----------
        name
            The stage.
        entry
            Its new record (:func:`entry_of`).
        undone
            The stages no longer done (those made from what the stage replaced).
        """
        kept = {n: r for n, r in self.records.items() if n not in undone and n != name}
        # In chain order, whatever order the stages ran in.
        self.records = {
            n: kept[n] if n != name else entry for n in self.registry if n in kept or n == name
        }
        self.save()

    def save(self) -> None:
        """Write the records down: into the staging directory, or the run's manifest."""
        if self.staged:
            write_finished(self.root, self.records)
        else:
            write_manifest(self.root, self.header, self.records)


def loaded_bureaus(records: dict[str, Any], registry: Mapping[str, Stage]) -> list[str]:
    """The bureaus whose credit files a run's stages have loaded.

    Parameters
    ----------
    records
        The run's stage records.
    registry
        The stages.

    Returns
    -------
    list of str
        Bureaus with a database, in the order loaded.
    """
    loaded: list[str] = []
    for name, stage in registry.items():
        if stage.loads_databases and name in records:
            loaded += [b for b in _bureaus_done(records[name]) if b not in loaded]
    return loaded


def _bureaus_done(record: dict[str, Any]) -> list[str]:
    """The bureaus a per-bureau stage's record says it has run for."""
    if "bureaus" in record:
        return list(record["bureaus"])
    # Recorded before the records named their bureaus: the rows are keyed by bureau.
    return list(dict.fromkeys(key.split(".", 1)[0] for key in record.get("rows", {})))


def _same_keys(stage: Stage, record: dict[str, Any], ctx: StageContext) -> bool:
    """Whether a stage's record was made with the values of its keys the context asks for."""
    return all(record.get(key) == value for key, value in stage.asked_keys(ctx).items())


def left_to_do(
    stage: Stage, record: dict[str, Any] | None, ctx: StageContext, asked: bool
) -> StageContext | None:
    """What a stage has left to do: the context to run it with, or None when it is done.

    Parameters
    ----------
    stage
        The stage.
    record
        Its record in the run, or None when it has not run.
    ctx
        What it would be run with.
    asked
        Whether it was asked for by name on an existing run (a resumable stage then runs).

    Returns
    -------
    StageContext or None
        ``ctx``, narrowed to the bureaus not done yet for a per-bureau stage; None when the
        stage is done for everything ``ctx`` asks.
    """
    if record is None or not _same_keys(stage, record, ctx):
        return ctx
    windows = record.get("windows", [])
    if stage.windowed and ctx.window is not None and ctx.window.to_list() not in windows:
        return ctx
    if stage.resumable and asked:
        return ctx
    if stage.per_bureau:
        done = set(_bureaus_done(record))
        missing = [b for b in ctx.active_bureaus if b not in done]
        return ctx.narrowed(bureaus=tuple(missing)) if missing else None
    return None


def entry_of(
    stage: Stage,
    record: dict[str, Any] | None,
    ctx: StageContext,
    result: StageResult,
    seconds: float,
) -> dict[str, Any]:
    """A stage's record in the manifest once it has run, with what it had done before.

    Parameters
    ----------
    stage
        The stage.
    record
        Its record before it ran, or None.
    ctx
        What it ran with.
    result
        What it returned.
    seconds
        Its wall time.

    Returns
    -------
    dict
        ``seconds`` and ``rows``; the ``bureaus`` of a per-bureau stage and the ``windows``
        of a windowed one, those done before included; the value of each of its keys.
    """
    entry: dict[str, Any] = {"seconds": seconds, "rows": dict(result.rows)}
    carried = record is not None and _same_keys(stage, record, ctx)
    if carried and (stage.per_bureau or stage.windowed):
        # Running some bureaus, or another window, leaves the others' figures as they were.
        entry["rows"] = {**record["rows"], **result.rows}
    if stage.per_bureau:
        before = _bureaus_done(record) if carried else []
        ran = set(before) | set(ctx.active_bureaus)
        entry["bureaus"] = [b for b in ctx.scenario.active_bureaus if b in ran]
    entry.update({key: result.keys.get(key, getattr(ctx, key)) for key in stage.keys})
    if stage.windowed:
        windows = list(record.get("windows", [])) if carried else []
        if ctx.window is not None and ctx.window.to_list() not in windows:
            windows.append(ctx.window.to_list())
        entry["windows"] = sorted(windows)
    return entry
