"""The world as a whole: simulate it in memory, write it to a run directory, load it back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import overload

import numpy as np
import pandas as pd

from bureau.config.loader import load_scenario
from bureau.config.scenario import Scenario
from bureau.display import Lines, html_summary, text_summary
from bureau.errors import RunDirectoryError
from bureau.formats.schema import month_labels
from bureau.layout import RunLayout
from bureau.parallel import map_chunks
from bureau.store.parquet import chunk_file, chunk_files, parquet_rows, read_table, write_table
from bureau.world.generate import TABLES, ChunkJob, run_chunk, settle_persons
from bureau.world.identity import UniqueRegistry
from bureau.world.keys import CHUNK_STRIDE

Progress = Callable[[int, int], None]


class _Table:
    """A table of a world, as its attribute: read from the run directory on first use."""

    name: str

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, world: None, owner: type | None = None) -> _Table: ...

    @overload
    def __get__(self, world: World, owner: type | None = None) -> pd.DataFrame: ...

    def __get__(self, world: World | None, owner: type | None = None) -> _Table | pd.DataFrame:
        if world is None:
            return self
        return world._table(self.name)

    def __set__(self, world: World, frame: pd.DataFrame) -> None:
        world._frames[self.name] = frame
        world._pending.pop(self.name, None)
        world._left_out -= {self.name}


class World:
    """The ground truth of one scenario: every table as a DataFrame.

    A world loaded from a run directory (:meth:`load`) reads each table when it is first
    used, not before: a notebook that looks at the persons does not wait for the account
    months. A world in memory (:func:`simulate`) holds them all.

    Parameters
    ----------
    scenario
        The scenario the world was generated from.
    persons, ties, memberships, accounts, account_months, applications, public_records,
    signals, outcomes
        The tables, held as attributes of the same names; docs/outputs.md documents their
        columns.
    """

    persons = _Table()
    ties = _Table()
    memberships = _Table()
    accounts = _Table()
    account_months = _Table()
    applications = _Table()
    public_records = _Table()
    signals = _Table()
    outcomes = _Table()

    def __init__(
        self,
        scenario: Scenario,
        persons: pd.DataFrame,
        ties: pd.DataFrame,
        memberships: pd.DataFrame,
        accounts: pd.DataFrame,
        account_months: pd.DataFrame,
        applications: pd.DataFrame,
        public_records: pd.DataFrame,
        signals: pd.DataFrame,
        outcomes: pd.DataFrame,
    ) -> None:
        frames = (
            persons,
            ties,
            memberships,
            accounts,
            account_months,
            applications,
            public_records,
            signals,
            outcomes,
        )
        self.scenario = scenario
        self._frames: dict[str, pd.DataFrame] = dict(zip(TABLES, frames, strict=True))
        #: Tables not read yet, by the directory they are to be read from.
        self._pending: dict[str, Path] = {}
        #: Tables a load was asked to leave out: empty, and shown as not read.
        self._left_out: frozenset[str] = frozenset()
        self._rows: dict[str, int | None] = {}

    def _table(self, name: str) -> pd.DataFrame:
        """A table, read first if it has not been yet."""
        if name not in self._frames:
            self._frames[name] = read_table(self._pending[name])
            del self._pending[name]
        return self._frames[name]

    def tables(self) -> dict[str, pd.DataFrame]:
        """Return the tables by name, in the order of :data:`TABLES` (reading any not read)."""
        return {name: self._table(name) for name in TABLES}

    @classmethod
    def load(cls, path: str | Path, tables: list[str] | None = None) -> World:
        """Load a world written by ``bureau simulate`` or ``bureau run``.

        Only the scenario is read at once; each table is read when it is first used (an
        attribute, or :meth:`tables`), from the run directory as it is then.

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
            If the directory is not a run directory with a world in it, or a table asked for
            has no files; a damaged table file is found when the table is read.
        """
        layout = RunLayout(Path(path))
        run, resolved = layout.root, layout.scenario_file
        if not resolved.is_file() or not layout.world.is_dir():
            raise RunDirectoryError("not a run directory with a world in it", path=run)
        unknown = set(tables or ()) - set(TABLES)
        if unknown:
            raise RunDirectoryError(f"unknown table(s): {', '.join(sorted(unknown))}", path=run)
        wanted = TABLES if tables is None else tables
        for name in wanted:
            # Found now rather than at first use: a world with a table missing is no world.
            if not chunk_files(layout.world_table(name)):
                raise RunDirectoryError("no table files here", path=layout.world_table(name))
        world = cls(load_scenario(resolved), *(pd.DataFrame() for _ in TABLES))
        for name in wanted:
            del world._frames[name]
            world._pending[name] = layout.world_table(name)
        world._left_out = frozenset(TABLES) - set(wanted)
        return world

    def _rows_of(self, name: str) -> str:
        """A table's rows as a display gives them, without reading a table not read yet."""
        if name in self._left_out:
            return "left out of the load (empty)"
        if name in self._frames:
            return f"{len(self._frames[name]):,}"
        if name not in self._rows:
            self._rows[name] = parquet_rows(self._pending[name])
        rows = self._rows[name]
        return f"{'?' if rows is None else format(rows, ',')} (not loaded)"

    def _summary(self) -> tuple[str, Lines]:
        """The title and lines of the world's displays: the scenario, then rows per table."""
        scenario = self.scenario
        first, last = month_labels(scenario.start_date, np.array([0, scenario.months - 1]))
        title = (
            f"World {scenario.name!r}: {scenario.population.persons:,} persons,"
            f" {scenario.months} months ({first} to {last})"
        )
        return title, [(name, self._rows_of(name)) for name in TABLES]

    def __repr__(self) -> str:
        return text_summary(*self._summary())

    def _repr_html_(self) -> str:
        return html_summary(*self._summary())


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
    scenario: Scenario,
    out: Path,
    workers: int = 1,
    progress: Progress | None = None,
    decisions: pd.DataFrame | None = None,
    tables: tuple[str, ...] = TABLES,
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
    decisions
        Lenders' decisions made with bureau scores, by ``application_id`` (see
        :func:`bureau.world.credit.originate`); None: lenders decide on their own.
    tables
        The tables to write (every one by default): a market round writes again only the
        tables its decisions change (:data:`~bureau.world.generate.DECIDED_TABLES`).

    Returns
    -------
    dict of str to int
        Rows written per table.
    """
    registry = UniqueRegistry()
    rows = dict.fromkeys(tables, 0)
    chunk_of = (
        decisions["application_id"].to_numpy() // CHUNK_STRIDE if decisions is not None else None
    )
    jobs = [
        ChunkJob(
            scenario,
            chunk,
            out,
            None if decisions is None else decisions[chunk_of == chunk].reset_index(drop=True),
            tables,
        )
        for chunk in range(scenario.chunks)
    ]
    for job, (made, counts) in zip(jobs, map_chunks(run_chunk, jobs, workers), strict=True):
        if "persons" in made:
            persons = settle_persons(scenario, job.chunk, made["persons"], registry)
            write_table(persons, chunk_file(out / "persons", job.chunk))
        for name, count in counts.items():
            rows[name] += count
        if progress:
            progress(job.chunk + 1, len(jobs))
    return rows
