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
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from bureau.analysis.agreement import TIERS
from bureau.analysis.fairness import APPROVAL_PD
from bureau.analysis.views import AGGREGATOR

#: Dots per inch of every figure.
DPI = 100
#: Migration heatmaps drawn: the pairs that agree least and most, half each.
MIGRATION_PAIRS = 6
#: Pairs scoring fewer persons in common than this are left out of the migration heatmaps
#: (their shares are too noisy to single out), unless no pair has that many.
MIGRATION_MIN_PERSONS = 100
#: Panels per row in the small-multiple figures.
COLUMNS = 3

_CONSENSUS_COLOUR = "#000000"
_GREY = "#888888"
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
_FAIRNESS_LABELS = {
    "approval_rate": f"approval rate (PD below {APPROVAL_PD:.0%})",
    "auc": "AUC against the true outcome",
    "calibration_gap": "calibration gap (mean PD minus true default rate)",
}

P = ParamSpec("P")


def _styled(draw: Callable[P, Figure]) -> Callable[P, Figure]:
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


def _new(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _grid(figure: Figure, panels: int, columns: int = COLUMNS, **kwargs: object) -> list[Axes]:
    """A grid of panels, the cells beyond ``panels`` hidden."""
    rows = max(1, math.ceil(panels / columns))
    axes = np.atleast_1d(figure.subplots(rows, columns, squeeze=False, **kwargs)).ravel()
    for spare in axes[panels:]:
        spare.set_visible(False)
    return list(axes[:panels])


def _in_order(column: pd.Series) -> list[str]:
    """Distinct values in the order they first appear."""
    return [str(v) for v in pd.unique(column)]


def _label(name: str) -> str:
    return "aggregator (consensus)" if name == AGGREGATOR else name


def _empty(figure: Figure, message: str) -> Figure:
    figure.text(0.5, 0.5, message, ha="center", va="center", color=_GREY)
    return figure


@_styled
def roc_figure(roc: pd.DataFrame, comparison: pd.DataFrame | None = None) -> Figure:
    """ROC curves against the true outcome, one per score.

    Parameters
    ----------
    roc
        The ``roc`` table: ``bureau``, ``fpr``, ``tpr``.
    comparison
        The ``comparison`` table, for each curve's AUC in the legend (optional).

    Returns
    -------
    matplotlib.figure.Figure
        One panel; the consensus drawn thicker, the diagonal of a score without information
        dashed.
    """
    figure = _new(6.4, 5.6)
    ax = figure.subplots()
    names = _in_order(roc["bureau"])
    colours = view_colours(names)
    auc = {}
    if comparison is not None:
        auc = dict(zip(comparison["bureau"], comparison["truth_auc"], strict=True))
    ax.plot([0, 1], [0, 1], linestyle="--", color=_GREY, linewidth=0.8)
    for name in names:
        curve = roc[roc["bureau"] == name]
        value = auc.get(name, math.nan)
        label = _label(name) + ("" if pd.isna(value) else f"  AUC {value:.3f}")
        wide = 2.2 if name == AGGREGATOR else 1.2
        ax.plot(curve["fpr"], curve["tpr"], color=colours[name], linewidth=wide, label=label)
    ax.set(xlim=(0, 1), ylim=(0, 1), aspect="equal")
    ax.set_xlabel("false positive rate (share of non-defaulters ranked above the cut)")
    ax.set_ylabel("true positive rate (share of defaulters)")
    ax.set_title("ROC against the true 12-month default, at the evaluation snapshot")
    ax.legend(loc="lower right", frameon=False)
    return figure


@_styled
def score_distribution_figure(distribution: pd.DataFrame) -> Figure:
    """Each score's judged files over the common 300-850 scale, defaulters apart.

    Parameters
    ----------
    distribution
        The ``score_distribution`` table: ``bureau``, ``score_low``, ``score_high``,
        ``files``, ``defaults``.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per score: the shares of the files that did not default (bars) and of
        those that did (outline) in each bin, so that the two distributions can be compared
        whatever the default rate.
    """
    names = _in_order(distribution["bureau"])
    rows = max(1, math.ceil(len(names) / COLUMNS))
    figure = _new(10.0, 2.5 * rows + 0.6)
    colours = view_colours(names)
    for ax, name in zip(_grid(figure, len(names), sharex=True), names, strict=False):
        bins = distribution[distribution["bureau"] == name]
        edges = np.append(bins["score_low"].to_numpy(), bins["score_high"].to_numpy()[-1:])
        files = bins["files"].to_numpy(dtype=np.float64)
        defaults = bins["defaults"].to_numpy(dtype=np.float64)
        goods = files - defaults
        ax.stairs(goods / max(goods.sum(), 1), edges, fill=True, color=colours[name], alpha=0.45)
        ax.stairs(defaults / max(defaults.sum(), 1), edges, color="#000000", linewidth=1.2)
        ax.set_title(
            f"{_label(name)}\n{int(files.sum()):,} files, {int(defaults.sum()):,} defaulted"
        )
        ax.set_xlim(edges[0], edges[-1])
    figure.legend(
        handles=[
            Patch(color=_GREY, alpha=0.45, label="did not default"),
            Line2D([], [], color="#000000", label="defaulted"),
        ],
        loc="outside upper center",
        ncols=2,
        frameon=False,
    )
    figure.supxlabel("score on the common scale (660 at odds of 50:1, 40 points per doubling)")
    figure.supylabel("share of the class")
    return figure


@_styled
def calibration_figure(calibration: pd.DataFrame) -> Figure:
    """Mean PD against the true default rate by PD decile, one panel per score.

    Parameters
    ----------
    calibration
        The ``calibration`` table: ``bureau``, ``decile``, ``mean_pd``, ``default_rate``.

    Returns
    -------
    matplotlib.figure.Figure
        Points on the diagonal are calibrated; above it the score understates the risk.
    """
    names = _in_order(calibration["bureau"])
    rows = max(1, math.ceil(len(names) / COLUMNS))
    figure = _new(10.0, 2.8 * rows)
    colours = view_colours(names)
    for ax, name in zip(_grid(figure, len(names)), names, strict=False):
        deciles = calibration[calibration["bureau"] == name]
        x = deciles["mean_pd"].to_numpy(dtype=np.float64)
        y = deciles["default_rate"].to_numpy(dtype=np.float64)
        top = np.nanmax(np.concatenate([x, y, [0.0]]))
        top = 1.05 * top if top > 0 else 1.0
        ax.plot([0, top], [0, top], linestyle="--", color=_GREY, linewidth=0.8)
        ax.plot(x, y, marker="o", markersize=3.5, color=colours[name], linewidth=1.2)
        ax.set(xlim=(0, top), ylim=(0, top), title=_label(name))
    figure.supxlabel("mean PD of the decile")
    figure.supylabel("true default rate")
    return figure


def _matrix(pairwise: pd.DataFrame, column: str) -> tuple[list[str], np.ndarray]:
    names = _in_order(pd.concat([pairwise["bureau_a"], pairwise["bureau_b"]]))
    at = {n: i for i, n in enumerate(names)}
    matrix = np.full((len(names), len(names)), np.nan)
    for a, b, value in zip(
        pairwise["bureau_a"], pairwise["bureau_b"], pairwise[column], strict=True
    ):
        matrix[at[a], at[b]] = matrix[at[b], at[a]] = value
    return names, matrix


def _heatmap(
    ax: Axes, matrix: np.ndarray, labels: list[str], vmin: float, vmax: float, cmap: str
) -> object:
    image = ax.imshow(matrix, vmin=vmin, vmax=vmax, cmap=cmap)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.grid(False)
    middle = (vmin + vmax) / 2
    for (i, j), value in np.ndenumerate(matrix):
        if not np.isnan(value):
            # Light text on the dark end of the colour map.
            dark = value < middle if cmap == "viridis" else abs(value - middle) > 0.3 * vmax
            colour = "#ffffff" if dark else "#000000"
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color=colour)
    return image


