"""Discrimination metrics of a score against an outcome: AUC, Gini and KS."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve


def discrimination(bad: np.ndarray, pd_: np.ndarray) -> dict[str, float]:
    """How well probabilities of default separate the bad from the good.

    Parameters
    ----------
    bad
        Outcomes (True or 1 for bad).
    pd_
        Probabilities of default (higher is riskier).

    Returns
    -------
    dict
        ``rows``, ``bad_rate``, ``auc``, ``gini`` (2 AUC - 1) and ``ks`` (the largest gap
        between the cumulative shares of bad and good). The three metrics are NaN when only
        one class is present.
    """
    y = np.asarray(bad).astype(bool)
    p = np.asarray(pd_, dtype=np.float64)
    out = {"rows": len(y), "bad_rate": float(y.mean()) if len(y) else float("nan")}
    if len(np.unique(y)) < 2:
        return out | {"auc": float("nan"), "gini": float("nan"), "ks": float("nan")}
    auc = float(roc_auc_score(y, p))
    fpr, tpr, _ = roc_curve(y, p)
    return out | {"auc": auc, "gini": 2.0 * auc - 1.0, "ks": float(np.max(tpr - fpr))}


def rounded(metrics: dict[str, float], digits: int = 6) -> dict[str, float]:
    """Metrics rounded for a report or model card (counts are left as they are).

    Parameters
    ----------
    metrics
        Named figures, as :func:`discrimination` returns them.
    digits
        Decimal places kept.

    Returns
    -------
    dict
        The same keys, floats rounded.
    """
    return {k: (round(v, digits) if isinstance(v, float) else v) for k, v in metrics.items()}
