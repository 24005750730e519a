from __future__ import annotations

import pytest

from bureau.bureaus.models.gbm import GradientBoostedModel
from bureau.bureaus.models.scorecard import WOEScorecard
from tests.bureaus.fitted import DIRECTIONS, synthetic


@pytest.fixture(scope="session")
def gbm() -> GradientBoostedModel:
    """A small additive LightGBM model of the synthetic data."""
    X, y = synthetic()
    return GradientBoostedModel(directions=DIRECTIONS, n_estimators=60).fit(X, y)


@pytest.fixture(scope="session")
def card() -> WOEScorecard:
    """A WOE scorecard of the synthetic data."""
    X, y = synthetic()
    return WOEScorecard(directions=DIRECTIONS).fit(X, y)
