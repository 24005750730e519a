"""The chain of stages of a run: the stages, the runner, and batch scoring with a run.

:mod:`bureau.pipeline.contract` says what a stage is, :mod:`bureau.pipeline.stages` declares
each stage, :mod:`bureau.pipeline.runner` runs any of them (with what they require) into a run
directory, :mod:`bureau.pipeline.scoring` scores files of applicants with a bureau of a run.
The stages read the truth through :mod:`bureau.pipeline.truth`, write and read back the
report through :mod:`bureau.pipeline.outputs`, and read a run for the comparison through
:mod:`bureau.pipeline.comparison` (also :func:`compare` from Python).
"""

from bureau.pipeline.comparison import compare, judged_samples
from bureau.pipeline.contract import Stage, StageContext, StageProgress, StageResult, Window
from bureau.pipeline.jobs import BureauJob, dispute_job, submit_job, train_job
from bureau.pipeline.outputs import (
    read_report_tables,
    records_json,
    write_html_report,
    write_report_tables,
)
from bureau.pipeline.runner import (
    RunResult,
    StageOutcome,
    check_database,
    dependents,
    plan,
    run_stages,
)
from bureau.pipeline.scoring import month_of, score_file
from bureau.pipeline.stages import (
    STAGES,
    IngestResult,
    ReconcileResult,
    TablesResult,
)
from bureau.pipeline.truth import TruthSlice

__all__ = [
    "STAGES",
    "BureauJob",
    "IngestResult",
    "ReconcileResult",
    "RunResult",
    "Stage",
    "StageContext",
    "StageOutcome",
    "StageProgress",
    "StageResult",
    "TablesResult",
    "TruthSlice",
    "Window",
    "check_database",
    "compare",
    "dependents",
    "dispute_job",
    "judged_samples",
    "month_of",
    "plan",
    "read_report_tables",
    "records_json",
    "run_stages",
    "score_file",
    "submit_job",
    "train_job",
    "write_html_report",
    "write_report_tables",
]
