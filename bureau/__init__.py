"""bureau: a research simulator of a commercial consumer credit reporting market.

Eight competing credit bureaus, each seeing a partial, late and noisy view of one synthetic
world whose truth is known, so that everything they believe can be measured against it.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bureau")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

from bureau.analysis.compare import compare
from bureau.analysis.html_report import write_html_report
from bureau.bureaus.models import load_model
from bureau.config import Scenario, load_scenario
from bureau.errors import BureauError, RunDirectoryError, ScenarioError, TrainingError
from bureau.experiments.sweep import SweepError, sweep
from bureau.layout import RunLayout
from bureau.pipeline import RunResult, run, score_file
from bureau.world import World, simulate, validate_national_ids

__all__ = [
    "BureauError",
    "RunDirectoryError",
    "RunLayout",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "SweepError",
    "TrainingError",
    "World",
    "__version__",
    "compare",
    "load_model",
    "load_scenario",
    "run",
    "score_file",
    "simulate",
    "sweep",
    "validate_national_ids",
    "write_html_report",
]
