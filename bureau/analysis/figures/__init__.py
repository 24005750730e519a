"""The figures of a run's HTML report, each drawn from report tables.

Every function takes the tables it draws (as the compare, reconcile, accuracy and disputes
stages write them) and returns a :class:`matplotlib.figure.Figure` on the non-interactive Agg
canvas; :func:`png_bytes` renders one. Figures are built without pyplot, so nothing is
registered in a global figure manager and no display is needed. Sizes, resolution and style
are fixed, inputs are drawn in table order (which the stages sort), and the PNGs carry no
software or time stamp: the same tables always give the same bytes.

Each score keeps one colour in every figure: the bureaus in alphabetical order take the
qualitative ``tab10`` colours, and the aggregator's consensus is drawn in black.
"""

from bureau.analysis.figures.canvas import DPI, png_bytes, view_colours
from bureau.analysis.figures.files import (
    aggregator_figure,
    disputes_figure,
    file_errors_figure,
    linkage_figure,
    privacy_figure,
)
from bureau.analysis.figures.market import access_figure, market_share_figure
from bureau.analysis.figures.scores import (
    MIGRATION_MIN_PERSONS,
    MIGRATION_PAIRS,
    agreement_figure,
    calibration_figure,
    coverage_figure,
    fairness_figure,
    migration_figure,
    migration_pairs,
    roc_figure,
    score_distribution_figure,
)

__all__ = [
    "DPI",
    "MIGRATION_MIN_PERSONS",
    "MIGRATION_PAIRS",
    "access_figure",
    "aggregator_figure",
    "agreement_figure",
    "calibration_figure",
    "coverage_figure",
    "disputes_figure",
    "fairness_figure",
    "file_errors_figure",
    "linkage_figure",
    "market_share_figure",
    "migration_figure",
    "migration_pairs",
    "png_bytes",
    "privacy_figure",
    "roc_figure",
    "score_distribution_figure",
    "view_colours",
]
