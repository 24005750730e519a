"""Experiments: grids of scenario settings, each run with several seeds, and their summaries.

Experiments sit beside the pipeline and drive it: :mod:`bureau.experiments.sweep` runs a grid
of settings (:mod:`bureau.experiments.cells`) through whole runs and summarises the runs'
report tables with intervals across seeds (:mod:`bureau.experiments.metrics`); its entry
point, :func:`bureau.experiments.sweep.sweep`, is ``bureau.sweep``.
:mod:`bureau.experiments.figure` draws the summary. :mod:`bureau.experiments.calibrate` fits
scenario keys to published figures (:mod:`bureau.experiments.targets`) with Optuna, each trial
run over seeds by :mod:`bureau.experiments.trials`, and screens them first with SALib
(:mod:`bureau.experiments.screening`); its entry point is ``bureau.calibrate``.
"""

from bureau.experiments.cells import Cell, SweepError, grid, parse_settings, split_values
from bureau.experiments.figure import sweep_figure
from bureau.experiments.metrics import run_metrics, summarise
from bureau.experiments.sweep import CellRun
from bureau.experiments.targets import (
    REPORT_TABLES,
    CalibrationError,
    Parameter,
    Target,
    load_parameters,
    load_targets,
)

__all__ = [
    "REPORT_TABLES",
    "CalibrationError",
    "Cell",
    "CellRun",
    "Parameter",
    "SweepError",
    "Target",
    "grid",
    "load_parameters",
    "load_targets",
    "parse_settings",
    "run_metrics",
    "split_values",
    "summarise",
    "sweep_figure",
]
