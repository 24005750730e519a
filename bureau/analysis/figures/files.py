"""Figures of the files behind the scores.

Linkage and what the aggregator gains, errors on the bureaus' files and disputes, and the
privacy ledger beside the data-source ablation.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bureau.analysis.figures.canvas import (
    GREY,
    bar_labels,
    empty_figure,
    heatmap,
    in_order,
    new_figure,
    styled,
    view_colours,
    view_label,
)
from bureau.analysis.views import AGGREGATOR


@styled
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
    figure = new_figure(10.0, 3.8)
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
        bar_labels(left, bars, "%.3f")
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
        bar_labels(right, bars, "%d")
    right.set_xticks(x, methods)
    right.set_title("persons split over keys, keys merging persons")
    right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncols=2, frameon=False)
    return figure


def _view_bars(ax: Axes, names: list[str], values: np.ndarray, form: str, title: str) -> None:
    colours = view_colours(names)
    y = np.arange(len(names))[::-1]
    bars = ax.barh(y, values, color=[colours[n] for n in names])
    bar_labels(ax, bars, form)
    ax.set_yticks(y, [view_label(n) for n in names])
    ax.grid(axis="y", visible=False)
    ax.set_title(title)


def _aggregator_last(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    last = (frame[key] == AGGREGATOR).to_numpy()
    return pd.concat([frame[~last], frame[last]], ignore_index=True)


@styled
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
    figure = new_figure(12.0, 0.3 * max(len(consensus), len(coverage)) + 1.8)
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


@styled
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
    figure = new_figure(13.0, 0.35 * len(names) + 2.0)
    axes = figure.subplots(1, 3, sharey=True)
    files = file_accuracy["files"].to_numpy(dtype=np.float64)
    y = np.arange(len(names))[::-1]
    colours = view_colours(names)
    bars = axes[0].barh(
        y,
        file_accuracy["material_error_rate"].to_numpy(dtype=np.float64),
        color=[colours[n] for n in names],
    )
    bar_labels(axes[0], bars, "%.3f")
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


@styled
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
    figure = new_figure(13.0, 0.35 * len(names) + 2.2)
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
        bar_labels(axes[1], bars, "%d")
    axes[1].set_xticks(x, [str(s) for s in totals.index])
    axes[1].set_title("by severity, all bureaus")
    axes[1].legend(loc="upper right", frameon=False)
    colours = view_colours(names)
    change = disputes["mean_score_change"].to_numpy(dtype=np.float64)
    bars = axes[2].barh(y, np.nan_to_num(change), color=[colours[n] for n in names])
    bar_labels(axes[2], bars, "%.1f")
    axes[2].set_yticks(y, names)
    axes[2].axvline(0.0, color=GREY, linewidth=0.8)
    axes[2].set(xlabel="points on the bureau's own scale")
    axes[2].set_title("mean score change of the rescored")
    for ax in (axes[0], axes[2]):
        ax.grid(axis="y", visible=False)
    return figure


@styled
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
        return empty_figure(new_figure(11.0, 4.0), "no bureau has a privacy ledger")
    names = in_order(ledger["bureau"])
    categories = list(dict.fromkeys(str(c) for c in ledger["category"]))
    figure = new_figure(13.0, 0.4 * len(names) + 3.0)
    left, right = figure.subplots(1, 2, sharey=True)

    def grid(column: str) -> np.ndarray:
        """``column`` of the ledger, bureaus by categories, NaN where the ledger has none."""
        wide = ledger.pivot_table(
            index="bureau", columns="category", values=column, aggfunc="first", dropna=False
        )
        return wide.reindex(index=names, columns=categories).to_numpy(dtype=np.float64, copy=True)

    held = grid("per_consumer")
    held[held <= 0] = np.nan
    # A few values per consumer (public records) to hundreds (platform signals): log scale.
    logged = np.log10(held)
    known = np.isfinite(logged).any()
    top = float(np.nanmax(logged)) if known else 1.0
    low = min(0.0, float(np.nanmin(logged))) if known else 0.0
    image = heatmap(left, logged, names, low, top, "viridis", categories, "{:.1f}", held)
    gain = grid("truth_auc_gain")
    bound = max(0.05, float(np.nanmax(np.abs(gain)))) if np.isfinite(gain).any() else 0.05
    shown = heatmap(right, gain, names, -bound, bound, "RdBu", categories, "{:+.3f}")
    figure.colorbar(image, ax=left, shrink=0.8, label="log10 data points per consumer")
    figure.colorbar(shown, ax=right, shrink=0.8, label="AUC added")
    left.set_title("data points held per consumer")
    right.set_title("AUC against the truth the category adds")
    return figure
