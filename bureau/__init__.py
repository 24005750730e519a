"""bureau: a research simulator of a commercial consumer credit reporting market.

Eight competing credit bureaus, each seeing a partial, late and noisy view of one synthetic
world whose truth is known, so that everything they believe can be measured against it.
"""

# First: modules imported below read __version__ from the package while it is loading.
from bureau.version import __version__

# isort: split
from bureau.aggregator.consolidated import ConsolidatedFile
from bureau.aggregator.linkage import LinkageError, use_linkage_backend
from bureau.analysis.agreement import common_score, risk_tier
from bureau.bureaus.credit_report import CreditReport
from bureau.bureaus.models import (
    BureauModel,
    GradientBoostedModel,
    ModelCard,
    WOEScorecard,
    load_model,
)
from bureau.config import Scenario, load_scenario
from bureau.config.notebook import NotebookSetup, notebook_setup
from bureau.errors import BureauError, RunDirectoryError, ScenarioError, TrainingError
from bureau.experiments.calibrate import Calibration, calibrate
from bureau.experiments.sweep import SweepError, sweep
from bureau.experiments.targets import CalibrationError
from bureau.layout import RunLayout
from bureau.parallel import SchedulerError, use_scheduler
from bureau.pipeline import (
    STAGES,
    RunResult,
    Stage,
    StageContext,
    StageResult,
    compare,
    score_file,
    write_html_report,
)
from bureau.pipeline.runs import Run, run
from bureau.world import World, simulate, validate_national_ids

__all__ = [
    "STAGES",
    "BureauError",
    "BureauModel",
    "Calibration",
    "CalibrationError",
    "ConsolidatedFile",
    "CreditReport",
    "GradientBoostedModel",
    "LinkageError",
    "ModelCard",
    "NotebookSetup",
    "Run",
    "RunDirectoryError",
    "RunLayout",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "SchedulerError",
    "Stage",
    "StageContext",
    "StageResult",
    "SweepError",
    "TrainingError",
    "WOEScorecard",
    "World",
    "__version__",
    "calibrate",
    "common_score",
    "compare",
    "load_model",
    "load_scenario",
    "notebook_setup",
    "risk_tier",
    "run",
    "score_file",
    "simulate",
    "sweep",
    "use_linkage_backend",
    "use_scheduler",
    "validate_national_ids",
    "write_html_report",
]
