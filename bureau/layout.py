"""Where everything of a run directory is, and the databases that go with it.

A run directory holds the resolved scenario and the manifest, the world (``world/``), the feeds
(``feeds/<bureau>/``), one database per bureau and one for the aggregator (SQLite files in
``db/``, or schemas on a server), the models (``models/<bureau>/``), the modelling tables
(``features/<bureau>/``), the scores (``scores/``), the truth of what was furnished
(``truth/``) and the outputs for people (``report/``). :class:`RunLayout` names each of them,
so that no stage joins a path of its own, and opens the databases.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import Engine

from bureau.config.market import AGGREGATOR
from bureau.rundir import MANIFEST, RESOLVED_SCENARIO
from bureau.store.aggregator import AggregatorBase
from bureau.store.credit_file import CreditFileBase
from bureau.store.engines import database_engine, sqlite_file

#: A model's card, in its model directory.
MODEL_CARD = "model_card.json"


@dataclass(frozen=True)
class RunLayout:
    """The paths of one run directory, and its databases.

    Parameters
    ----------
    root
        The run directory (or the staging directory it is being built in).
    db_url
        The database server of the credit files and the aggregator, or None for SQLite files
        in ``db/``.
    """

    root: Path
    db_url: str | None = None

    def __post_init__(self) -> None:
        # Absolute: the stages' jobs may run in processes with another working directory
        # (the workers of a Dask cluster).
        object.__setattr__(self, "root", Path(self.root).absolute())

    def moved_to(self, root: Path) -> RunLayout:
        """The same layout rooted elsewhere (a run is built in a staging directory).

        Parameters
        ----------
        root
            The new run directory.

        Returns
        -------
        RunLayout
            The same database server, another root.
        """
        return replace(self, root=Path(root))

    @property
    def scenario_file(self) -> Path:
        """``scenario.resolved.toml``: the scenario the run was made from, every default filled."""
        return self.root / RESOLVED_SCENARIO

    @property
    def manifest_file(self) -> Path:
        """``manifest.json``: versions, stage timings and row counts, a hash of every file."""
        return self.root / MANIFEST

    @property
    def world(self) -> Path:
        """``world/``: the truth, one Parquet dataset per table."""
        return self.root / "world"

    def world_table(self, name: str) -> Path:
        """``world/<name>``: one table of the world (a directory of chunk files).

        Parameters
        ----------
        name
            The table (``persons``, ``accounts``, ``account_months``...).

        Returns
        -------
        pathlib.Path
            The table's directory.
        """
        return self.world / name

    @property
    def feeds(self) -> Path:
        """``feeds/``: what every data source furnished to every bureau."""
        return self.root / "feeds"

    def feeds_of(self, bureau: str) -> Path:
        """``feeds/<bureau>/``: one bureau's feed files, in its own formats.

        Parameters
        ----------
        bureau
            The bureau.

        Returns
        -------
        pathlib.Path
            The bureau's feed directory.
        """
        return self.feeds / bureau

    @property
    def truth(self) -> Path:
        """``truth/``: what each furnished record really was, and every defect injected."""
        return self.root / "truth"

    def furnished_truth(self, bureau: str) -> Path:
        """``truth/furnished/<bureau>/``: the true person and key of every record.

        One Parquet file per window of arrival months furnished (the whole run at once, or
        each round of a market), read together as one table.

        Parameters
        ----------
        bureau
            The bureau the records were furnished to.

        Returns
        -------
        pathlib.Path
            The directory.
        """
        return self.truth / "furnished" / bureau

    def defects_truth(self, bureau: str) -> Path:
        """``truth/defects/<bureau>/``: every defect furnishing injected, a file per window.

        Parameters
        ----------
        bureau
            The bureau the defective records were furnished to.

        Returns
        -------
        pathlib.Path
            The directory.
        """
        return self.truth / "defects" / bureau

    @staticmethod
    def window_file(directory: Path, months: tuple[int, int]) -> Path:
        """The file of one window of months in a directory of windows (``012-018.parquet``).

        Parameters
        ----------
        directory
            The directory (:meth:`furnished_truth`, :meth:`defects_truth`).
        months
            The first month and the month after the last.

        Returns
        -------
        pathlib.Path
            The Parquet file; names sort in month order.
        """
        return directory / f"{months[0]:03d}-{months[1]:03d}.parquet"

    @property
    def market(self) -> Path:
        """``market/``: the rounds of the credit market, one directory each."""
        return self.root / "market"

    def market_round(self, start: int) -> Path:
        """``market/round-<start>/``: one round's answers, decisions and retro tests.

        Parameters
        ----------
        start
            The first month of the round.

        Returns
        -------
        pathlib.Path
            The directory.
        """
        return self.market / f"round-{start:03d}"

    @property
    def models(self) -> Path:
        """``models/``: every bureau's fitted model and its card."""
        return self.root / "models"

    def model_dir(self, bureau: str) -> Path:
        """``models/<bureau>/``: a bureau's model file and model card.

        Parameters
        ----------
        bureau
            The bureau.

        Returns
        -------
        pathlib.Path
            The model directory.
        """
        return self.models / bureau

    def model_card(self, bureau: str) -> Path:
        """``models/<bureau>/model_card.json``: a bureau's model card (none: no model).

        Parameters
        ----------
        bureau
            The bureau.

        Returns
        -------
        pathlib.Path
            The card's file.
        """
        return self.model_dir(bureau) / MODEL_CARD

    @property
    def features(self) -> Path:
        """``features/``: the bureaus' modelling tables, kept for the stages after training."""
        return self.root / "features"

    def modelling_table(self, bureau: str, snapshot: int) -> Path:
        """``features/<bureau>/<snapshot>.parquet``: a bureau's features and observed outcome.

        Parameters
        ----------
        bureau
            The bureau.
        snapshot
            The development or the evaluation snapshot.

        Returns
        -------
        pathlib.Path
            ``consumer_id``, every feature of the bureau's model, and the ``bad`` and
            ``in_default`` outcome the bureau observed.
        """
        return self.features / bureau / f"{snapshot}.parquet"

    def corrected_features(self, bureau: str, snapshot: int, fingerprint: str) -> Path:
        """``features/<bureau>/<snapshot>-corrected-<fingerprint>.parquet``: files as corrected.

        The name carries the corrections' fingerprint, so the file stands only for the very
        corrections it was computed with.

        Parameters
        ----------
        bureau
            The bureau.
        snapshot
            The snapshot.
        fingerprint
            The fingerprint of the corrections in force at the snapshot.

        Returns
        -------
        pathlib.Path
            The Parquet file.
        """
        return self.features / bureau / f"{snapshot}-corrected-{fingerprint}.parquet"

    @property
    def scores(self) -> Path:
        """``scores/``: every bureau's scores of its consumers at the evaluation snapshot."""
        return self.root / "scores"

    def scores_of(self, bureau: str) -> Path:
        """``scores/<bureau>.parquet``: one bureau's scores.

        Parameters
        ----------
        bureau
            The bureau.

        Returns
        -------
        pathlib.Path
            The Parquet file.
        """
        return self.scores / f"{bureau}.parquet"

    @property
    def report(self) -> Path:
        """``report/``: the outputs for people: tables (Parquet, CSV, JSON), figures, HTML."""
        return self.root / "report"

    def report_file(self, name: str, suffix: str = "parquet") -> Path:
        """``report/<name>.<suffix>``: one output of the report.

        Parameters
        ----------
        name
            The table or page (``comparison``, ``linkage``, ``index``...).
        suffix
            ``parquet``, ``csv``, ``json``, ``html``...

        Returns
        -------
        pathlib.Path
            The file.
        """
        return self.report / f"{name}.{suffix}"

    def database_file(self, name: str) -> Path:
        """``db/<name>.db``: a bureau's or the aggregator's database as a SQLite file.

        Parameters
        ----------
        name
            A bureau, or ``aggregator``.

        Returns
        -------
        pathlib.Path
            The file (there is none when the run's databases are on a server).
        """
        return sqlite_file(self.root, name)

    def bureau_engine(self, bureau: str, create: bool = True) -> Engine:
        """Open a bureau's own database, creating its tables if needed.

        Parameters
        ----------
        bureau
            The bureau, which is also its schema's owner on a database server.
        create
            Create the database if there is none; a reader passes False, so that it never
            leaves an empty database behind.

        Returns
        -------
        sqlalchemy.Engine
            The engine; no other bureau's tables are reachable through it. The caller
            disposes of it (or uses :meth:`bureau_database`).
        """
        return database_engine(self.root, bureau, CreditFileBase, self.db_url, create=create)

    def aggregator_engine(self, create: bool = True) -> Engine:
        """Open the aggregator's database, creating its tables if needed.

        Parameters
        ----------
        create
            Create the database if there is none; a reader passes False.

        Returns
        -------
        sqlalchemy.Engine
            The engine. The caller disposes of it (or uses :meth:`aggregator_database`).
        """
        return database_engine(self.root, AGGREGATOR, AggregatorBase, self.db_url, create=create)

    @contextmanager
    def bureau_database(self, bureau: str, create: bool = True) -> Iterator[Engine]:
        """A bureau's database for the duration of a block, disposed of after it.

        Parameters
        ----------
        bureau
            The bureau.
        create
            Create the database if there is none.

        Yields
        ------
        sqlalchemy.Engine
            The bureau's engine.
        """
        engine = self.bureau_engine(bureau, create=create)
        try:
            yield engine
        finally:
            engine.dispose()

    @contextmanager
    def aggregator_database(self, create: bool = True) -> Iterator[Engine]:
        """The aggregator's database for the duration of a block, disposed of after it.

        Parameters
        ----------
        create
            Create the database if there is none.

        Yields
        ------
        sqlalchemy.Engine
            The aggregator's engine.
        """
        engine = self.aggregator_engine(create=create)
        try:
            yield engine
        finally:
            engine.dispose()

    @contextmanager
    def bureau_databases(
        self, bureaus: list[str], create: bool = True
    ) -> Iterator[dict[str, Engine]]:
        """Several bureaus' databases for the duration of a block, each disposed of after it.

        Parameters
        ----------
        bureaus
            The bureaus.
        create
            Create a database where there is none.

        Yields
        ------
        dict of str to sqlalchemy.Engine
            Each bureau's engine, in the order given.
        """
        engines: dict[str, Engine] = {}
        try:
            for bureau in bureaus:
                engines[bureau] = self.bureau_engine(bureau, create=create)
            yield engines
        finally:
            for engine in engines.values():
                engine.dispose()
