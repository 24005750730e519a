"""What a sweep measures: the metrics of each run, and their mean and interval across seeds."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from bureau.analysis.market import market_metrics
from bureau.config.market import AGGREGATOR
from bureau.layout import RunLayout

#: The confidence level of the intervals.
CONFIDENCE = 0.95


def run_metrics(root: Path) -> pd.DataFrame:
    """The metrics of one finished run, one row per view and metric.

    Parameters
    ----------
    root
        A run directory that has been through the compare stage, or through the market
        stage only (then only the market's figures).

    Returns
    -------
    pandas.DataFrame
        ``view``, ``metric``, ``value``: every numeric column of ``report/comparison`` per
        bureau and for the aggregator, then for the aggregator ``linkage_f1_<method>`` per
        linkage method and ``visible_coverage`` (the share of the world's persons with a file
        at the aggregator); then the market's figures
        (:func:`~bureau.analysis.market.market_metrics`).
    """
    layout = RunLayout(root)
    parts = []
    # A sweep stopped before the aggregator's stages has the market's figures only.
    if layout.report_file("comparison").exists():
        parts.append(_comparison_metrics(layout))
    market = ("lending", "market_share", "credit_access")
    if all(layout.report_file(name).exists() for name in market):
        parts.append(market_metrics(*(pd.read_parquet(layout.report_file(n)) for n in market)))
    if not parts:
        return pd.DataFrame(columns=["view", "metric", "value"])
    return pd.concat(parts, ignore_index=True)


def _comparison_metrics(layout: RunLayout) -> pd.DataFrame:
    """The comparison's figures per bureau and the aggregator's linkage and coverage."""
    comparison = pd.read_parquet(layout.report_file("comparison"))
    numeric = list(comparison.select_dtypes(include="number").columns)
    views = comparison["bureau"].to_numpy(dtype=object)
    frame = pd.DataFrame(
        {
            "view": np.repeat(views, len(numeric)),
            "metric": np.tile(np.array(numeric, dtype=object), len(views)),
            "value": comparison[numeric].to_numpy(dtype=float).ravel(),
        }
    )
    linkage = pd.read_parquet(layout.report_file("linkage")).sort_values("method")
    coverage = pd.read_parquet(layout.report_file("coverage_accuracy")).set_index("view")
    visible = coverage["coverage"].get(AGGREGATOR, math.nan)
    extra = pd.DataFrame(
        {
            "view": AGGREGATOR,
            "metric": [*("linkage_f1_" + linkage["method"].astype(str)), "visible_coverage"],
            "value": [*linkage["f1"].astype(float), float(visible)],
        }
    )
    return pd.concat([frame, extra], ignore_index=True)


def summarise(values: pd.DataFrame, level: float = CONFIDENCE) -> pd.DataFrame:
    """Mean and Student t confidence interval across seeds, per cell, view and metric.

    Parameters
    ----------
    values
        ``cell``, ``view``, ``metric``, ``value``: one row per seed.
    level
        The confidence level.

    Returns
    -------
    pandas.DataFrame
        ``cell``, ``view``, ``metric``, ``seeds`` (seeds with a value), ``mean``, ``std``
        (sample standard deviation), ``ci_low``, ``ci_high``, in order of first appearance.
        The interval is NaN when fewer than two seeds give a value.
    """
    grouped = values.groupby(["cell", "view", "metric"], sort=False)["value"]
    table = grouped.agg(seeds="count", mean="mean", std="std").reset_index()
    n = table["seeds"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = stats.t.ppf(0.5 + level / 2, np.maximum(n - 1, 1))
        half = np.where(n >= 2, t * table["std"].to_numpy() / np.sqrt(n), np.nan)
    table["ci_low"] = table["mean"] - half
    table["ci_high"] = table["mean"] + half
    return table
