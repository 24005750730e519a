"""A run as a researcher meets it in a notebook: :class:`Run`.

``bureau.run(...)`` returns one, and ``bureau.Run("runs/x")`` opens one. It reads what it is
asked for when it is asked (the report tables, the world, a bureau's model), opens and closes
the databases itself, and shows itself as a short summary.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from bureau.config.loader import load_scenario
from bureau.config.scenario import Scenario
from bureau.display import html_summary, text_summary
from bureau.layout import RunLayout
from bureau.pipeline.contract import Stage, Window
from bureau.pipeline.run_views import AggregatorView, BureauView, ReportTables
from bureau.pipeline.runner import RunResult, run_stages
from bureau.pipeline.stages import STAGES
from bureau.rundir import read_manifest
from bureau.world import World


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
        return text_summary(f"bureau.Run {self.path}", self._summary())

    def _repr_html_(self) -> str:
        return html_summary(f"bureau.Run {self.path}", self._summary())


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
    window: Window | None = None,
    registry: Mapping[str, Stage] | None = None,
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
    window
        For the stages that run over a window of months: the window.
    registry
        The stages, in chain order (the package's own when None).

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
        window=window,
        registry=registry,
    )
    opened = Run(target, db_url=db_url)
    opened.result = result
    return opened
