"""The chain of stages of one run: the stages, running them, and batch scoring with a run.

:mod:`bureau.pipeline.stages` holds the stages, :mod:`bureau.pipeline.chain` runs them (a
whole run, or one stage on an existing run), :mod:`bureau.pipeline.scoring` scores files of
applicants with a bureau of a run.
"""

from bureau.pipeline.chain import (
    RunResult,
    StageReport,
    check_database,
    execute,
    run,
    run_stage,
)
from bureau.pipeline.scoring import month_of, score_file
from bureau.pipeline.stages import (
    REQUIRES,
    STAGES,
    BureauJob,
    StageContext,
    StageProgress,
    aggregator_engine,
    dispute_job,
    submit_job,
    train_job,
    write_report,
)

__all__ = [
    "REQUIRES",
    "STAGES",
    "BureauJob",
    "RunResult",
    "StageContext",
    "StageProgress",
    "StageReport",
    "aggregator_engine",
    "check_database",
    "dispute_job",
    "execute",
    "month_of",
    "run",
    "run_stage",
    "score_file",
    "submit_job",
    "train_job",
    "write_report",
]
