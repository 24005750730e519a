"""What both bureau model families share as scikit-learn classifiers: inputs, labels, scoring.

Both families are binary classifiers of default that compile to additive tables
(:mod:`bureau.bureaus.models.additive`), so they validate their inputs, learn their classes and
score rows the same way; each family only says how its tables are fitted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import Tags
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, check_X_y, validate_data

from bureau.bureaus.models.additive import AdditiveModel
from bureau.bureaus.models.scale import ScoreScale, common_scale
from bureau.bureaus.models.table import BinStats, points_table

#: How features are read: as float64, where a missing value is information (no file, no
#: account of a kind) with a term of its own, but an infinite one can only be a defect.
INPUTS: dict[str, Any] = {"dtype": np.float64, "ensure_all_finite": "allow-nan"}


def binary_labels(estimator: str, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The classes of binary training labels, and the labels as 0 / 1 (1 = the second class).

    Parameters
    ----------
    estimator
        The estimator's name, for the error messages.
    y
        The labels, one dimension (as :func:`sklearn.utils.validation.validate_data` leaves
        them).

    Returns
    -------
    classes : numpy.ndarray
        The two classes, sorted; the second is the one whose probability the model gives
        (bad, for the bureaus' ``True`` or ``1``).
    labels : numpy.ndarray
        int64, 1 where the label is the second class.

    Raises
    ------
    ValueError
        If the labels are continuous, of more than two classes, or of one class only.
    """
    check_classification_targets(y)
    kind = type_of_target(y, input_name="y")
    if kind != "binary":
        raise ValueError(
            f"Only binary classification is supported. The type of the target is {kind}."
        )
    classes = np.unique(y)
    if len(classes) != 2:
        raise ValueError(f"{estimator} needs both classes in y to train; y holds one class only")
    return classes, (y == classes[1]).astype(np.int64)


def check_training_data(estimator: str, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Training features and labels checked, without fitting anything.

    Parameters
    ----------
    estimator
        The estimator's name, for the error messages.
    X
        Features, one column each (a DataFrame, or anything array-like).
    y
        Binary labels.

    Returns
    -------
    matrix : numpy.ndarray
        The features as float64.
    labels : numpy.ndarray
        0 / 1 (:func:`binary_labels`).
    names : list of str
        The features' names: a DataFrame's columns where they are all text, else ``x0``,
        ``x1``, ... (as scikit-learn names features it has no names for).
    """
    columns = getattr(X, "columns", None)
    matrix, y = check_X_y(X, y, **INPUTS)
    if columns is not None and all(isinstance(c, str) for c in columns):
        names = [str(c) for c in columns]
    else:
        names = [f"x{i}" for i in range(matrix.shape[1])]
    return matrix, binary_labels(estimator, y)[1], names


class AdditiveClassifier(ClassifierMixin, BaseEstimator):
    """A binary classifier of default whose fitted form is an additive model, ``tables_``.

    Subclasses fit ``tables_`` (and call :meth:`_validate_training` to do so); scoring,
    prediction and the estimator's tags are shared.
    """

    tables_: AdditiveModel

    def __sklearn_tags__(self) -> Tags:
        """Tags: missing values are allowed, and only two classes."""
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        # Default or not: the models compile to one log odds, not one per class.
        tags.classifier_tags.multi_class = False
        return tags

    def _validate_training(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Check the training data, learning ``n_features_in_``, names and ``classes_``.

        Returns
        -------
        matrix : numpy.ndarray
            The features as float64.
        labels : numpy.ndarray
            0 / 1, 1 for the second of ``classes_``.
        """
        matrix, y = validate_data(self, X, y, **INPUTS)
        self.classes_, labels = binary_labels(type(self).__name__, y)
        return matrix, labels

    def _input_names(self) -> list[str]:
        """The names of the input features: as fitted, or ``x0``, ``x1``, ... without names."""
        names = getattr(self, "feature_names_in_", None)
        if names is not None:
            return [str(n) for n in names]
        return [f"x{i}" for i in range(self.n_features_in_)]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities of each class (good, then bad), one row each.

        Parameters
        ----------
        X
            Features, the same columns as in training.

        Returns
        -------
        numpy.ndarray
            ``(rows, 2)``.
        """
        check_is_fitted(self)
        matrix = validate_data(self, X, reset=False, **INPUTS)
        # A scorecard's tables are only the features that entered it, in their input order.
        column = {name: i for i, name in enumerate(self._input_names())}
        bad = self.tables_.predict_pd(matrix[:, [column[t.name] for t in self.tables_.tables]])
        return np.column_stack([1.0 - bad, bad])

    def _bin_stats(self) -> Mapping[str, BinStats] | None:
        """What the model knows of its bins' training rows (None: nothing)."""
        return None

    def table(self, scale: ScoreScale | None = None) -> pd.DataFrame:
        """The model's points: one row per feature and bin, as a scorecard is printed.

        The model is additive, the log odds of bad an intercept plus one term per feature, so
        this is the whole model. A scorecard's bins are those it was fitted with; for the
        gradient-boosted model, whose trees each split on one feature only, a feature's bins
        are the intervals between every threshold its trees use, and the table is exactly
        the booster, not an approximation of it. LightGBM scores a missing value of a
        feature that had none in training as zero, so that feature's ``Missing`` row repeats
        the term of the bin holding zero; and it writes a split at zero as ``1e-35``, so
        ``(-inf, 1e-35]`` is the bin of zero and below.

        Parameters
        ----------
        scale
            The score scale of the points; the common 300-850 scale
            (:func:`~bureau.bureaus.models.scale.common_scale`) when None, an estimator
            knowing no bureau's scale. :meth:`BureauModel.table
            <bureau.bureaus.models.artifacts.BureauModel.table>` puts them on its card's.

        Returns
        -------
        pandas.DataFrame
            ``feature``, ``bin`` (an interval or ``Missing``), ``lower``, ``upper``,
            ``contribution`` (the bin's term of the log odds of bad) and ``points`` (on the
            scale, the intercept and the scale's anchor shared evenly among the features); a
            scorecard adds ``count``, ``event_rate`` and ``woe`` after the bounds, NaN for a
            card read from its file. See
            :func:`~bureau.bureaus.models.table.points_table`.

        Notes
        -----
        The points of a consumer's bins, one per feature, add up to the consumer's score
        before it is rounded to a whole point and clipped to the scale's range.
        """
        check_is_fitted(self)
        return points_table(self.tables_, scale or common_scale(), self._bin_stats())

    def predict(self, X: Any) -> np.ndarray:
        """The more likely class of each row.

        Parameters
        ----------
        X
            Features, the same columns as in training.

        Returns
        -------
        numpy.ndarray
            One of ``classes_`` per row.
        """
        proba = self.predict_proba(X)  # first, so that an unfitted model says so
        return self.classes_[np.argmax(proba, axis=1)]
