"""Experiments: grids of scenario settings, each run with several seeds, and their summaries.

Experiments sit beside the pipeline and drive it: :mod:`bureau.experiments.sweep` runs a grid
of settings (:mod:`bureau.experiments.cells`) through whole runs and summarises the runs'
report tables with intervals across seeds (:mod:`bureau.experiments.metrics`); its entry
point, :func:`bureau.experiments.sweep.sweep`, is ``bureau.sweep``.
:mod:`bureau.experiments.figure` draws the summary.
"""

from bureau.experiments.cells import Cell, SweepError, grid, parse_settings, split_values
from bureau.experiments.figure import sweep_figure
from bureau.experiments.metrics import run_metrics, summarise
from bureau.experiments.sweep import CellRun

__all__ = [
    "Cell",
    "CellRun",
    "SweepError",
    "grid",
    "parse_settings",
    "run_metrics",
    "split_values",
    "summarise",
    "sweep_figure",
]
