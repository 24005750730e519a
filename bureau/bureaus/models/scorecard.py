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
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from bureau.bureaus.models.additive import AdditiveModel, FeatureTable
from bureau.bureaus.models.classifier import (
    AdditiveClassifier,
    binary_labels,
    check_training_data,
)
from bureau.bureaus.models.table import BinStats
from bureau.errors import TrainingError
from bureau.parallel import one_thread

logger = logging.getLogger(__name__)

_TREND = {1: "ascending", -1: "descending", 0: "auto"}


@dataclass(frozen=True)
class Bins:
    """One feature binned: its cut points, each bin's weight of evidence, and every row's.

    Attributes
    ----------
    name
        The feature.
    splits
        The cut points (a value equal to one falls in the bin above).
    bin_woe
        Weight of evidence of each bin, ``len(splits) + 1`` of them.
    missing
        Weight of evidence of a missing value.
    woe
        Every training row's weight of evidence.
    stats
        Each bin's training rows, bad rows and weight of evidence, then the missing
        values' (for :meth:`WOEScorecard.table`).
    """

    name: str
    splits: np.ndarray
    bin_woe: np.ndarray
    missing: float
    woe: np.ndarray
    stats: BinStats


class WOEScorecard(AdditiveClassifier):
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

    Attributes
    ----------
    tables_
        The fitted card: the features that entered it, each bin with its term of the log odds.
    bin_stats_
        Feature -> its bins' training rows, bad rows and weights of evidence; empty for a card
        read from its file (:meth:`from_dict`), which holds only the terms.
    """

    bin_stats_: dict[str, BinStats]

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

    def fit(self, X: pd.DataFrame | np.ndarray, y: np.ndarray) -> WOEScorecard:
        """Bin every feature, keep the informative ones and fit the regression.

        Parameters
        ----------
        X
            Features, one column each; missing values allowed.
        y
            Labels of two classes; the card gives the probability of the second (``True``
            or ``1``: bad).

        Returns
        -------
        WOEScorecard
            self.

        Raises
        ------
        ValueError
            If the features or labels are malformed, the labels are not of two classes, or
            there is one direction too many or too few.
        bureau.errors.TrainingError
            If no feature carries enough information to build a card.
        """
        matrix, labels = self._validate_training(X, y)
        features = self._input_names()
        self._fit_regression(self._bin(matrix, labels, features), len(features), labels)
        return self

    def bin_features(self, X: pd.DataFrame | np.ndarray, y: np.ndarray) -> list[Bins]:
        """Bin every feature on its own, and keep those informative enough to enter the card.

        A feature's bins depend only on that feature and the labels, so a card fitted on some
        of the features can reuse them (:meth:`fit_bins`), as the data-source ablation does.
        Nothing is fitted: the estimator is left as it was.

        Parameters
        ----------
        X
            Features, one column each; missing values allowed.
        y
            Labels of two classes (the second is bad).

        Returns
        -------
        list of Bins
            The informative features' bins, in column order.

        Raises
        ------
        ValueError
            If the features or labels are malformed, the labels are not of two classes, or
            there is one direction too many or too few.
        """
        matrix, labels, names = check_training_data(type(self).__name__, X, y)
        return self._bin(matrix, labels, names)

    def _bin(self, matrix: np.ndarray, labels: np.ndarray, features: list[str]) -> list[Bins]:
        from optbinning import OptimalBinning  # slow to import; only fitting needs it

        directions = self.directions or [0] * len(features)
        if len(directions) != len(features):
            raise ValueError("directions must give one entry per feature")
        kept: list[Bins] = []
        with warnings.catch_warnings():
            # optbinning's own pandas usage warns on newer pandas; nothing the caller can act on.
            warnings.filterwarnings("ignore", module="optbinning")
            for i, (name, direction) in enumerate(zip(features, directions, strict=True)):
                x = matrix[:, i]
                present = x[~np.isnan(x)]
                if present.size == 0 or present.min() == present.max():
                    continue  # nothing to bin: the feature says the same of everyone
                binning = OptimalBinning(
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
                # The binning table lists the bins, then "Special", then "Missing", then the
                # totals; there are no special values, so "Special" is left out.
                rows = [*range(len(splits) + 1), len(splits) + 2]
                woe = np.asarray(built["WoE"].iloc[rows], dtype=np.float64)
                values, missing = woe[:-1], float(woe[-1])
                side = np.searchsorted(splits, x, side="right")
                column = np.where(np.isnan(x), missing, values[side])
                stats = BinStats(
                    np.asarray(built["Count"].iloc[rows], dtype=np.int64),
                    np.asarray(built["Event"].iloc[rows], dtype=np.int64),
                    woe,
                )
                kept.append(Bins(name, splits, values, missing, column, stats))
        return kept

    def fit_bins(self, bins: list[Bins], features: list[str], y: np.ndarray) -> WOEScorecard:
        """Fit the regression on binned features (:meth:`bin_features`).

        Parameters
        ----------
        bins
            The binned features that may enter the card, in order.
        features
            Every input feature of the card (those left out for want of information too).
        y
            Labels of two classes (the second is bad), one per binned row.

        Returns
        -------
        WOEScorecard
            self.

        Raises
        ------
        ValueError
            If the labels are not of two classes or not one per binned row, or a binned
            feature is not among the inputs.
        bureau.errors.TrainingError
            If no feature carries enough information to build a card.
        """
        classes, labels = binary_labels(type(self).__name__, np.asarray(y))
        if any(len(b.woe) != len(labels) for b in bins):
            raise ValueError("the bins must hold one row per label")
        unknown = sorted({b.name for b in bins} - set(features))
        if unknown:
            raise ValueError(f"binned features not among the inputs: {', '.join(unknown)}")
        self._fit_regression(list(bins), len(features), labels)
        self.classes_ = classes
        self.feature_names_in_ = np.array(features, dtype=object)
        self.n_features_in_ = len(features)
        return self

    def _fit_regression(self, kept: list[Bins], width: int, labels: np.ndarray) -> None:
        """Fit the card's tables, and keep the statistics of the bins of the features in it.

        The tables are the regression on the bins, less any feature whose coefficient comes
        out with the wrong sign.
        """
        if not kept:
            raise TrainingError("no feature carries enough information to build a scorecard")
        # Newton steps on the Cholesky factor converge in a few iterations on a dense matrix
        # of a few dozen columns, several times faster here than L-BFGS, to a tighter optimum.
        regression = LogisticRegression(C=self.C, max_iter=1000, solver="newton-cholesky")
        # A bin's weight of evidence is the log of its good-to-bad odds, so every coefficient
        # on it must be negative. Correlated features (the worst status in 12 months and
        # ever, say) can push one of them positive, turning its bins upside down: the
        # feature with the most positive coefficient goes, and the rest are refitted.
        while True:
            # On one BLAS thread the coefficients are the same bytes on every machine.
            with one_thread():
                regression.fit(np.column_stack([b.woe for b in kept]), labels)
            coef = regression.coef_[0]
            if coef.max() <= 0 or len(kept) == 1:
                break
            del kept[int(np.argmax(coef))]
        logger.info("scorecard: %d of %d features kept", len(kept), width)
        self.bin_stats_ = {b.name: b.stats for b in kept}
        self.tables_ = AdditiveModel(
            float(regression.intercept_[0]),
            tuple(
                FeatureTable(
                    b.name, b.splits, coef[i] * b.bin_woe, float(coef[i] * b.missing), "left"
                )
                for i, b in enumerate(kept)
            ),
        )

    def _bin_stats(self) -> dict[str, BinStats]:
        return self.bin_stats_

    def to_dict(self) -> dict[str, Any]:
        """The fitted card as plain values: every bin of every feature with its term."""
        return {
            "kind": "woe_scorecard",
            "inputs": self._input_names(),
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
            The card, ready to score; its classes are 0 and 1 (bad), the training labels
            not being part of the card.

        Raises
        ------
        ValueError
            If the card is not a scorecard or its tables are malformed.
        """
        if data.get("kind") != "woe_scorecard":
            raise ValueError("not a WOE scorecard")
        card = cls()
        card.tables_ = AdditiveModel.from_dict(data)
        card.bin_stats_ = {}  # the file holds the terms only, not the training rows' counts
        card.feature_names_in_ = np.array(data["inputs"], dtype=object)
        card.n_features_in_ = len(card.feature_names_in_)
        card.classes_ = np.array([0, 1])
        return card
