"""The parts of a run a researcher reads: its report tables, a bureau, the aggregator.

:class:`~bureau.pipeline.runs.Run` hands them out (``run.tables``, ``run.bureaus["sesame"]``,
``run.aggregator``); each reads what it is asked for when it is asked, and opens and closes
the database it needs.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from bureau.aggregator.consolidated import ConsolidatedFile, consolidated_file
from bureau.bureaus.credit_report import CreditReport, credit_report
from bureau.bureaus.features import snapshot_features
from bureau.bureaus.models.artifacts import BureauModel, load_model
from bureau.bureaus.train import TrainingResult, train_bureau
from bureau.errors import RunDirectoryError
from bureau.layout import RunLayout
from bureau.pipeline.scoring import month_of, score_file
from bureau.store.aggregator_reads import read_person_links

if TYPE_CHECKING:
    from bureau.pipeline.runs import Run


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
        if not self.trained:
            raise RunDirectoryError(
                f"{self.name} has no model: run the train stage (or too few defaults to train)",
                path=directory,
            )
        return load_model(directory)

    @property
    def trained(self) -> bool:
        """Whether the bureau has a model in this run."""
        return self.run.layout.model_card(self.name).is_file()

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

    def retrain(self, family: str | None = None, groups: list[str] | None = None) -> TrainingResult:
        """Train the bureau's model again, apart from the run: another family, fewer sources.

        Nothing of the run changes: the model is returned, not saved.

        Parameters
        ----------
        family
            ``lightgbm`` or ``scorecard``; the profile's when None.
        groups
            The feature groups to use (an ablation withholds some); the profile's when None.

        Returns
        -------
        TrainingResult
            The model with its card, the metrics against what the bureau observed, and the
            scores of every consumer at the evaluation snapshot.
        """
        with self.run.layout.bureau_database(self.name, create=False) as engine:
            return train_bureau(engine, self.run.scenario, self.name, family, groups)

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
