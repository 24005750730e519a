"""The chain of stages of a run: the stages, the runner, and batch scoring with a run.

:mod:`bureau.pipeline.contract` says what a stage is, :mod:`bureau.pipeline.stages` declares
each stage, :mod:`bureau.pipeline.runner` runs any of them (with what they require) into a run
directory, :mod:`bureau.pipeline.scoring` scores files of applicants with a bureau of a run.
"""

from bureau.pipeline.contract import Stage, StageContext, StageProgress, StageResult, Window
from bureau.pipeline.jobs import BureauJob, dispute_job, submit_job, train_job
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
    records_json,
    write_report_tables,
)

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
    "Window",
    "check_database",
    "dependents",
    "dispute_job",
    "month_of",
    "plan",
    "records_json",
    "run_stages",
    "score_file",
    "submit_job",
    "train_job",
    "write_report_tables",
]
