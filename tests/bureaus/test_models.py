"""The model families, their additive tables, score scales and model artifacts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bureau.bureaus.models.additive import AdditiveModel, FeatureTable, reason_codes
from bureau.bureaus.models.artifacts import BureauModel, ModelError, load_model, save_model
from bureau.bureaus.models.gbm import GradientBoostedModel
from bureau.bureaus.models.scale import common_scale, scale_for, to_pd, to_score
from bureau.bureaus.models.scorecard import WOEScorecard
from bureau.errors import BureauError, TrainingError


def synthetic(n: int = 4000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "risk": rng.normal(size=n),
            "safety": rng.normal(size=n),
            "noise": rng.normal(size=n),
            "count": rng.integers(0, 5, n).astype(float),
        }
    )
    X.loc[rng.random(n) < 0.2, "safety"] = np.nan
    logit = -3.0 + 1.2 * X["risk"] - 0.8 * X["safety"].fillna(0.5) + 0.3 * X["count"]
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    return X, y.astype(int)


DIRECTIONS = [1, -1, 0, 1]


@pytest.fixture(scope="module")
def gbm() -> GradientBoostedModel:
    X, y = synthetic()
    return GradientBoostedModel(directions=DIRECTIONS, n_estimators=60).fit(X, y)


@pytest.fixture(scope="module")
def card() -> WOEScorecard:
    X, y = synthetic()
    return WOEScorecard(directions=DIRECTIONS).fit(X, y)


def test_table_bins_follow_each_convention_at_the_cut_points() -> None:
    x = np.array([-1.0, 0.0, 0.5, 1.0, 2.0, np.nan])
    right = FeatureTable("f", np.array([0.0, 1.0]), np.array([1.0, 2.0, 3.0]), 9.0, "right")
    left = FeatureTable("f", np.array([0.0, 1.0]), np.array([1.0, 2.0, 3.0]), 9.0, "left")
    # LightGBM sends x <= threshold left; a scorecard's bins are [a, b).
    assert right.terms(x).tolist() == [1.0, 1.0, 2.0, 2.0, 3.0, 9.0]
    assert left.terms(x).tolist() == [1.0, 2.0, 2.0, 3.0, 3.0, 9.0]


def test_malformed_tables_are_refused() -> None:
    with pytest.raises(ValueError, match="bins and values"):
        FeatureTable.from_dict(
            {"name": "f", "splits": [1.0, 0.0], "values": [0, 1, 2], "missing": 0, "closed": "left"}
        )


def test_compiled_tables_reproduce_the_booster_exactly(gbm: GradientBoostedModel) -> None:
    X, _ = synthetic(3000, seed=1)
    X.loc[:50, "risk"] = np.nan
    raw = gbm.booster_.predict(X.to_numpy(), raw_score=True)
    contributions = gbm.tables_.contributions(X)
    np.testing.assert_allclose(gbm.tables_.log_odds(contributions), raw, rtol=0, atol=1e-9)
    shap = gbm.booster_.predict(X.to_numpy()[:200], pred_contrib=True)
    np.testing.assert_allclose(contributions[:200], shap[:, :-1], atol=1e-9)


def test_gbm_respects_known_directions(gbm: GradientBoostedModel) -> None:
    grid = pd.DataFrame(
        {
            "risk": np.linspace(-3, 3, 50),
            "safety": np.linspace(-3, 3, 50),
            "noise": 0.0,
            "count": 1.0,
        }
    )
    terms = gbm.tables_.contributions(grid)
    assert np.all(np.diff(terms[:, 0]) >= 0)  # more of a risk never lowers the risk
    assert np.all(np.diff(terms[:, 1]) <= 0)


def test_gbm_text_round_trip_and_determinism(gbm: GradientBoostedModel) -> None:
    X, y = synthetic()
    again = GradientBoostedModel(directions=DIRECTIONS, n_estimators=60).fit(X, y)
    assert again.to_text() == gbm.to_text()
    loaded = GradientBoostedModel.from_text(gbm.to_text())
    np.testing.assert_array_equal(loaded.predict_proba(X), gbm.predict_proba(X))


def test_gbm_refuses_a_single_class() -> None:
    X, _ = synthetic(200)
    with pytest.raises(ValueError, match="both classes"):
        GradientBoostedModel().fit(X, np.zeros(200))


def test_scorecard_keeps_informative_features_monotone(card: WOEScorecard) -> None:
    kept = card.tables_.features
    assert "risk" in kept and "safety" in kept
    risk = card.tables_.tables[kept.index("risk")]
    assert np.all(np.diff(risk.values) >= 0)
    X, y = synthetic(3000, seed=2)
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(y, card.predict_proba(X)[:, 1]) > 0.75


def test_a_scorecard_on_reused_bins_is_the_scorecard_fitted_afresh() -> None:
    X, y = synthetic()
    bins = WOEScorecard(directions=DIRECTIONS).bin_features(X, y)
    subset = ["risk", "noise", "count"]
    reused = WOEScorecard(directions=[1, 0, 1]).fit_bins(
        [b for b in bins if b.name in subset], subset, y
    )
    afresh = WOEScorecard(directions=[1, 0, 1]).fit(X[subset], y)
    assert reused.to_dict() == afresh.to_dict()
    assert "safety" not in reused.tables_.features


def test_a_scorecard_with_nothing_to_learn_is_a_training_error() -> None:
    _, y = synthetic(400)
    flat = pd.DataFrame({"same": np.ones(400), "empty": np.full(400, np.nan)})
    with pytest.raises(TrainingError, match="no feature carries enough information"):
        WOEScorecard().fit(flat, y)
    assert isinstance(TrainingError("x"), BureauError)


def test_scorecard_json_round_trip(card: WOEScorecard) -> None:
    X, _ = synthetic(500, seed=3)
    loaded = WOEScorecard.from_dict(json.loads(json.dumps(card.to_dict())))
    np.testing.assert_array_equal(loaded.predict_proba(X), card.predict_proba(X))


def test_reason_codes_are_the_largest_risk_raising_terms() -> None:
    contributions = np.array([[0.5, -1.0, 2.0, 0.1, 0.0], [-1.0, -2.0, -0.5, -0.1, -3.0]])
    codes = reason_codes(contributions, ["a", "b", "c", "d", "e"])
    assert [c[0] for c in codes] == ["c", "a", "d", None]
    assert [c[1] for c in codes] == [None, None, None, None]


def test_scale_doubles_the_odds_and_inverts() -> None:
    scale = scale_for(300, 850, points_to_double_odds=40, base_odds=19, base_score=600)
    assert to_score(np.array([0.05]), scale)[0] == 600  # 19:1 good:bad
    assert to_score(np.array([1 / 39]), scale)[0] == 640  # twice the odds
    assert to_score(np.array([1e-12, 0.999999]), scale).tolist() == [850, 300]
    scores = np.arange(300, 851, 50)
    np.testing.assert_array_equal(to_score(to_pd(scores, scale), scale), scores)
    assert common_scale().score_min == 300 and common_scale().score_max == 850


def _model(card: WOEScorecard) -> BureauModel:
    return BureauModel(
        "scorecard",
        card,
        list(card.feature_names_in_),
        scale_for(350, 950, 40, 19),
        {"bureau": "test"},
    )


def test_saved_models_load_and_score_the_same(
    tmp_path: Path, gbm: GradientBoostedModel, card: WOEScorecard
) -> None:
    X, _ = synthetic(300, seed=4)
    for model in (
        _model(card),
        BureauModel("lightgbm", gbm, list(gbm.feature_names_in_), scale_for(300, 850, 40, 19), {}),
    ):
        where = save_model(model, tmp_path / model.family)
        loaded = load_model(where)
        pd.testing.assert_frame_equal(loaded.score(X), model.score(X))
        scored = loaded.score(X)
        assert scored["score"].between(model.scale.score_min, model.scale.score_max).all()
        assert list(scored.columns) == ["pd", "score", *(f"reason_{i}" for i in range(1, 5))]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "scorecard.json").write_text("{}"), "does not match the SHA-256"),
        (lambda d: (d / "scorecard.json").unlink(), "model file missing"),
        (lambda d: (d / "model_card.json").write_text("{not json"), "unreadable"),
        (lambda d: (d / "model_card.json").unlink(), "not a model directory"),
    ],
)
def test_damaged_models_are_refused(tmp_path: Path, card: WOEScorecard, damage, message) -> None:
    where = save_model(_model(card), tmp_path / "m")
    damage(where)
    with pytest.raises(ModelError, match=message):
        load_model(where)


def test_a_tampered_model_that_matches_a_forged_hash_must_still_parse(
    tmp_path: Path, card: WOEScorecard
) -> None:
    import hashlib

    where = save_model(_model(card), tmp_path / "m")
    text = "garbage that is not a scorecard"
    (where / "scorecard.json").write_text(text)
    meta = json.loads((where / "model_card.json").read_text())
    meta["model_sha256"] = hashlib.sha256(text.encode()).hexdigest()
    (where / "model_card.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="does not parse"):
        load_model(where)


def test_additive_model_dict_round_trip(card: WOEScorecard) -> None:
    data = json.loads(json.dumps(card.tables_.to_dict()))
    assert AdditiveModel.from_dict(data).to_dict() == card.tables_.to_dict()