@_styled
def agreement_figure(pairwise: pd.DataFrame) -> Figure:
    """How far each pair of bureaus agrees: same risk tier, and rank correlation.

    Parameters
    ----------
    pairwise
        The ``pairwise`` table: ``bureau_a``, ``bureau_b``, ``same_tier``, ``spearman``.

    Returns
    -------
    matplotlib.figure.Figure
        Two symmetric heatmaps: the share of the persons both score whom the two put in the
        same risk tier, and Spearman's correlation of their PDs.
    """
    figure = _new(11.0, 5.0)
    if pairwise.empty:
        return _empty(figure, "fewer than two bureaus score anyone")
    left, right = figure.subplots(1, 2)
    names, same = _matrix(pairwise, "same_tier")
    image = _heatmap(left, same, names, 0.0, 1.0, "viridis")
    figure.colorbar(image, ax=left, shrink=0.8)
    left.set_title("share of common persons in the same risk tier")
    _, rho = _matrix(pairwise, "spearman")
    image = _heatmap(right, rho, names, -1.0, 1.0, "RdBu")
    figure.colorbar(image, ax=right, shrink=0.8)
    right.set_title("Spearman correlation of PDs")
    return figure


def migration_pairs(pairwise: pd.DataFrame, count: int = MIGRATION_PAIRS) -> list[tuple[str, str]]:
    """The pairs of bureaus whose tier migrations are drawn: those agreeing least and most.

    Parameters
    ----------
    pairwise
        The ``pairwise`` table.
    count
        Pairs wanted.

    Returns
    -------
    list of tuple
        ``(bureau_a, bureau_b)``: the ``count // 2`` pairs with the smallest share in the same
        tier, then those with the largest, among pairs with at least
        :data:`MIGRATION_MIN_PERSONS` persons in common (all pairs with anyone in common if
        none has that many); ties broken by the pair's names.
    """
    usable = pairwise[pairwise["persons"] >= MIGRATION_MIN_PERSONS]
    if usable.empty:
        usable = pairwise[pairwise["persons"] > 0]
    ranked = usable.dropna(subset=["same_tier"]).sort_values(
        ["same_tier", "bureau_a", "bureau_b"], kind="stable"
    )
    pairs = list(zip(ranked["bureau_a"], ranked["bureau_b"], strict=True))
    if len(pairs) <= count:
        return pairs
    low = count // 2
    return pairs[:low] + pairs[len(pairs) - (count - low) :]


