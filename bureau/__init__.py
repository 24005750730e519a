"""bureau: a research simulator of a commercial consumer credit reporting market.

Eight competing credit bureaus, each seeing a partial, late and noisy view of one synthetic
world whose truth is known, so that everything they believe can be measured against it.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bureau")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

from bureau.config import Scenario, load_scenario
from bureau.errors import BureauError, RunDirectoryError, ScenarioError
from bureau.pipeline import RunResult, run
from bureau.world import World, simulate, validate_national_ids

__all__ = [
    "BureauError",
    "RunDirectoryError",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "World",
    "__version__",
    "load_scenario",
    "run",
    "simulate",
    "validate_national_ids",
]
