"""The aggregator as the market's hub: one PD from its member bureaus' answers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from bureau.aggregator.hub import MIN_CLASS, HubModel, fit_hub, hub_features


def _answers(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Two bureaus: ``good`` ranks the outcome well, ``noise`` not at all; ``good`` has gaps."""
    risk = rng.normal(size=n)
    bad = rng.random(n) < 1 / (1 + np.exp(-(risk * 2 - 2)))
    good = 1 / (1 + np.exp(-(risk * 2 - 2 + rng.normal(scale=0.3, size=n))))
    good[rng.random(n) < 0.2] = np.nan
    noise = 1 / (1 + np.exp(-rng.normal(size=n)))
    pds = pd.DataFrame({"good": good, "noise": noise}, index=pd.RangeIndex(n, name="app"))
    return pds, bad


def test_the_features_carry_each_bureaus_log_odds_and_whether_it_had_a_file() -> None:
    pds = pd.DataFrame({"a": [0.5, np.nan], "b": [np.nan, np.nan]}, index=[7, 8])
    features = hub_features(pds, ["a", "b", "c"])
    assert list(features.index) == [7, 8]
    assert features.loc[7, "logit_a"] == 0.0 and features.loc[7, "has_a"] == 1.0
    assert features.loc[8, "has_a"] == 0.0 and features.loc[8, "has_c"] == 0.0
    assert list(features["bureaus_with_file"]) == [1.0, 0.0]
    assert not features["in_default"].any()


def test_the_hub_learns_which_bureau_to_trust() -> None:
    pds, bad = _answers(np.random.default_rng(3), 4000)
    model = fit_hub(pds, bad, ["good", "noise"])
    assert model.fitted is not None
    weights = dict(zip(model.fitted.features, model.fitted.coef, strict=True))
    assert abs(weights["logit_good"]) > 5 * abs(weights["logit_noise"])
    fresh, outcome = _answers(np.random.default_rng(4), 4000)
    hub = model.predict(fresh)
    assert not np.isnan(hub).any()  # every applicant is known to ``noise``
    assert roc_auc_score(outcome, hub) > roc_auc_score(outcome, fresh["noise"]) + 0.2
    # Calibrated: the mean PD is near the observed default rate.
    assert abs(hub.mean() - outcome.mean()) < 0.03
    # Plain data, as the round keeps it.
    assert json.loads(json.dumps(model.to_dict()))["fitted"]["kind"] == "logistic_regression"


def test_before_it_has_seen_enough_defaults_the_hub_trusts_every_bureau_alike() -> None:
    pds = pd.DataFrame({"a": [0.1, 0.2, np.nan], "b": [0.3, np.nan, np.nan]})
    bad = np.array([True, False, False])
    model = fit_hub(pds, bad, ["a", "b"])
    assert isinstance(model, HubModel) and model.fitted is None
    assert bad.sum() < MIN_CLASS and model.rows == 2  # the applicant no bureau knew is left out
    found = model.predict(pds)
    mean_logit = (np.log(0.1 / 0.9) + np.log(0.3 / 0.7)) / 2
    assert np.isclose(found[0], 1 / (1 + np.exp(-mean_logit)))
    assert np.isclose(found[1], 0.2)
    assert np.isnan(found[2])