@_styled
def migration_figure(migration: pd.DataFrame, pairwise: pd.DataFrame) -> Figure:
    """Tier migration between the pairs of bureaus that agree least and most.

    Parameters
    ----------
    migration
        The ``migration`` table: ``bureau_a``, ``bureau_b``, ``tier_a``, ``tier_b``,
        ``persons``.
    pairwise
        The ``pairwise`` table, to choose the pairs (:func:`migration_pairs`).

    Returns
    -------
    matplotlib.figure.Figure
        One heatmap per pair: persons by the tier each bureau gives them, coloured by the
        share of the row (the first bureau's tier) and annotated with the count.
    """
    pairs = migration_pairs(pairwise)
    rows = max(1, math.ceil(len(pairs) / COLUMNS))
    figure = _new(10.0, 3.3 * rows)
    if not pairs:
        return _empty(figure, "no pair of bureaus scores the same persons")
    same = pairwise.set_index(["bureau_a", "bureau_b"])["same_tier"]
    ticks = range(TIERS)
    labels = [str(t + 1) for t in ticks]
    for ax, (a, b) in zip(_grid(figure, len(pairs)), pairs, strict=False):
        cells = migration[(migration["bureau_a"] == a) & (migration["bureau_b"] == b)]
        counts = np.zeros((TIERS, TIERS), dtype=np.int64)
        counts[cells["tier_a"].to_numpy() - 1, cells["tier_b"].to_numpy() - 1] = cells["persons"]
        totals = counts.sum(axis=1, keepdims=True)
        shares = np.divide(counts, totals, out=np.zeros((TIERS, TIERS)), where=totals > 0)
        ax.imshow(shares, vmin=0.0, vmax=1.0, cmap="Blues")
        for (i, j), n in np.ndenumerate(counts):
            colour = "#ffffff" if shares[i, j] > 0.6 else "#000000"
            ax.text(j, i, f"{n:,}", ha="center", va="center", fontsize=7, color=colour)
        ax.set_xticks(ticks, labels)
        ax.set_yticks(ticks, labels)
        ax.grid(False)
        ax.set(xlabel=f"{b} tier", ylabel=f"{a} tier")
        ax.set_title(f"{a} / {b}: {same.loc[(a, b)]:.0%} same tier")
    return figure


