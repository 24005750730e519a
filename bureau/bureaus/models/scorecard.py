"""The WOE logistic scorecard: optimal binning (optbinning), then a logistic regression.

Each feature is cut into bins by optbinning (monotone in the direction risk is known to go),
each bin replaced by its weight of evidence, features too weak to matter (information value
below a floor) dropped, and a logistic regression fitted on what remains, dropping any feature
whose coefficient comes out with the wrong sign. The fitted card is a
table of bins with their term of the log odds: saved as JSON, scored by lookup
(:mod:`bureau.bureaus.models.additive`) without optbinning, whose import is slow and which is
needed only to fit.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

from bureau.bureaus.models.additive import AdditiveModel, FeatureTable

logger = logging.getLogger(__name__)

_TREND = {1: "ascending", -1: "descending", 0: "auto"}


class WOEScorecard(ClassifierMixin, BaseEstimator):
    """A weight-of-evidence logistic scorecard (scikit-learn estimator).

    Parameters
    ----------
    directions
        Per feature, +1 where a higher value means more risk, -1 less, 0 unknown (the binning
        then finds the trend); None for no constraints.
    max_bins
        Most bins per feature.
    min_bin_size
        Smallest share of rows in a bin.
    min_iv
        Features whose information value falls below this are left out.
    C
        Inverse regularisation strength of the logistic regression.
    """

    def __init__(
        self,
        *,
        directions: list[int] | None = None,
        max_bins: int = 8,
        min_bin_size: float = 0.03,
        min_iv: float = 0.02,
        C: float = 1.0,
    ) -> None:
        self.directions = directions
        self.max_bins = max_bins
        self.min_bin_size = min_bin_size
        self.min_iv = min_iv
        self.C = C

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> WOEScorecard:
        """Bin every feature, keep the informative ones and fit the regression.

        Parameters
        ----------
        X
            Features, one column each.
        y
            Labels (1 = bad).

        Returns
        -------
        WOEScorecard
            self.
        """
        from optbinning import OptimalBinning  # slow to import; only fitting needs it

        with warnings.catch_warnings():
            # optbinning's own pandas usage warns on newer pandas; nothing the caller can act on.
            warnings.filterwarnings("ignore", module="optbinning")
            return self._fit(OptimalBinning, X, y)

    def _fit(self, binning_class: type, X: pd.DataFrame, y: np.ndarray) -> WOEScorecard:

        labels = np.asarray(y).astype(int)
        if len(X) != len(labels) or len(np.unique(labels)) != 2:
            raise ValueError("training needs as many labels as rows, with both classes present")
        features = [str(c) for c in X.columns]
        directions = self.directions or [0] * len(features)
        if len(directions) != len(features):
            raise ValueError("directions must give one entry per feature")
        kept: list[tuple[str, np.ndarray, np.ndarray, float]] = []
        woe_columns = []
        for name, direction in zip(features, directions, strict=True):
            x = X[name].to_numpy(dtype=np.float64)
            present = x[~np.isnan(x)]
            if present.size == 0 or present.min() == present.max():
                continue  # nothing to bin: the feature says the same of everyone
            binning = binning_class(
                name=name,
                dtype="numerical",
                solver="cp",
                max_n_bins=self.max_bins,
                min_bin_size=self.min_bin_size,
                monotonic_trend=_TREND[int(np.sign(direction))],
            )
            binning.fit(x, labels)
            table = binning.binning_table
            built = table.build()
            if table.iv < self.min_iv:
                continue
            splits = np.asarray(binning.splits, dtype=np.float64)
            # The binning table lists the bins, then "Special", then "Missing".
            woe = np.asarray(built["WoE"].iloc[:-1], dtype=np.float64)
            values, missing = woe[: len(splits) + 1], float(woe[len(splits) + 2])
            kept.append((name, splits, values, missing))
            side = np.searchsorted(splits, x, side="right")
            woe_columns.append(np.where(np.isnan(x), missing, values[side]))
        if not kept:
            raise ValueError("no feature carries enough information to build a scorecard")
        regression = LogisticRegression(C=self.C, max_iter=1000)
        # A bin's weight of evidence is the log of its good-to-bad odds, so every coefficient
        # on it must be negative. Correlated features (the worst status in 12 months and
        # ever, say) can push one of them positive, turning its bins upside down: the
        # feature with the most positive coefficient goes, and the rest are refitted.
        while True:
            regression.fit(np.column_stack(woe_columns), labels)
            coef = regression.coef_[0]
            if coef.max() <= 0 or len(kept) == 1:
                break
            worst = int(np.argmax(coef))
            del kept[worst], woe_columns[worst]
        self.tables_ = AdditiveModel(
            float(regression.intercept_[0]),
            tuple(
                FeatureTable(name, splits, coef[i] * values, float(coef[i] * missing), "left")
                for i, (name, splits, values, missing) in enumerate(kept)
            ),
        )
        self.feature_names_in_ = np.array(features, dtype=object)
        self.classes_ = np.array([0, 1])
        logger.info("scorecard: %d of %d features kept", len(kept), len(features))
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Probabilities of good and bad, one row each."""
        bad = self.tables_.predict_pd(X)
        return np.column_stack([1.0 - bad, bad])

    def to_dict(self) -> dict[str, Any]:
        """The fitted card as plain values: every bin of every feature with its term."""
        return {
            "kind": "woe_scorecard",
            "inputs": [str(c) for c in self.feature_names_in_],
            **self.tables_.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WOEScorecard:
        """Rebuild a fitted card from :meth:`to_dict`'s output.

        Parameters
        ----------
        data
            The card.

        Returns
        -------
        WOEScorecard
            The card, ready to score.

        Raises
        ------
        ValueError
            If the card is not a scorecard or its tables are malformed.
        """
        if data.get("kind") != "woe_scorecard":
            raise ValueError("not a WOE scorecard")
        card = cls()
        card.tables_ = AdditiveModel.from_dict(data)
        card.feature_names_in_ = np.array(data["inputs"], dtype=object)
        card.classes_ = np.array([0, 1])
        return card
