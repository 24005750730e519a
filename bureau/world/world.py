"""The world as a whole: simulate it in memory, write it to a run directory, load it back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import pandas as pd

from bureau.config.loader import load_scenario
from bureau.config.scenario import Scenario
from bureau.errors import RunDirectoryError
from bureau.parallel import map_chunks
from bureau.rundir import RESOLVED_SCENARIO
from bureau.store.parquet import chunk_file, read_table, write_table
from bureau.world.generate import TABLES, ChunkJob, run_chunk, settle_persons
from bureau.world.identity import UniqueRegistry

Progress = Callable[[int, int], None]


@dataclass
class World:
    """The ground truth of one scenario: every table as a DataFrame.

    Attributes
    ----------
    scenario
        The scenario the world was generated from.
    persons, ties, memberships, accounts, account_months, applications, public_records,
    signals, outcomes
        The tables; docs/outputs.md documents their columns.
    """

    scenario: Scenario
    persons: pd.DataFrame
    ties: pd.DataFrame
    memberships: pd.DataFrame
    accounts: pd.DataFrame
    account_months: pd.DataFrame
    applications: pd.DataFrame
    public_records: pd.DataFrame
    signals: pd.DataFrame
    outcomes: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        """Return the tables by name, in the order of :data:`TABLES`."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "scenario"}

    @classmethod
    def load(cls, path: str | Path, tables: list[str] | None = None) -> World:
        """Load a world written by ``bureau simulate`` or ``bureau run``.

        Parameters
        ----------
        path
            A run directory (holding ``scenario.resolved.toml`` and ``world/``).
        tables
            Names of the tables to read; the others are left empty. All when None.

        Returns
        -------
        World
            The world.

        Raises
        ------
        RunDirectoryError
            If the directory is not a run directory with a world in it.
        """
        run = Path(path)
        resolved = run / RESOLVED_SCENARIO
        if not resolved.is_file() or not (run / "world").is_dir():
            raise RunDirectoryError("not a run directory with a world in it", path=run)
        unknown = set(tables or ()) - set(TABLES)
        if unknown:
            raise RunDirectoryError(f"unknown table(s): {', '.join(sorted(unknown))}", path=run)
        wanted = TABLES if tables is None else tables
        frames = {
            name: read_table(run / "world" / name) if name in wanted else pd.DataFrame()
            for name in TABLES
        }
        return cls(scenario=load_scenario(resolved), **frames)


def simulate(
    scenario: Scenario | str | Path, workers: int = 1, progress: Progress | None = None
) -> World:
    """Generate a world in memory.

    Parameters
    ----------
    scenario
        A :class:`Scenario` (see :func:`bureau.load_scenario`), a TOML file, or the name of a
        bundled scenario.
    workers
        Worker processes; the result is the same for any number.
    progress
        Called as ``progress(chunks_done, chunks_total)`` after each chunk.

    Returns
    -------
    World
        The world's tables.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    registry = UniqueRegistry()
    parts: dict[str, list[pd.DataFrame]] = {name: [] for name in TABLES}
    jobs = [ChunkJob(scenario, chunk, None) for chunk in range(scenario.chunks)]
    for job, (tables, _) in zip(jobs, map_chunks(run_chunk, jobs, workers), strict=True):
        tables["persons"] = settle_persons(scenario, job.chunk, tables["persons"], registry)
        for name in TABLES:
            parts[name].append(tables[name])
        if progress:
            progress(job.chunk + 1, len(jobs))
    frames = {name: pd.concat(parts[name], ignore_index=True) for name in TABLES}
    return World(scenario=scenario, **frames)


def write_world(
    scenario: Scenario, out: Path, workers: int = 1, progress: Progress | None = None
) -> dict[str, int]:
    """Generate a world chunk by chunk straight to Parquet, with bounded memory.

    Parameters
    ----------
    scenario
        The scenario.
    out
        The world directory to fill (``RUN/world``); one sub-directory per table, one file
        per chunk.
    workers
        Worker processes; the files are byte-identical for any number.
    progress
        Called as ``progress(chunks_done, chunks_total)`` after each chunk.

    Returns
    -------
    dict of str to int
        Rows written per table.
    """
    registry = UniqueRegistry()
    rows = dict.fromkeys(TABLES, 0)
    jobs = [ChunkJob(scenario, chunk, out) for chunk in range(scenario.chunks)]
    for job, (tables, counts) in zip(jobs, map_chunks(run_chunk, jobs, workers), strict=True):
        persons = settle_persons(scenario, job.chunk, tables["persons"], registry)
        write_table(persons, chunk_file(out / "persons", job.chunk))
        for name, count in counts.items():
            rows[name] += count
        if progress:
            progress(job.chunk + 1, len(jobs))
    return rows