@_styled
def coverage_figure(comparison: pd.DataFrame) -> Figure:
    """Shares of adults each score reaches: scored with a full file, scored thin, invisible.

    Parameters
    ----------
    comparison
        The ``comparison`` table: ``bureau``, ``coverage``, ``thin_file``, ``invisible``.

    Returns
    -------
    matplotlib.figure.Figure
        One stacked bar per score, the first at the top, the coverage written at its end.
    """
    names = [str(n) for n in comparison["bureau"]]
    figure = _new(8.0, 0.45 * len(names) + 1.6)
    ax = figure.subplots()
    y = np.arange(len(names))[::-1]
    thin = comparison["thin_file"].to_numpy(dtype=np.float64)
    full = comparison["coverage"].to_numpy(dtype=np.float64) - thin
    invisible = comparison["invisible"].to_numpy(dtype=np.float64)
    ax.barh(y, full, color="#2b8cbe", label="scored, 2 or more tradelines")
    ax.barh(y, thin, left=full, color="#a6bddb", label="scored, thin file")
    ax.barh(y, invisible, left=full + thin, color="#e0e0e0", label="invisible")
    for row, covered in zip(y, full + thin, strict=True):
        if not np.isnan(covered):
            ax.text(covered, row, f" {covered:.1%}", va="center", fontsize=8)
    ax.set_yticks(y, [_label(n) for n in names])
    ax.set(xlim=(0, 1), xlabel="share of adults")
    ax.grid(axis="y", visible=False)
    ax.set_title("coverage at the evaluation snapshot")
    figure.legend(loc="outside lower center", ncols=3, frameon=False)
    return figure


@_styled
def fairness_figure(fairness: pd.DataFrame, metric: str) -> Figure:
    """One fairness metric per group of persons, with its bootstrap interval, per score.

    Parameters
    ----------
    fairness
        The ``fairness`` table: ``bureau``, ``attribute``, ``group``, the metric and its
        ``_low`` / ``_high`` bounds.
    metric
        ``approval_rate``, ``auc`` or ``calibration_gap``.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per attribute; in each, a row per score and a marker per group with the
        95% interval as an error bar.

    Raises
    ------
    ValueError
        If ``metric`` is not one of the three.
    """
    if metric not in _FAIRNESS_LABELS:
        raise ValueError(f"no fairness metric {metric!r}; one of {', '.join(_FAIRNESS_LABELS)}")
    names = _in_order(fairness["bureau"])
    attributes = _in_order(fairness["attribute"])
    figure = _new(14.0, 0.42 * len(names) + 2.0)
    if fairness.empty:
        return _empty(figure, "no scored persons")
    axes = figure.subplots(1, len(attributes), sharey=True, squeeze=False)[0]
    y = {name: len(names) - 1 - i for i, name in enumerate(names)}
    markers = ("o", "s", "^", "D", "v", "P")
    for ax, attribute in zip(axes, attributes, strict=True):
        rows = fairness[fairness["attribute"] == attribute]
        groups = _in_order(rows["group"])
        offsets = np.linspace(-0.25, 0.25, len(groups)) if len(groups) > 1 else [0.0]
        for k, (group, offset) in enumerate(zip(groups, offsets, strict=True)):
            part = rows[rows["group"] == group]
            value = part[metric].to_numpy(dtype=np.float64)
            low = part[f"{metric}_low"].to_numpy(dtype=np.float64)
            high = part[f"{metric}_high"].to_numpy(dtype=np.float64)
            error = np.nan_to_num(np.maximum([value - low, high - value], 0.0))
            ax.errorbar(
                value,
                [y[n] + offset for n in part["bureau"]],
                xerr=error,
                fmt=markers[k % len(markers)],
                markersize=3.5,
                capsize=2,
                elinewidth=0.9,
                label=str(group),
            )
        if metric == "calibration_gap":
            ax.axvline(0.0, color=_GREY, linewidth=0.8)
        ax.set_title(attribute)
        ax.grid(axis="y", visible=False)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncols=2, frameon=False)
    axes[0].set_yticks(list(y.values()), [_label(n) for n in y])
    figure.suptitle(f"{_FAIRNESS_LABELS[metric]}, with 95% bootstrap intervals")
    return figure


