"""The figures of experiments: a sweep (AUC and coverage per cell), a calibration (search, fit)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

#: The panels of the figure: metric of the summary and its axis label.
PANELS = (
    ("truth_auc", "AUC against the true default"),
    ("coverage", "share of adults scored"),
)
#: The panels of a sweep of the market alone (``until="market"``): lending after it opens.
MARKET_PANELS = (
    ("approval_rate", "approval rate"),
    ("default_rate_approved", "true default rate of the approved"),
)


def sweep_figure(table: pd.DataFrame, dpi: int = 100) -> bytes:
    """Draw a sweep's summary as a PNG: one group of points per cell, one colour per view.

    Each panel shows one metric's mean across seeds with its confidence interval as an
    error bar (none where the interval is NaN, as with one seed): the AUC against the truth
    and the coverage, or, for a sweep that stopped at the market, the approval rate and the
    true default rate of the approved.

    Parameters
    ----------
    table
        The summary of :func:`bureau.experiments.sweep.sweep`: ``cell``, ``view``,
        ``metric``, ``mean``, ``ci_low``, ``ci_high``.
    dpi
        Resolution.

    Returns
    -------
    bytes
        The PNG; the same table gives the same bytes (no software or date in its metadata).
    """
    # The object API, not pyplot: no global figure state, and Agg whatever the backend set.
    from matplotlib.figure import Figure

    panels = PANELS if (table["metric"] == PANELS[0][0]).any() else MARKET_PANELS
    names = [metric for metric, _ in panels]
    cells = list(dict.fromkeys(table["cell"]))
    views = list(dict.fromkeys(table.loc[table["metric"].isin(names), "view"]))
    figure = Figure(figsize=(max(6.0, 1.6 * len(cells) + 3.0), 7.0), layout="constrained")
    axes = figure.subplots(len(panels), 1, sharex=True)
    palette = _palette(len(views))
    width = 0.8 / max(len(views), 1)
    x = np.arange(len(cells), dtype=float)
    for ax, (metric, label) in zip(axes, panels, strict=True):
        rows = table[table["metric"] == metric].set_index(["cell", "view"])
        for i, view in enumerate(views):
            index = pd.MultiIndex.from_product([cells, [view]])
            picked = rows.reindex(index)
            mean = picked["mean"].to_numpy(dtype=float)
            low = np.nan_to_num(mean - picked["ci_low"].to_numpy(dtype=float), nan=0.0)
            high = np.nan_to_num(picked["ci_high"].to_numpy(dtype=float) - mean, nan=0.0)
            is_aggregator = view == "aggregator"
            ax.errorbar(
                x - 0.4 + width * (i + 0.5),
                mean,
                yerr=np.vstack([low, high]),
                fmt="D" if is_aggregator else "o",
                markersize=7 if is_aggregator else 5,
                color="black" if is_aggregator else palette[i],
                capsize=2,
                linewidth=1,
                label=view,
            )
        # Both metrics are shares: an interval from a few seeds may reach past 0 or 1.
        ends = rows[["ci_low", "mean", "ci_high"]].to_numpy(dtype=float)
        low, high = (0.0, 1.0) if np.isnan(ends).all() else (np.nanmin(ends), np.nanmax(ends))
        low, high = max(low, 0.0), min(high, 1.0)
        pad = max(0.05 * (high - low), 0.01)
        ax.set_ylim(low - pad, high + pad)
        ax.set_ylabel(label)
        ax.grid(axis="y", linewidth=0.5, alpha=0.5)
        for boundary in x[1:] - 0.5:
            ax.axvline(boundary, color="grey", linewidth=0.5, alpha=0.5)
    axes[-1].set_xticks(x, [cell.replace("__", "\n") for cell in cells])
    axes[-1].set_xlim(-0.5, len(cells) - 0.5)
    axes[0].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    axes[0].set_title("mean across seeds, 95% interval")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def _palette(n: int) -> list[tuple[float, float, float, float]]:
    """``n`` distinct colours from a qualitative map."""
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return [cmap(i % cmap.N) for i in range(n)]


def calibration_figure(trials: pd.DataFrame, fit: pd.DataFrame) -> bytes:
    """The search and the fit, as a PNG.

    Parameters
    ----------
    trials
        The trials table (:attr:`Calibration.trials`).
    fit
        The fit table (:attr:`Calibration.fit`).

    Returns
    -------
    bytes
        Left: each trial's objective and the best so far; right: each target's distance
        from its value in tolerances, with its 95% interval over seeds, against the band of
        one tolerance.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (search, close) = plt.subplots(
        1, 2, figsize=(11, 0.9 + 0.45 * max(len(fit), 6)), constrained_layout=True
    )
    done = trials[trials["state"] == "complete"]
    search.plot(done["trial"], done["objective"], "o", color="#888888", label="trial")
    search.plot(done["trial"], done["objective"].cummin(), "-", color="#1f5f99", label="best")
    search.set_yscale("log")
    search.set_xlabel("trial")
    search.set_ylabel("objective (mean squared distance, in tolerances)")
    search.set_title("Search")
    search.legend(fontsize=8)
    y = np.arange(len(fit))[::-1]
    tolerance = fit["tolerance"].to_numpy()
    low = (fit["ci_low"].to_numpy() - fit["value"].to_numpy()) / tolerance
    high = (fit["ci_high"].to_numpy() - fit["value"].to_numpy()) / tolerance
    centre = fit["distance"].to_numpy()
    close.axvspan(-1, 1, color="#dfe9f3", label="within tolerance")
    close.axvline(0, color="#1f5f99", linewidth=0.8)
    with np.errstate(invalid="ignore"):
        errors = np.nan_to_num(np.vstack([centre - low, high - centre]))
    close.errorbar(centre, y, xerr=errors, fmt="o", color="#c0392b", label="best trial")
    close.set_yticks(y, fit["target"])
    close.set_xlabel("(mean - target) / tolerance, with 95% interval over seeds")
    close.set_title("Fit")
    close.legend(fontsize=8, loc="lower right")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()
