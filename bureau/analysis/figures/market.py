"""The figures of the credit market: market shares over rounds, access to credit by group."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bureau.analysis.figures.canvas import (
    empty_figure,
    in_order,
    new_figure,
    panel_grid,
    styled,
    view_colours,
)


@styled
def market_share_figure(shares: pd.DataFrame) -> Figure:
    """Each bureau's share of the lenders' inquiries, round after round.

    Parameters
    ----------
    shares
        The ``market_share`` table: ``round``, ``bureau``, ``share``, ``subscribers``.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels: the shares stacked by round, and the lenders subscribing to each bureau.
    """
    figure = new_figure(11.0, 3.8)
    if shares.empty:
        return empty_figure(figure, "no market in this run")
    rounds = sorted(shares["round"].unique())
    bureaus = in_order(shares["bureau"])
    colours = view_colours(bureaus)
    share, count = panel_grid(figure, 2, columns=2)
    x = np.arange(len(rounds))
    bottom = np.zeros(len(rounds))
    table = shares.pivot_table(index="bureau", columns="round", values="share", aggfunc="first")
    lenders = shares.pivot_table(
        index="bureau", columns="round", values="subscribers", aggfunc="first"
    )
    for bureau in bureaus:
        values = table.reindex(columns=rounds).loc[bureau].fillna(0.0).to_numpy()
        share.bar(x, values, bottom=bottom, color=colours[bureau], label=bureau, width=0.7)
        bottom += values
        subscribers = lenders.reindex(columns=rounds).loc[bureau].fillna(0.0).to_numpy()
        count.plot(x, subscribers, marker="o", markersize=3, color=colours[bureau], label=bureau)
    for ax in (share, count):
        ax.set_xticks(x, [f"from month {r}" for r in rounds])
    share.set_ylabel("share of inquiries")
    share.set_ylim(0, 1)
    count.set_ylabel("lenders subscribing")
    count.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    figure.suptitle("Market shares of the bureaus, by round")
    return figure


#: The two measures of access to credit, and how each is named on its axis.
_ACCESS = {"approval_rate": "approval rate", "default_rate": "default rate of the approved"}


@styled
def access_figure(access: pd.DataFrame, metric: str) -> Figure:
    """Approval or default rate per group of applicants, round after round, with intervals.

    Parameters
    ----------
    access
        The ``credit_access`` table: ``round``, ``attribute``, ``group``, the metric and its
        ``_low`` / ``_high`` bounds.
    metric
        ``approval_rate`` or ``default_rate``.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per attribute; in each, a line per group over the rounds (round 0 is the
        time before the market), with its 95% interval as error bars.

    Raises
    ------
    ValueError
        If ``metric`` is not one of the two.
    """
    if metric not in _ACCESS:
        raise ValueError(f"no access metric {metric!r}; one of {', '.join(_ACCESS)}")
    attributes = in_order(access["attribute"])
    figure = new_figure(13.0, 3.0 * max(1, -(-len(attributes) // 4)) + 0.6)
    if access.empty:
        return empty_figure(figure, "no applications")
    rounds = sorted(access["round"].unique())
    axes = panel_grid(figure, len(attributes), columns=4, sharey=True)
    for ax, attribute in zip(axes, attributes, strict=True):
        rows = access[access["attribute"] == attribute]
        groups = in_order(rows["group"])
        shift = np.linspace(-0.15, 0.15, len(groups)) if len(groups) > 1 else [0.0]
        for group, offset in zip(groups, shift, strict=True):
            part = rows[rows["group"] == group].set_index("round").reindex(rounds)
            value = part[metric].to_numpy(dtype=np.float64)
            low = part[f"{metric}_low"].to_numpy(dtype=np.float64)
            high = part[f"{metric}_high"].to_numpy(dtype=np.float64)
            error = np.nan_to_num(np.maximum([value - low, high - value], 0.0))
            x = np.arange(len(rounds)) + offset
            ax.errorbar(x, value, yerr=error, marker="o", markersize=3, capsize=2, label=group)
        ax.set_title(attribute)
        ax.set_xticks(np.arange(len(rounds)), [str(r) for r in rounds])
        ax.legend(frameon=False, fontsize=7)
    axes[0].set_ylabel(_ACCESS[metric])
    figure.suptitle(
        f"{_ACCESS[metric].capitalize()} by group of applicants and round (first month; 0: "
        "before the market), with 95% bootstrap intervals"
    )
    return figure