def _bar_labels(ax: Axes, bars: object, form: str) -> None:
    ax.bar_label(bars, fmt=form, fontsize=7, padding=2)


@_styled
def linkage_figure(linkage: pd.DataFrame) -> Figure:
    """How well each linkage method joins the bureaus' files into persons.

    Parameters
    ----------
    linkage
        The ``linkage`` table: ``method``, ``precision``, ``recall``, ``f1``,
        ``persons_split``, ``keys_merged``.

    Returns
    -------
    matplotlib.figure.Figure
        Pairwise precision, recall and F1 per method; persons split over several keys and
        keys merging several persons per method.
    """
    figure = _new(10.0, 3.8)
    left, right = figure.subplots(1, 2)
    methods = [str(m) for m in linkage["method"]]
    x = np.arange(len(methods))
    width = 0.26
    lowest = 1.0
    for k, (column, colour) in enumerate(
        (("precision", "#1b9e77"), ("recall", "#d95f02"), ("f1", "#7570b3"))
    ):
        values = linkage[column].to_numpy(dtype=np.float64)
        lowest = min(lowest, float(np.nanmin(values, initial=1.0)))
        bars = left.bar(x + (k - 1) * width, values, width, color=colour, label=column)
        _bar_labels(left, bars, "%.3f")
    left.set_xticks(x, methods)
    # The methods differ in the last few points: start the axis just below the lowest bar.
    left.set_ylim(max(0.0, math.floor(lowest * 20) / 20 - 0.05), 1.02)
    left.set_title("pairwise precision, recall and F1 against the truth")
    left.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncols=3, frameon=False)
    for k, (column, colour) in enumerate(
        (("persons_split", "#e7298a"), ("keys_merged", "#66a61e"))
    ):
        values = linkage[column].to_numpy(dtype=np.float64)
        bars = right.bar(x + (k - 0.5) * 0.36, values, 0.36, color=colour, label=column)
        _bar_labels(right, bars, "%d")
    right.set_xticks(x, methods)
    right.set_title("persons split over keys, keys merging persons")
    right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncols=2, frameon=False)
    return figure


def _view_bars(ax: Axes, names: list[str], values: np.ndarray, form: str, title: str) -> None:
    colours = view_colours(names)
    y = np.arange(len(names))[::-1]
    bars = ax.barh(y, values, color=[colours[n] for n in names])
    _bar_labels(ax, bars, form)
    ax.set_yticks(y, [_label(n) for n in names])
    ax.grid(axis="y", visible=False)
    ax.set_title(title)


