"""The canvas every figure of the report is drawn on: size, resolution, style and colours.

Figures are built without pyplot, on the non-interactive Agg canvas, so nothing is registered
in a global figure manager and no display is needed; :func:`png_bytes` renders one with no
software or time stamp, so the same figure always gives the same bytes. Each score keeps one
colour in every figure (:func:`view_colours`).
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Callable, Iterable
from typing import ParamSpec

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from bureau.analysis.views import AGGREGATOR

#: Dots per inch of every figure.
DPI = 100
#: Panels per row in the small-multiple figures.
COLUMNS = 3

_CONSENSUS_COLOUR = "#000000"
GREY = "#888888"
# Set explicitly rather than taken from the user's matplotlibrc, so that the report looks and
# renders alike wherever it is made.
_STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.labelsize": 9.0,
    "legend.fontsize": 8.0,
    "xtick.labelsize": 8.0,
    "ytick.labelsize": 8.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "image.cmap": "viridis",
}

P = ParamSpec("P")


def styled(draw: Callable[P, Figure]) -> Callable[P, Figure]:
    """Draw under the report's fixed style (rcParams are read when artists are made)."""

    @functools.wraps(draw)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Figure:
        with matplotlib.rc_context(_STYLE):
            return draw(*args, **kwargs)

    return wrapper


def png_bytes(figure: Figure) -> bytes:
    """Render a figure as PNG.

    Parameters
    ----------
    figure
        A figure of this module.

    Returns
    -------
    bytes
        The PNG at :data:`DPI`, without metadata: the same figure always gives the same bytes.
    """
    buffer = io.BytesIO()
    with matplotlib.rc_context(_STYLE):
        figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def view_colours(names: Iterable[str]) -> dict[str, str]:
    """The colour of each score.

    Parameters
    ----------
    names
        Bureaus, and possibly ``"aggregator"``.

    Returns
    -------
    dict
        A hex colour per name: the bureaus in alphabetical order take ``tab10`` (``tab20``
        beyond ten), the aggregator black.
    """
    bureaus = sorted({n for n in names if n != AGGREGATOR})
    palette = matplotlib.colormaps["tab10" if len(bureaus) <= 10 else "tab20"]
    colours = {b: to_hex(palette(i % palette.N)) for i, b in enumerate(bureaus)}
    colours[AGGREGATOR] = _CONSENSUS_COLOUR
    return colours


def new_figure(width: float, height: float) -> Figure:
    """An empty figure of that size in inches, on its own Agg canvas."""
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def panel_grid(figure: Figure, panels: int, columns: int = COLUMNS, **kwargs: object) -> list[Axes]:
    """A grid of panels, the cells beyond ``panels`` hidden."""
    rows = max(1, math.ceil(panels / columns))
    axes = np.atleast_1d(figure.subplots(rows, columns, squeeze=False, **kwargs)).ravel()
    for spare in axes[panels:]:
        spare.set_visible(False)
    return list(axes[:panels])


def in_order(column: pd.Series) -> list[str]:
    """Distinct values in the order they first appear."""
    return [str(v) for v in pd.unique(column)]


def view_label(name: str) -> str:
    """How a score is named in legends."""
    return "aggregator (consensus)" if name == AGGREGATOR else name


def empty_figure(figure: Figure, message: str) -> Figure:
    """The figure, saying in its middle why there is nothing to draw."""
    figure.text(0.5, 0.5, message, ha="center", va="center", color=GREY)
    return figure


def heatmap(
    ax: Axes,
    matrix: np.ndarray,
    labels: list[str],
    vmin: float,
    vmax: float,
    cmap: str,
    columns: list[str] | None = None,
    form: str = "{:.2f}",
    shown: np.ndarray | None = None,
) -> object:
    """Colour ``matrix`` and write each known cell in it.

    Rows are ``labels``, columns ``columns`` (the same labels when None). Each cell's text is
    ``form`` of ``shown`` (the coloured value when None): a log colour scale shows the value
    itself.
    """
    image = ax.imshow(matrix, vmin=vmin, vmax=vmax, cmap=cmap)
    columns = labels if columns is None else columns
    ax.set_xticks(range(len(columns)), columns, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.grid(False)
    shown = matrix if shown is None else shown
    middle = (vmin + vmax) / 2
    for (i, j), value in np.ndenumerate(matrix):
        if not np.isnan(value):
            # Light text on the dark end of the colour map.
            dark = value < middle if cmap == "viridis" else abs(value - middle) > 0.3 * vmax
            colour = "#ffffff" if dark else "#000000"
            text = form.format(shown[i, j])
            ax.text(j, i, text, ha="center", va="center", fontsize=7, color=colour)
    return image


def bar_labels(ax: Axes, bars: object, form: str) -> None:
    """Write each bar's value at its end."""
    ax.bar_label(bars, fmt=form, fontsize=7, padding=2)
