"""Additive scoring tables: what both bureau model families compile to, and how they score.

A scorecard is a sum of points, one per feature, looked up from the feature's bin. The
gradient-boosted model is trained additive too (every tree splits on one feature only), so it
is also exactly a sum of one step function per feature. Scoring either is then a binary search
per feature and a sum, and each feature's term is its exact contribution to the log odds: the
reason codes are the largest terms, with no approximation and no per-row tree walk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

REASONS = 4


@dataclass(frozen=True)
class FeatureTable:
    """One feature's step function.

    Attributes
    ----------
    name
        The feature.
    splits
        Sorted cut points; ``len(values) == len(splits) + 1``.
    values
        The term (log odds of bad, centred) of each bin, lowest bin first.
    missing
        The term of a missing value.
    closed
        ``"right"``: a value equal to a cut point falls in the bin below it (LightGBM's
        ``x <= threshold``); ``"left"``: in the bin above (a scorecard's ``[a, b)`` bins).
    """

    name: str
    splits: np.ndarray
    values: np.ndarray
    missing: float
    closed: Literal["left", "right"]

    def terms(self, x: np.ndarray) -> np.ndarray:
        """The term of each value of the feature."""
        side = "left" if self.closed == "right" else "right"
        out = self.values[np.searchsorted(self.splits, x, side=side)]
        return np.where(np.isnan(x), self.missing, out)

    def to_dict(self) -> dict[str, Any]:
        """The table as plain values."""
        return {
            "name": self.name,
            "splits": [float(s) for s in self.splits],
            "values": [float(v) for v in self.values],
            "missing": float(self.missing),
            "closed": self.closed,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureTable:
        """Rebuild a table written by :meth:`to_dict`, checking its shape."""
        splits = np.asarray(data["splits"], dtype=np.float64)
        values = np.asarray(data["values"], dtype=np.float64)
        if len(values) != len(splits) + 1 or np.any(np.diff(splits) <= 0):
            raise ValueError(f"feature {data['name']!r}: bins and values do not agree")
        if data["closed"] not in ("left", "right"):
            raise ValueError(f"feature {data['name']!r}: closed must be 'left' or 'right'")
        return cls(data["name"], splits, values, float(data["missing"]), data["closed"])


@dataclass(frozen=True)
class AdditiveModel:
    """A model whose log odds of bad is an intercept plus one term per feature.

    Attributes
    ----------
    intercept
        The log odds of bad when every term is zero.
    tables
        One step function per feature, in the model's feature order.
    """

    intercept: float
    tables: tuple[FeatureTable, ...]

    @property
    def features(self) -> list[str]:
        """The model's features, in order."""
        return [t.name for t in self.tables]

    def contributions(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Each feature's term for each row: its contribution to the log odds of bad.

        Parameters
        ----------
        X
            Rows with the model's features (a DataFrame with those columns, or an array with
            them in order).

        Returns
        -------
        numpy.ndarray
            ``(rows, features)`` float64.
        """
        if isinstance(X, pd.DataFrame):
            columns = [X[t.name].to_numpy(dtype=np.float64, na_value=np.nan) for t in self.tables]
        else:
            matrix = np.asarray(X, dtype=np.float64)
            columns = [matrix[:, i] for i in range(len(self.tables))]
        out = np.empty((len(columns[0]) if columns else 0, len(self.tables)))
        for i, (table, x) in enumerate(zip(self.tables, columns, strict=True)):
            out[:, i] = table.terms(x)
        return out

    def log_odds(self, contributions: np.ndarray) -> np.ndarray:
        """The log odds of bad from the rows' contributions."""
        return self.intercept + contributions.sum(axis=1)

    def predict_pd(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """The probability of default of each row."""
        return 1.0 / (1.0 + np.exp(-self.log_odds(self.contributions(X))))

    def to_dict(self) -> dict[str, Any]:
        """The model as plain values."""
        return {"intercept": float(self.intercept), "features": [t.to_dict() for t in self.tables]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AdditiveModel:
        """Rebuild a model written by :meth:`to_dict`."""
        return cls(
            float(data["intercept"]), tuple(FeatureTable.from_dict(t) for t in data["features"])
        )


def reason_indices(contributions: np.ndarray, k: int = REASONS) -> np.ndarray:
    """Column indices of the ``k`` largest risk-raising terms of each row, largest first.

    Parameters
    ----------
    contributions
        ``(rows, features)`` contributions to the log odds of bad.
    k
        How many per row.

    Returns
    -------
    numpy.ndarray
        ``(rows, k)`` int16; the number of features (one past the last column) where fewer
        than ``k`` terms raise the risk.
    """
    rows, width = contributions.shape
    out = np.full((rows, k), width, dtype=np.int16)
    take = min(k, width)
    if rows == 0 or take == 0:
        return out
    # A stable sort breaks ties between equal terms by feature order.
    top = np.argsort(-contributions, axis=1, kind="stable")[:, :take]
    values = np.take_along_axis(contributions, top, axis=1)
    out[:, :take] = np.where(values > 0, top, width)
    return out


def reason_codes(
    contributions: np.ndarray, features: list[str], k: int = REASONS
) -> list[np.ndarray]:
    """The ``k`` features that lower each row's score most, worst first.

    Parameters
    ----------
    contributions
        ``(rows, features)`` contributions to the log odds of bad.
    features
        The feature names, in column order.
    k
        How many reasons per row.

    Returns
    -------
    list of numpy.ndarray
        ``k`` object arrays; an entry is None where fewer than ``k`` features raise the risk.
    """
    names = np.array([*features, None], dtype=object)
    indices = reason_indices(contributions, k)
    return [names[indices[:, j]] for j in range(k)]