def _aggregator_last(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    last = (frame[key] == AGGREGATOR).to_numpy()
    return pd.concat([frame[~last], frame[last]], ignore_index=True)


@_styled
def aggregator_figure(consensus: pd.DataFrame, coverage: pd.DataFrame) -> Figure:
    """What the aggregator gains over each bureau alone.

    Parameters
    ----------
    consensus
        The ``consensus`` table: ``view``, ``auc``.
    coverage
        The ``coverage_accuracy`` table: ``view``, ``coverage``, ``defaults_seen_share``.

    Returns
    -------
    matplotlib.figure.Figure
        Per bureau and for the aggregator: the out-of-time AUC against the truth, the share
        of adults visible, and the share of the year's true defaults seen by the evaluation
        snapshot.
    """
    figure = _new(12.0, 0.3 * max(len(consensus), len(coverage)) + 1.8)
    axes = figure.subplots(1, 3)
    consensus = _aggregator_last(consensus, "view")
    coverage = _aggregator_last(coverage, "view")
    _view_bars(
        axes[0],
        [str(v) for v in consensus["view"]],
        consensus["auc"].to_numpy(dtype=np.float64),
        "%.3f",
        "AUC against the truth",
    )
    axes[0].set_xlim(0.5, 1.0)
    names = [str(v) for v in coverage["view"]]
    _view_bars(axes[1], names, coverage["coverage"].to_numpy(dtype=np.float64), "%.3f", "coverage")
    _view_bars(
        axes[2],
        names,
        coverage["defaults_seen_share"].to_numpy(dtype=np.float64),
        "%.3f",
        "share of the true defaults seen",
    )
    for ax in axes[1:]:
        ax.set_xlim(0.0, 1.1)
    return figure


@_styled
def file_errors_figure(file_accuracy: pd.DataFrame) -> Figure:
    """Errors in each bureau's credit files, measured against the truth.

    Parameters
    ----------
    file_accuracy
        The ``file_accuracy`` table: ``bureau``, ``files``, ``with_file``,
        ``material_error_rate``, ``wrong_status``, ``other_persons_account``,
        ``missing_account``, ``wrongful_public_record``, ``fragmented_persons``,
        ``mixed_files``.

    Returns
    -------
    matplotlib.figure.Figure
        The share of files with a material error; the share of files with each kind of
        error (a file can have several); persons spread over several files and files mixing
        several persons, as shares of persons with a file and of files.
    """
    names = [str(n) for n in file_accuracy["bureau"]]
    figure = _new(13.0, 0.35 * len(names) + 2.0)
    axes = figure.subplots(1, 3, sharey=True)
    files = file_accuracy["files"].to_numpy(dtype=np.float64)
    y = np.arange(len(names))[::-1]
    colours = view_colours(names)
    bars = axes[0].barh(
        y,
        file_accuracy["material_error_rate"].to_numpy(dtype=np.float64),
        color=[colours[n] for n in names],
    )
    _bar_labels(axes[0], bars, "%.3f")
    axes[0].set_title("files with a material error")
    kinds = ("wrong_status", "missing_account", "wrongful_public_record", "other_persons_account")
    height = 0.8 / len(kinds)
    for k, kind in enumerate(kinds):
        share = np.divide(file_accuracy[kind].to_numpy(dtype=np.float64), files)
        axes[1].barh(y + (1.5 - k) * height, share, height, label=kind.replace("_", " "))
    axes[1].set_title("files with each kind of error")
    axes[1].legend(loc="lower right", frameon=False)
    split = np.divide(
        file_accuracy["fragmented_persons"].to_numpy(dtype=np.float64),
        file_accuracy["with_file"].to_numpy(dtype=np.float64),
    )
    mixed = np.divide(file_accuracy["mixed_files"].to_numpy(dtype=np.float64), files)
    axes[2].barh(y + 0.2, split, 0.4, color="#e7298a", label="persons over several files")
    axes[2].barh(y - 0.2, mixed, 0.4, color="#66a61e", label="files of several persons")
    axes[2].set_title("fragmented persons and mixed files")
    axes[2].legend(loc="lower right", frameon=False)
    axes[0].set_yticks(y, names)
    for ax in axes:
        ax.grid(axis="y", visible=False)
        ax.set_xlabel("share")
    return figure


@_styled
def disputes_figure(disputes: pd.DataFrame, by_severity: pd.DataFrame) -> Figure:
    """Consumers' disputes: how many errors are disputed and corrected, and what it changes.

    Parameters
    ----------
    disputes
        The ``disputes`` table: ``bureau``, ``disputed_share``, ``corrected_share``,
        ``still_present_share``, ``mean_score_change``.
    by_severity
        The ``disputes_by_severity`` table: ``bureau``, ``severity``, ``errors``,
        ``disputed``, ``corrected``.

    Returns
    -------
    matplotlib.figure.Figure
        Per bureau the shares of its errors disputed, corrected and still on file at the
        evaluation snapshot; errors, disputes and corrections by severity over all bureaus;
        and the mean score change of the consumers rescored.
    """
    names = [str(n) for n in disputes["bureau"]]
    figure = _new(13.0, 0.35 * len(names) + 2.2)
    axes = figure.subplots(1, 3)
    y = np.arange(len(names))[::-1]
    parts = (
        ("disputed_share", "disputed", "#7570b3"),
        ("corrected_share", "corrected", "#1b9e77"),
        ("still_present_share", "still on file", "#d95f02"),
    )
    for k, (column, label, colour) in enumerate(parts):
        values = disputes[column].to_numpy(dtype=np.float64)
        axes[0].barh(y + (1 - k) * 0.27, values, 0.27, color=colour, label=label)
    axes[0].set_yticks(y, names)
    axes[0].set(xlim=(0, 1), xlabel="share of the errors at the development snapshot")
    axes[0].set_title("errors disputed, corrected, still on file")
    axes[0].legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=3, frameon=False)
    totals = by_severity.groupby("severity", sort=False)[["errors", "disputed", "corrected"]].sum()
    x = np.arange(len(totals))
    for k, (column, colour) in enumerate(
        (("errors", "#d95f02"), ("disputed", "#7570b3"), ("corrected", "#1b9e77"))
    ):
        bars = axes[1].bar(x + (k - 1) * 0.27, totals[column], 0.27, color=colour, label=column)
        _bar_labels(axes[1], bars, "%d")
    axes[1].set_xticks(x, [str(s) for s in totals.index])
    axes[1].set_title("by severity, all bureaus")
    axes[1].legend(loc="upper right", frameon=False)
    colours = view_colours(names)
    change = disputes["mean_score_change"].to_numpy(dtype=np.float64)
    bars = axes[2].barh(y, np.nan_to_num(change), color=[colours[n] for n in names])
    _bar_labels(axes[2], bars, "%.1f")
    axes[2].set_yticks(y, names)
    axes[2].axvline(0.0, color=_GREY, linewidth=0.8)
    axes[2].set(xlabel="points on the bureau's own scale")
    axes[2].set_title("mean score change of the rescored")
    for ax in (axes[0], axes[2]):
        ax.grid(axis="y", visible=False)
    return figure


