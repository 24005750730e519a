"""Both model families against scikit-learn's estimator checks, and what the checks leave out.

The checks fit on toy data of a few dozen rows without signal, so each family is checked in a
configuration that can learn at that size; every check runs on it, none is expected to fail.
The bureaus' own settings cannot be checked that way and why not is the data, not the API:

- ``GradientBoostedModel()`` asks for 100 rows in a leaf (``min_child_samples``), so on the
  200 rows of ``check_classifiers_train`` it makes one split at most and cannot reach the 0.83
  accuracy the check asks of the training set;
- ``WOEScorecard()`` leaves out features below an information value of 0.02 (``min_iv``), so
  on the checks' noise it keeps none and refuses to build a card (``TrainingError``), as it
  must: with ``min_iv=0.0`` every feature that varies enters.

One check scikit-learn skips by itself: ``check_array_api_input`` runs only where
``SCIPY_ARRAY_API=1`` is set before SciPy is imported, so it is run here in a process of its
own with that set.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from bureau.bureaus.models.gbm import GradientBoostedModel
from bureau.bureaus.models.scorecard import WOEScorecard

CHECKED = [
    GradientBoostedModel(n_estimators=20, min_child_samples=5),
    WOEScorecard(min_iv=0.0),
]

#: Checks an estimator cannot pass, by estimator and check, with the reason: none.
EXPECTED_FAILURES: dict[str, dict[str, str]] = {
    "GradientBoostedModel": {},
    "WOEScorecard": {},
}


def expected_failures(estimator: BaseEstimator) -> dict[str, str]:
    return EXPECTED_FAILURES[type(estimator).__name__]


@parametrize_with_checks(CHECKED, expected_failed_checks=expected_failures, xfail_strict=True)
def test_scikit_learn_estimator_checks(estimator: BaseEstimator, check) -> None:
    check(estimator)


ARRAY_API_CHECK = f"""
from sklearn.utils.estimator_checks import check_array_api_input
from bureau.bureaus.models import GradientBoostedModel, WOEScorecard

for estimator in [{", ".join(repr(e) for e in CHECKED)}]:
    check_array_api_input(
        type(estimator).__name__, estimator, "numpy", expect_only_array_outputs=False
    )
"""


def test_array_api_dispatch_on_numpy_changes_nothing() -> None:
    env = {**os.environ, "SCIPY_ARRAY_API": "1"}
    done = subprocess.run(
        [sys.executable, "-c", ARRAY_API_CHECK], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def _frame(n: int = 400) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"risk": rng.normal(size=n), "noise": rng.normal(size=n)})
    y = rng.random(n) < 1 / (1 + np.exp(2.0 - 1.5 * X["risk"].to_numpy()))
    X.loc[rng.random(n) < 0.1, "risk"] = np.nan
    return X, y


@pytest.mark.parametrize("estimator", CHECKED, ids=lambda e: type(e).__name__)
def test_missing_values_are_scored_and_infinite_ones_refused(estimator: BaseEstimator) -> None:
    # Missing values are allowed, so the checks do not try infinite ones: refused here.
    X, y = _frame()
    fitted = clone(estimator).fit(X, y)
    assert np.isfinite(fitted.predict_proba(X)).all()
    broken = X.assign(noise=X["noise"].where(X.index != 3, np.inf))
    with pytest.raises(ValueError, match="infinity"):
        fitted.predict_proba(broken)
    with pytest.raises(ValueError, match="infinity"):
        clone(estimator).fit(broken, y)


@pytest.mark.parametrize("estimator", CHECKED, ids=lambda e: type(e).__name__)
def test_the_second_column_is_the_probability_of_bad(estimator: BaseEstimator) -> None:
    X, y = _frame()
    fitted = clone(estimator).fit(X, y)
    assert fitted.classes_.tolist() == [False, True]
    bad = fitted.predict_proba(X)[:, 1]
    assert bad[y].mean() > bad[~y].mean()
    assert fitted.predict(X).dtype == bool


def test_binning_alone_fits_nothing_and_reused_bins_learn_the_inputs() -> None:
    X, y = _frame()
    card = WOEScorecard(min_iv=0.0)
    bins = card.bin_features(X, y)
    assert [b.name for b in bins] == ["risk", "noise"]
    assert not any(name.endswith("_") for name in vars(card))
    card.fit_bins(bins[:1], ["risk"], y)
    assert card.n_features_in_ == 1
    assert card.feature_names_in_.tolist() == ["risk"]
    assert card.predict_proba(X[["risk"]]).shape == (len(X), 2)
