"""Each score's curves against the truth: its ROC curve, and its files over the common scale.

Both summarise the files a score is judged on (:func:`~bureau.analysis.views.truth_sample`)
in tables of a fixed size, whatever the number of files, so that the figures of the HTML
report can be drawn from the run's report tables alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve

from bureau.analysis.agreement import SCORE_MAX, SCORE_MIN, common_score

#: False positive rates at which :func:`roc_table` gives each curve's true positive rate: a
#: fixed grid keeps the table small (201 rows per score, whatever the files) and alike between
#: runs, and at steps of 0.5% no bend of a curve is lost at the size it is drawn.
ROC_POINTS = 201
#: Width in common-scale points of the bins of :func:`score_distribution`: 22 bins over 300-850,
#: each a little over half a doubling of the odds.
SCORE_BIN = 25

ROC_COLUMNS = ("bureau", "fpr", "tpr")
DISTRIBUTION_COLUMNS = ("bureau", "score_low", "score_high", "files", "defaults")


def roc_table(judged: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Each score's ROC curve against the true outcome, on a fixed grid of false positive rates.

    Parameters
    ----------
    judged
        :func:`~bureau.analysis.views.truth_sample` of each score, by name (as
        :func:`~bureau.analysis.compare.judged_samples` returns).

    Returns
    -------
    pandas.DataFrame
        :data:`ROC_COLUMNS`: per score in the order given, :data:`ROC_POINTS` rows with the
        false positive rate from 0 to 1 and the true positive rate there (linear between the
        curve's corners, as ties between PDs draw it). A score judged on one class only has
        no curve and no rows.
    """
    grid = np.linspace(0.0, 1.0, ROC_POINTS)
    parts = []
    for name, sample in judged.items():
        y = sample["default"].to_numpy(dtype=bool)
        if len(np.unique(y)) < 2:
            continue
        fpr, tpr, _ = roc_curve(y, sample["pd"].to_numpy(dtype=np.float64))
        # The last corner at or before each rate and the first after it: where the curve
        # rises straight up at a rate on the grid, the grid takes the top of the rise.
        before = np.searchsorted(fpr, grid, side="right") - 1
        after = np.minimum(before + 1, len(fpr) - 1)
        span = fpr[after] - fpr[before]
        part = np.divide(grid - fpr[before], span, out=np.zeros_like(grid), where=span > 0)
        rate = tpr[before] + part * (tpr[after] - tpr[before])
        parts.append(pd.DataFrame({"bureau": name, "fpr": grid, "tpr": rate}))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in ROC_COLUMNS}).astype(
            {"bureau": object}
        )
    return pd.concat(parts, ignore_index=True)[list(ROC_COLUMNS)]


def score_distribution(judged: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """How each score's judged files spread over the common scale, and their true defaults.

    Parameters
    ----------
    judged
        :func:`~bureau.analysis.views.truth_sample` of each score, by name (as
        :func:`~bureau.analysis.compare.judged_samples` returns).

    Returns
    -------
    pandas.DataFrame
        :data:`DISTRIBUTION_COLUMNS`: per score in the order given, one row per bin of
        :data:`SCORE_BIN` points from ``SCORE_MIN`` to ``SCORE_MAX`` (every bin present, the
        last one closed), with the files whose PD maps into it
        (:func:`~bureau.analysis.agreement.common_score`) and how many of them defaulted.
    """
    edges = np.arange(SCORE_MIN, SCORE_MAX + SCORE_BIN, SCORE_BIN).astype(np.int64)
    bins = len(edges) - 1
    parts = []
    for name, sample in judged.items():
        score = common_score(sample["pd"].to_numpy(dtype=np.float64))
        where = np.minimum(((score - SCORE_MIN) // SCORE_BIN).astype(np.int64), bins - 1)
        default = sample["default"].to_numpy(dtype=bool)
        parts.append(
            pd.DataFrame(
                {
                    "bureau": name,
                    "score_low": edges[:-1],
                    "score_high": edges[1:],
                    "files": np.bincount(where, minlength=bins),
                    "defaults": np.bincount(where[default], minlength=bins),
                }
            )
        )
    table = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame({c: pd.Series(dtype=np.int64) for c in DISTRIBUTION_COLUMNS})
    )
    return table.astype({"files": np.int64, "defaults": np.int64})[list(DISTRIBUTION_COLUMNS)]