@_styled
def privacy_figure(ledger: pd.DataFrame) -> Figure:
    """What each bureau holds about its consumers, beside what each kind of data predicts.

    Parameters
    ----------
    ledger
        The ``privacy_ledger`` table: ``bureau``, ``category``, ``held``, ``per_consumer``,
        ``truth_auc_gain``.

    Returns
    -------
    matplotlib.figure.Figure
        Two heatmaps of bureaus by category: the data points held per consumer (a log colour
        scale; blank where the bureau holds none), and the out-of-time AUC against the truth
        that the category's feature group adds to the bureau's model (blank where it was not
        measured: not held, or no model).
    """
    if ledger.empty:
        return _empty(_new(11.0, 4.0), "no bureau has a privacy ledger")
    names = _in_order(ledger["bureau"])
    categories = list(dict.fromkeys(str(c) for c in ledger["category"]))
    figure = _new(13.0, 0.4 * len(names) + 3.0)
    left, right = figure.subplots(1, 2, sharey=True)
    held = ledger.pivot_table(
        index="bureau", columns="category", values="per_consumer", aggfunc="first", dropna=False
    )
    held = held.reindex(index=names, columns=categories).to_numpy(dtype=np.float64, copy=True)
    held[held <= 0] = np.nan
    # A few values per consumer (public records) to hundreds (platform signals): log scale.
    logged = np.log10(held)
    known = np.isfinite(logged).any()
    top = float(np.nanmax(logged)) if known else 1.0
    low = min(0.0, float(np.nanmin(logged))) if known else 0.0
    image = left.imshow(logged, vmin=low, vmax=top)
    gain = ledger.pivot_table(
        index="bureau", columns="category", values="truth_auc_gain", aggfunc="first", dropna=False
    )
    gain = gain.reindex(index=names, columns=categories).to_numpy(dtype=np.float64)
    bound = max(0.05, float(np.nanmax(np.abs(gain)))) if np.isfinite(gain).any() else 0.05
    shown = right.imshow(gain, vmin=-bound, vmax=bound, cmap="RdBu")
    # Light text on the dark ends of the colour maps.
    dark = (logged < (low + top) / 2, np.abs(gain) > 0.6 * bound)
    for ax, values, form, on_dark in (
        (left, held, "{:.1f}", dark[0]),
        (right, gain, "{:+.3f}", dark[1]),
    ):
        ax.set_xticks(range(len(categories)), categories, rotation=45, ha="right")
        ax.grid(False)
        for (i, j), value in np.ndenumerate(values):
            if not np.isnan(value):
                colour = "#ffffff" if on_dark[i, j] else "#000000"
                ax.text(
                    j, i, form.format(value), ha="center", va="center", fontsize=7, color=colour
                )
    left.set_yticks(range(len(names)), names)
    figure.colorbar(image, ax=left, shrink=0.8, label="log10 data points per consumer")
    figure.colorbar(shown, ax=right, shrink=0.8, label="AUC added")
    left.set_title("data points held per consumer")
    right.set_title("AUC against the truth the category adds")
    return figure
