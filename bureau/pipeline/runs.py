"""A run as a researcher meets it in a notebook: :class:`Run`.

``bureau.run(...)`` returns one, and ``bureau.Run("runs/x")`` opens one. It reads what it is
asked for when it is asked (the report tables, the world, a bureau's model), opens and closes
the databases itself, and shows itself as a short summary.
"""

from __future__ import annotations

import html
import math
import tempfile
from collections.abc import Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from bureau.aggregator.consolidated import ConsolidatedFile, consolidated_file
from bureau.bureaus.credit_report import CreditReport, credit_report
from bureau.bureaus.features import snapshot_features
from bureau.bureaus.models.artifacts import BureauModel, load_model
from bureau.config.loader import load_scenario
from bureau.config.scenario import Scenario
from bureau.errors import RunDirectoryError
from bureau.layout import RunLayout
from bureau.pipeline.runner import RunResult, run_stages
from bureau.pipeline.scoring import month_of, score_file
from bureau.pipeline.stages import STAGES
from bureau.rundir import read_manifest
from bureau.store.aggregator_reads import read_person_links
from bureau.world import World


class ReportTables(Mapping[str, pd.DataFrame]):
    """The report tables of a run by name, each read from ``report/`` on first use.

    Parameters
    ----------
    layout
        The run.
    """

    def __init__(self, layout: RunLayout) -> None:
        self._layout = layout
        self._read: dict[str, pd.DataFrame] = {}

    def _names(self) -> list[str]:
        if not self._layout.report.is_dir():
            return []
        return sorted(path.stem for path in self._layout.report.glob("*.parquet"))

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self._read:
            path = self._layout.report_file(name)
            if not path.is_file():
                known = ", ".join(self._names()) or "none yet"
                raise KeyError(f"no report table {name!r} in this run (tables: {known})")
            self._read[name] = pd.read_parquet(path)
        return self._read[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def __repr__(self) -> str:
        names = self._names()
        return f"<report tables: {len(names)} ({', '.join(names)})>"


class BureauView:
    """One bureau of a run: its model, its files' features and reports, its scores.

    Parameters
    ----------
    run
        The run.
    name
        The bureau.
    """

    def __init__(self, run: Run, name: str) -> None:
        self.run = run
        self.name = name

    @property
    def profile(self) -> Any:
        """The bureau's profile in the run's scenario (sources, formats, model...)."""
        return self.run.scenario.bureaus[self.name]

    @cached_property
    def model(self) -> BureauModel:
        """The bureau's trained model, loaded (and checked against its card) on first use."""
        directory = self.run.layout.model_dir(self.name)
        if not (directory / "model_card.json").is_file():
            raise RunDirectoryError(
                f"{self.name} has no model: run the train stage (or too few defaults to train)",
                path=directory,
            )
        return load_model(directory)

    @property
    def trained(self) -> bool:
        """Whether the bureau has a model in this run."""
        return (self.run.layout.model_dir(self.name) / "model_card.json").is_file()

    def features(self, month: int | str | None = None) -> pd.DataFrame:
        """The features of every file the bureau holds, as of a month.

        Parameters
        ----------
        month
            A month number, or ``YYYY-MM``; the run's last month when None.

        Returns
        -------
        pandas.DataFrame
            One row per consumer file (indexed by ``consumer_id``), one column per feature of
            the bureau's model (of its profile's feature groups when it has no model).
        """
        scn = self.run.scenario
        at = month if isinstance(month, int) else month_of(scn, month)
        groups = self.model.card.feature_groups if self.trained else self.profile.feature_groups
        with self.run.layout.bureau_database(self.name, create=False) as engine:
            return snapshot_features(engine, at, list(groups), scn.start_date)

    def credit_report(self, national_id: str) -> CreditReport:
        """The bureau's credit report of the file(s) under an identity number.

        Parameters
        ----------
        national_id
            The identity number.

        Returns
        -------
        CreditReport
            The files and their tradelines, inquiries, public records and platform data, as
            DataFrames.
        """
        with self.run.layout.bureau_database(self.name, create=False) as engine:
            return credit_report(engine, national_id)

    def score(
        self,
        applicants: pd.DataFrame,
        as_of: str | None = None,
        *,
        record_inquiries: bool = False,
        requester: str = "notebook",
    ) -> pd.DataFrame:
        """Match applicants to the bureau's files and score them, as ``bureau score`` does.

        Parameters
        ----------
        applicants
            ``national_id``, ``name``, ``birth_date`` (YYYY-MM-DD) and ``phone``, optionally
            ``applicant_id``; one row per applicant.
        as_of
            The month scored (``YYYY-MM``); the run's last month when None.
        record_inquiries
            Record an inquiry per consumer scored in the bureau's file, as a lender's request
            would. Off by default: exploring leaves the run's files as they are.
        requester
            Who asks (the inquiry's furnisher).

        Returns
        -------
        pandas.DataFrame
            One row per valid applicant, in order: ``row``, ``applicant_id`` (if given),
            ``match_status``, ``consumer_id``, ``score``, ``pd``, ``reason_1`` ..
            ``reason_4``. Rows rejected as invalid are in ``attrs["rejects"]`` with the
            reason.
        """
        with tempfile.TemporaryDirectory(prefix="bureau-score-") as scratch:
            given, scored = Path(scratch) / "applicants.parquet", Path(scratch) / "scores.parquet"
            applicants.to_parquet(given, index=False)
            summary = score_file(
                self.run.path,
                self.name,
                given,
                scored,
                as_of=as_of,
                db_url=self.run.layout.db_url,
                record_inquiries=record_inquiries,
                requester=requester,
            )
            scores = pd.read_parquet(scored)
            rejects = pd.read_csv(summary.rejects) if summary.rejects else pd.DataFrame()
        scores.attrs["rejects"] = rejects
        return scores

    def __repr__(self) -> str:
        family = self.model.family if self.trained else "no model"
        return f"<bureau {self.name}: {family}, sources {', '.join(self.profile.sources)}>"


class AggregatorView:
    """The run's aggregator: what it links and consolidates from the bureaus' submissions.

    Parameters
    ----------
    run
        The run.
    """

    def __init__(self, run: Run) -> None:
        self.run = run

    def report(self, national_id: str, as_of: str | None = None) -> ConsolidatedFile:
        """The consolidated file of the person(s) behind an identity number.

        Parameters
        ----------
        national_id
            The identity number.
        as_of
            A snapshot the bureaus submit at (``YYYY-MM``); the latest reconciled when None.

        Returns
        -------
        ConsolidatedFile
            The files linked, each bureau's score, the consensus PD, the consolidated
            tradelines and public records (each field with the bureau and rule behind it)
            and the discrepancies, as DataFrames.
        """
        scn = self.run.scenario
        month = None if as_of is None else month_of(scn, as_of)
        with self.run.layout.aggregator_database(create=False) as engine:
            return consolidated_file(engine, national_id, month, start=scn.start_date)

    def person_links(self, method: str | None = None) -> pd.DataFrame:
        """The person key of every submitted file, as a linkage method found it.

        Parameters
        ----------
        method
            ``splink`` or ``exact``; the run's reconciliation method when None.

        Returns
        -------
        pandas.DataFrame
            ``bureau``, ``consumer_id``, ``person_key``.
        """
        method = method or self.run.scenario.aggregator.linkage
        with (
            self.run.layout.aggregator_database(create=False) as engine,
            engine.connect() as conn,
        ):
            return read_person_links(conn, method)

    def __repr__(self) -> str:
        return f"<aggregator of {self.run.path}: {self.run.scenario.aggregator.linkage} linkage>"


class Run:
    """A run directory, to explore: its stages, report tables, world, bureaus and aggregator.

    Parameters
    ----------
    path
        The run directory (made by ``bureau run`` or :func:`bureau.run`).
    db_url
        The database server of its credit files, when the run was made with one.

    Raises
    ------
    RunDirectoryError
        If ``path`` is not a run directory.
    """

    def __init__(self, path: str | Path, *, db_url: str | None = None) -> None:
        self.path = Path(path)
        self.layout = RunLayout(self.path, db_url)
        read_manifest(self.path)
        #: What the last call of :func:`bureau.run` or :meth:`run` did, when there was one.
        self.result: RunResult | None = None

    @property
    def manifest(self) -> dict[str, Any]:
        """The manifest as it is now: versions, stage records, a hash of every file."""
        return read_manifest(self.path)

    @cached_property
    def scenario(self) -> Scenario:
        """The scenario the run was made from, every default filled in."""
        return load_scenario(self.layout.scenario_file)

    @property
    def stages(self) -> pd.DataFrame:
        """Every stage of the chain: ``stage``, ``seconds`` (NaN if not done) and ``done``."""
        records = self.manifest.get("stages", {})
        return pd.DataFrame(
            {
                "stage": list(STAGES),
                "seconds": [float(records.get(n, {}).get("seconds", math.nan)) for n in STAGES],
                "done": [n in records for n in STAGES],
            }
        )

    @cached_property
    def tables(self) -> ReportTables:
        """The report tables, each read on first use (``run.tables["comparison"]``)."""
        return ReportTables(self.layout)

    @cached_property
    def world(self) -> World:
        """The world's truth: every table of it."""
        return World.load(self.path)

    @cached_property
    def bureaus(self) -> dict[str, BureauView]:
        """The run's bureaus by id (``run.bureaus["sesame"]``)."""
        return {name: BureauView(self, name) for name in self.scenario.active_bureaus}

    @cached_property
    def aggregator(self) -> AggregatorView:
        """The run's aggregator."""
        return AggregatorView(self)

    def run(
        self,
        stages: list[str] | None = None,
        *,
        workers: int = 1,
        progress: Any = None,
        bureaus: list[str] | None = None,
        method: str | None = None,
    ) -> Run:
        """Run stages of this run (with what they require) that are not done.

        Parameters
        ----------
        stages
            The stages asked for; every stage when None.
        workers
            Worker processes.
        progress
            Called as ``progress(stage, done, total)``.
        bureaus
            For the per-bureau stages: only these bureaus.
        method
            For reconciliation: the linkage method.

        Returns
        -------
        Run
            This run, with what it read before forgotten.
        """
        self.result = run_stages(
            self.path,
            stages=stages,
            workers=workers,
            progress=progress,
            db_url=self.layout.db_url,
            bureaus=bureaus,
            method=method,
        )
        for name in ("tables", "world", "bureaus", "aggregator"):
            self.__dict__.pop(name, None)
        return self

    def compare(self, workers: int = 1) -> pd.DataFrame:
        """Every bureau and the aggregator side by side against the truth.

        Runs the compare stage first when it is not done.

        Parameters
        ----------
        workers
            Worker processes, if stages have to run.

        Returns
        -------
        pandas.DataFrame
            The ``comparison`` table: one row per bureau and one for the aggregator.
        """
        if "compare" not in self.manifest.get("stages", {}):
            self.run(["compare"], workers=workers)
        return self.tables["comparison"]

    def _summary(self) -> list[tuple[str, str]]:
        """The lines of the summary: what the run is, what is done, its headline figures."""
        scn = self.scenario
        done = self.stages
        rows = [
            ("scenario", f"{scn.name} (seed {scn.seed})"),
            ("world", f"{scn.population.persons:,} persons, {scn.months} months"),
            ("bureaus", ", ".join(scn.active_bureaus)),
            ("stages done", f"{int(done['done'].sum())} of {len(done)}"),
        ]
        if self.layout.report_file("comparison").is_file():
            comparison = self.tables["comparison"].set_index("bureau")
            auc = comparison["truth_auc"].dropna()
            if not auc.empty:
                best = auc.drop("aggregator", errors="ignore")
                line = f"aggregator {auc.get('aggregator', math.nan):.3f}"
                if not best.empty:
                    line += f", best bureau {best.idxmax()} {best.max():.3f}"
                rows.append(("AUC against the truth", line))
        return rows

    def __repr__(self) -> str:
        lines = [f"<bureau.Run {self.path}>"]
        lines += [f"  {key}: {value}" for key, value in self._summary()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        cells = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{html.escape(v)}</td></tr>"
            for k, v in self._summary()
        )
        return f"<b>bureau.Run</b> <code>{html.escape(str(self.path))}</code><table>{cells}</table>"


def run(
    scenario: Scenario | str | Path,
    out: str | Path | None = None,
    *,
    stages: list[str] | None = None,
    workers: int = 1,
    force: bool = False,
    progress: Any = None,
    db_url: str | None = None,
    bureaus: list[str] | None = None,
    method: str | None = None,
) -> Run:
    """Run a scenario's chain, or some of its stages, into ``out``, and open the run.

    The runner of every ``bureau`` command, with the same arguments as
    :func:`~bureau.pipeline.runner.run_stages`: the stages asked for run with every stage they
    require, and what is done for the same inputs is skipped.

    Parameters
    ----------
    scenario
        A :class:`Scenario`, a path to a TOML file, or a bundled scenario's name.
    out
        The run directory (``runs/<scenario name>`` when None).
    stages
        The stages asked for (every stage when None).
    workers
        Worker processes; outputs are identical for any number.
    force
        Replace ``out`` when it is a run made from other inputs.
    progress
        Called as ``progress(stage, done, total)``.
    db_url
        A database server URL for the credit files and the aggregator; SQLite files when None.
    bureaus
        For the stages that run per bureau: only these bureaus.
    method
        For reconciliation: the linkage method (the scenario's when None).

    Returns
    -------
    Run
        The run; ``.result`` says what each stage did in this call.

    Raises
    ------
    BureauError
        If the scenario, a stage, a bureau or the database is not usable.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    target = Path("runs") / scenario.name if out is None else Path(out)
    result = run_stages(
        target,
        scenario,
        stages=stages,
        workers=workers,
        force=force,
        progress=progress,
        db_url=db_url,
        bureaus=bureaus,
        method=method,
    )
    opened = Run(target, db_url=db_url)
    opened.result = result
    return opened
