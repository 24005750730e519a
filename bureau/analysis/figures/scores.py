"""Figures of the scores compared.

ROC curves, score distributions, calibration, agreement between bureaus, tier migrations,
coverage, and fairness by group.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from bureau.analysis.agreement import TIERS
from bureau.analysis.fairness import APPROVAL_PD
from bureau.analysis.figures.canvas import (
    COLUMNS,
    GREY,
    empty_figure,
    heatmap,
    in_order,
    new_figure,
    panel_grid,
    styled,
    view_colours,
    view_label,
)
from bureau.analysis.views import AGGREGATOR

#: Migration heatmaps drawn: the pairs that agree least and most, half each.
MIGRATION_PAIRS = 6
#: Pairs scoring fewer persons in common than this are left out of the migration heatmaps
#: (their shares are too noisy to single out), unless no pair has that many.
MIGRATION_MIN_PERSONS = 100

_FAIRNESS_LABELS = {
    "approval_rate": f"approval rate (PD below {APPROVAL_PD:.0%})",
    "auc": "AUC against the true outcome",
    "calibration_gap": "calibration gap (mean PD minus true default rate)",
}


@styled
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
    figure = new_figure(6.4, 5.6)
    ax = figure.subplots()
    names = in_order(roc["bureau"])
    colours = view_colours(names)
    auc = {}
    if comparison is not None:
        auc = dict(zip(comparison["bureau"], comparison["truth_auc"], strict=True))
    ax.plot([0, 1], [0, 1], linestyle="--", color=GREY, linewidth=0.8)
    for name in names:
        curve = roc[roc["bureau"] == name]
        value = auc.get(name, math.nan)
        label = view_label(name) + ("" if pd.isna(value) else f"  AUC {value:.3f}")
        wide = 2.2 if name == AGGREGATOR else 1.2
        ax.plot(curve["fpr"], curve["tpr"], color=colours[name], linewidth=wide, label=label)
    ax.set(xlim=(0, 1), ylim=(0, 1), aspect="equal")
    ax.set_xlabel("false positive rate (share of non-defaulters ranked above the cut)")
    ax.set_ylabel("true positive rate (share of defaulters)")
    ax.set_title("ROC against the true 12-month default, at the evaluation snapshot")
    ax.legend(loc="lower right", frameon=False)
    return figure


@styled
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
    names = in_order(distribution["bureau"])
    rows = max(1, math.ceil(len(names) / COLUMNS))
    figure = new_figure(10.0, 2.5 * rows + 0.6)
    colours = view_colours(names)
    for ax, name in zip(panel_grid(figure, len(names), sharex=True), names, strict=False):
        bins = distribution[distribution["bureau"] == name]
        edges = np.append(bins["score_low"].to_numpy(), bins["score_high"].to_numpy()[-1:])
        files = bins["files"].to_numpy(dtype=np.float64)
        defaults = bins["defaults"].to_numpy(dtype=np.float64)
        goods = files - defaults
        ax.stairs(goods / max(goods.sum(), 1), edges, fill=True, color=colours[name], alpha=0.45)
        ax.stairs(defaults / max(defaults.sum(), 1), edges, color="#000000", linewidth=1.2)
        ax.set_title(
            f"{view_label(name)}\n{int(files.sum()):,} files, {int(defaults.sum()):,} defaulted"
        )
        ax.set_xlim(edges[0], edges[-1])
    figure.legend(
        handles=[
            Patch(color=GREY, alpha=0.45, label="did not default"),
            Line2D([], [], color="#000000", label="defaulted"),
        ],
        loc="outside upper center",
        ncols=2,
        frameon=False,
    )
    figure.supxlabel("score on the common scale (660 at odds of 50:1, 40 points per doubling)")
    figure.supylabel("share of the class")
    return figure


@styled
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
    names = in_order(calibration["bureau"])
    rows = max(1, math.ceil(len(names) / COLUMNS))
    figure = new_figure(10.0, 2.8 * rows)
    colours = view_colours(names)
    for ax, name in zip(panel_grid(figure, len(names)), names, strict=False):
        deciles = calibration[calibration["bureau"] == name]
        x = deciles["mean_pd"].to_numpy(dtype=np.float64)
        y = deciles["default_rate"].to_numpy(dtype=np.float64)
        top = np.nanmax(np.concatenate([x, y, [0.0]]))
        top = 1.05 * top if top > 0 else 1.0
        ax.plot([0, top], [0, top], linestyle="--", color=GREY, linewidth=0.8)
        ax.plot(x, y, marker="o", markersize=3.5, color=colours[name], linewidth=1.2)
        ax.set(xlim=(0, top), ylim=(0, top), title=view_label(name))
    figure.supxlabel("mean PD of the decile")
    figure.supylabel("true default rate")
    return figure


def _matrix(pairwise: pd.DataFrame, column: str) -> tuple[list[str], np.ndarray]:
    names = in_order(pd.concat([pairwise["bureau_a"], pairwise["bureau_b"]]))
    at = {n: i for i, n in enumerate(names)}
    matrix = np.full((len(names), len(names)), np.nan)
    for a, b, value in zip(
        pairwise["bureau_a"], pairwise["bureau_b"], pairwise[column], strict=True
    ):
        matrix[at[a], at[b]] = matrix[at[b], at[a]] = value
    return names, matrix


@styled
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
    figure = new_figure(11.0, 5.0)
    if pairwise.empty:
        return empty_figure(figure, "fewer than two bureaus score anyone")
    left, right = figure.subplots(1, 2)
    names, same = _matrix(pairwise, "same_tier")
    image = heatmap(left, same, names, 0.0, 1.0, "viridis")
    figure.colorbar(image, ax=left, shrink=0.8)
    left.set_title("share of common persons in the same risk tier")
    _, rho = _matrix(pairwise, "spearman")
    image = heatmap(right, rho, names, -1.0, 1.0, "RdBu")
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


@styled
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
    figure = new_figure(10.0, 3.3 * rows)
    if not pairs:
        return empty_figure(figure, "no pair of bureaus scores the same persons")
    same = pairwise.set_index(["bureau_a", "bureau_b"])["same_tier"]
    ticks = range(TIERS)
    labels = [str(t + 1) for t in ticks]
    for ax, (a, b) in zip(panel_grid(figure, len(pairs)), pairs, strict=False):
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


@styled
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
    figure = new_figure(8.0, 0.45 * len(names) + 1.6)
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
    ax.set_yticks(y, [view_label(n) for n in names])
    ax.set(xlim=(0, 1), xlabel="share of adults")
    ax.grid(axis="y", visible=False)
    ax.set_title("coverage at the evaluation snapshot")
    figure.legend(loc="outside lower center", ncols=3, frameon=False)
    return figure


@styled
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
    names = in_order(fairness["bureau"])
    attributes = in_order(fairness["attribute"])
    figure = new_figure(14.0, 0.42 * len(names) + 2.0)
    if fairness.empty:
        return empty_figure(figure, "no scored persons")
    axes = figure.subplots(1, len(attributes), sharey=True, squeeze=False)[0]
    y = {name: len(names) - 1 - i for i, name in enumerate(names)}
    markers = ("o", "s", "^", "D", "v", "P")
    for ax, attribute in zip(axes, attributes, strict=True):
        rows = fairness[fairness["attribute"] == attribute]
        groups = in_order(rows["group"])
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
            ax.axvline(0.0, color=GREY, linewidth=0.8)
        ax.set_title(attribute)
        ax.grid(axis="y", visible=False)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncols=2, frameon=False)
    axes[0].set_yticks(list(y.values()), [view_label(n) for n in y])
    figure.suptitle(f"{_FAIRNESS_LABELS[metric]}, with 95% bootstrap intervals")
    return figure
