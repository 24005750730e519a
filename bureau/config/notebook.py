"""The setting of the exploration notebooks: a scenario, where runs go, how many processes.

The notebooks run as they are for a reader; the tests run them on a few hundred persons in a
temporary directory by setting environment variables, read here in one place.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bureau.config.loader import load_scenario
from bureau.config.scenario import Scenario

#: The variables read, with their defaults.
VARIABLES = {
    "BUREAU_NOTEBOOK_PERSONS": "20000",
    "BUREAU_NOTEBOOK_RUNS": "runs/notebooks",
    "BUREAU_NOTEBOOK_WORKERS": "2",
    "BUREAU_NOTEBOOK_BUREAUS": "",
}


@dataclass(frozen=True)
class NotebookSetup:
    """What a notebook runs: its scenario, the directory its runs go to, its processes.

    Attributes
    ----------
    scenario
        The scenario, with the population and bureaus the environment asks for.
    runs
        The directory the notebook's runs go to (one run per scenario name).
    workers
        Worker processes.
    """

    scenario: Scenario
    runs: Path
    workers: int

    @property
    def run_dir(self) -> Path:
        """The run directory of the scenario: ``<runs>/<scenario name>``."""
        return self.runs / self.scenario.name


def notebook_setup(
    scenario: str = "small", environ: Mapping[str, str] | None = None
) -> NotebookSetup:
    """The scenario and settings of an exploration notebook, from the environment.

    ``BUREAU_NOTEBOOK_PERSONS`` sets the population (20,000 by default),
    ``BUREAU_NOTEBOOK_RUNS`` where runs go (``runs/notebooks``), ``BUREAU_NOTEBOOK_WORKERS``
    the worker processes (2), and ``BUREAU_NOTEBOOK_BUREAUS`` a comma-separated list of the
    bureaus to keep (all when empty).

    Parameters
    ----------
    scenario
        A bundled scenario's name or a TOML file.
    environ
        The environment (``os.environ`` when None).

    Returns
    -------
    NotebookSetup
        The scenario, the runs' directory and the workers.
    """
    env = {**VARIABLES, **(os.environ if environ is None else environ)}
    settings: dict[str, object] = {"population.persons": int(env["BUREAU_NOTEBOOK_PERSONS"])}
    keep = [b.strip() for b in env["BUREAU_NOTEBOOK_BUREAUS"].split(",") if b.strip()]
    if keep:
        every = load_scenario(scenario, settings).active_bureaus
        settings |= {f"bureaus.{b}.enabled": False for b in every if b not in keep}
    return NotebookSetup(
        load_scenario(scenario, settings),
        Path(env["BUREAU_NOTEBOOK_RUNS"]),
        int(env["BUREAU_NOTEBOOK_WORKERS"]),
    )
