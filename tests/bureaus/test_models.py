"""The model families, their additive tables, score scales and model artifacts."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bureau.bureaus.models.additive import AdditiveModel, FeatureTable, reason_codes
from bureau.bureaus.models.artifacts import BureauModel, ModelError, load_model, save_model
from bureau.bureaus.models.card import ModelCard, card_sha256
from bureau.bureaus.models.gbm import GradientBoostedModel
from bureau.bureaus.models.scale import common_scale, scale_for, to_pd, to_score
from bureau.bureaus.models.scorecard import WOEScorecard
from bureau.errors import BureauError, TrainingError
from tests.bureaus.fitted import DIRECTIONS, model_card, synthetic
from tests.tampering import resize_trees, seal


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
    return BureauModel(card, model_card("scorecard", card, scale_for(350, 950, 40, 19)))


def test_saved_models_load_and_score_the_same(
    tmp_path: Path, gbm: GradientBoostedModel, card: WOEScorecard
) -> None:
    X, _ = synthetic(300, seed=4)
    for model in (
        _model(card),
        BureauModel(gbm, model_card("lightgbm", gbm, scale_for(300, 850, 40, 19))),
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
        (lambda d: (d / "model_card.json").write_text("{not json"), "line 1: not valid JSON"),
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
    where = save_model(_model(card), tmp_path / "m")
    (where / "scorecard.json").write_text("garbage that is not a scorecard")
    seal(where)
    with pytest.raises(ModelError, match=r"scorecard\.json: line 1: not valid JSON"):
        load_model(where)


def test_additive_model_dict_round_trip(card: WOEScorecard) -> None:
    data = json.loads(json.dumps(card.tables_.to_dict()))
    assert AdditiveModel.from_dict(data).to_dict() == card.tables_.to_dict()


def _load_in_a_subprocess(directories: list[Path]) -> tuple[int, list[str]]:
    """Load models in a child process: an abort inside LightGBM must not take pytest down."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from bureau.bureaus.models.artifacts import ModelError, load_model\n"
        "for where in sys.argv[1:]:\n"
        "    try:\n"
        "        load_model(where)\n"
        "        print('loaded', flush=True)\n"
        "    except ModelError as exc:\n"
        "        print(f'ModelError: {exc}', flush=True)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *map(str, directories)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stdout.splitlines()


LIGHTGBM_EDITS = [
    (lambda t: t.replace("Tree=0\nnum_leaves=2", "Tree=0\nnum_leaves=5", 1), "num_leaves=5"),
    (lambda t: resize_trees(t.replace("left_child=-1\n", "left_child=7\n", 1)), "left_child"),
    (
        lambda t: resize_trees(re.sub(r"leaf_value=[^ \n]+", "leaf_value=nan", t, count=1)),
        "leaf_value",
    ),
    (
        lambda t: resize_trees(t.replace("split_feature=8\n", "split_feature=80\n", 1)),
        "split_feature",
    ),
    (lambda t: t.replace("split_feature=8\n", "split_feature=18\n", 1), "tree_sizes"),
    (lambda t: t[: len(t) // 2], "truncated"),
    (lambda t: t.replace("end of trees\n", ""), "end of trees"),
]


def test_a_hand_edited_lightgbm_model_is_refused_before_lightgbm_reads_it(tmp_path: Path) -> None:
    import shutil

    directories = []
    for i, (edit, _) in enumerate(LIGHTGBM_EDITS):
        where = tmp_path / f"m{i}"
        shutil.copytree(Path(__file__).parents[2] / "models" / "qianhai", where)
        text = (where / "model.txt").read_text()
        edited = edit(text)
        assert edited != text
        (where / "model.txt").write_text(edited)
        seal(where)
        directories.append(where)
    code, lines = _load_in_a_subprocess(directories)
    assert code == 0 and len(lines) == len(LIGHTGBM_EDITS), (code, lines)
    for i, ((_, words), line) in enumerate(zip(LIGHTGBM_EDITS, lines, strict=True)):
        assert line.startswith(f"ModelError: {directories[i]}/model.txt: line "), line
        assert words in line, line


@pytest.mark.parametrize(
    "edit",
    [
        lambda c: c["score_scale"].update(base_score=c["score_scale"]["base_score"] + 50),
        lambda c: c.update(features=list(reversed(c["features"]))),
        lambda c: c.update(feature_groups=c["feature_groups"][:1]),
        lambda c: c.update(bureau="someone else"),
        lambda c: c["metrics"]["development"].update(auc=0.99),
        lambda c: c["training_window"].update(outcome_months=[12, 24]),
        lambda c: c["hyperparameters"].update(C=2.0),
    ],
)
def test_editing_any_field_of_a_card_is_detected(tmp_path: Path, card: WOEScorecard, edit) -> None:
    where = save_model(_model(card), tmp_path / "m")
    meta = json.loads((where / "model_card.json").read_text())
    edit(meta)
    (where / "model_card.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    with pytest.raises(
        ModelError, match=r"model_card\.json: the card does not match its card_sha256"
    ):
        load_model(where)


def test_a_card_round_trips_and_a_loaded_model_holds_it_typed(
    tmp_path: Path, card: WOEScorecard
) -> None:
    model = _model(card)
    data = json.loads(json.dumps(model.card.to_dict()))
    assert ModelCard.from_dict(data).to_json() == model.card.to_json()  # NaN != NaN
    assert data["card_sha256"] == model.card.card_sha256 == card_sha256(data)
    loaded = load_model(save_model(model, tmp_path / "m"))
    assert isinstance(loaded.card, ModelCard)
    assert replace(loaded.card, metrics=None) == replace(model.card, metrics=None)
    assert loaded.card.training_window.outcome_months == (12, 23)
    assert loaded.card.features == tuple(card.feature_names_in_)
    assert loaded.features == list(card.feature_names_in_)
    assert (tmp_path / "m" / "model_card.json").read_text() == model.card.to_json()


def test_saving_a_model_its_card_does_not_describe_is_refused(
    tmp_path: Path, card: WOEScorecard
) -> None:
    model = _model(card)
    wrong = BureauModel(card, replace(model.card, model_sha256="f" * 64))
    with pytest.raises(ValueError, match="model_sha256"):
        save_model(wrong, tmp_path / "m")
    assert not (tmp_path / "m").exists()


def _resealed(edit) -> dict:
    """A valid card's JSON, edited, with its seal forged to match."""
    model = _model(WOEScorecard(directions=DIRECTIONS).fit(*synthetic(800)))
    data = json.loads(json.dumps(model.card.to_dict()))
    edit(data)
    data["card_sha256"] = card_sha256(data)
    return data


@pytest.mark.parametrize(
    ("edit", "field", "words"),
    [
        (lambda c: c.pop("seed"), "seed", "missing"),
        (lambda c: c["training_window"].pop("label"), "training_window.label", "missing"),
        (lambda c: c.update(seed="7"), "seed", "not a whole number"),
        (lambda c: c.update(model_family=["lightgbm"]), "model_family", "unknown model family"),
        (lambda c: c.update(bureau=3), "bureau", "not text"),
        (lambda c: c.update(scenario_sha256="abc"), "scenario_sha256", "SHA-256"),
        (lambda c: c.update(features="risk"), "features", "names"),
        (lambda c: c.update(feature_groups=["credit", "tarot"]), "feature_groups", "groups"),
        (
            lambda c: c["feature_directions"].update(risk=2),
            "feature_directions.risk",
            "1, -1 or 0",
        ),
        (
            lambda c: c["feature_descriptions"].update(colour="hue"),
            "feature_descriptions",
            "'colour' is not one of the features",
        ),
        (lambda c: c["hyperparameters"].update(C=[1]), "hyperparameters.C", "JSON scalar"),
        (
            lambda c: c["training_window"].update(development_month="2018-13"),
            "training_window.development_month",
            "YYYY-MM",
        ),
        (
            lambda c: c["evaluation_window"].update(outcome_months=[35, 24]),
            "evaluation_window.outcome_months",
            "[first, last]",
        ),
        (
            lambda c: c["metrics"]["development"].update(rows=1.5),
            "metrics.development.rows",
            "whole",
        ),
        (
            lambda c: c["metrics"]["out_of_time"].update(auc="high"),
            "metrics.out_of_time.auc",
            "not a number",
        ),
        (lambda c: c["metrics"].pop("out_of_time"), "metrics.out_of_time", "missing"),
        (lambda c: c.update(score_scale=[]), "score_scale", "not a JSON object"),
        (lambda c: c.update(owner="me"), "owner", "not a field of a model card"),
        (lambda c: c["evaluation_window"].update(x=1), "evaluation_window.x", "not a field"),
        (
            lambda c: c["metrics"].update(out_of_time_truth=c["metrics"]["out_of_time"]),
            "metrics.out_of_time_truth",
            "cannot know the true outcomes",
        ),
    ],
)
def test_a_card_is_checked_field_by_field(edit, field: str, words: str) -> None:
    with pytest.raises(ModelError, match=rf"^card\.json: {re.escape(field)}: .*{re.escape(words)}"):
        ModelCard.from_dict(_resealed(edit), Path("card.json"))


def test_a_loaded_card_with_a_field_it_may_not_hold_names_the_file_and_field(
    tmp_path: Path, card: WOEScorecard
) -> None:
    where = save_model(_model(card), tmp_path / "m")
    meta = json.loads((where / "model_card.json").read_text())
    meta["metrics"]["out_of_time_truth"] = meta["metrics"]["out_of_time"]
    (where / "model_card.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    seal(where)
    with pytest.raises(ModelError) as caught:
        load_model(where)
    assert caught.value.path == where / "model_card.json"
    assert caught.value.field == "metrics.out_of_time_truth"
    assert "report/model_performance" in str(caught.value)


def test_a_card_without_a_seal_is_refused_with_what_to_do(
    tmp_path: Path, card: WOEScorecard
) -> None:
    where = save_model(_model(card), tmp_path / "m")
    meta = json.loads((where / "model_card.json").read_text())
    meta.pop("card_sha256", None)
    (where / "model_card.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    with pytest.raises(ModelError, match=r"no card_sha256.*retrain"):
        load_model(where)


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda s: s["features"][0]["values"].__setitem__(0, float("nan")), "features[0].values"),
        (lambda s: s["features"][0].__setitem__("splits", [3.0, 1.0]), "features[0].splits"),
        (lambda s: s.__setitem__("intercept", "high"), "intercept"),
        (lambda s: s.__setitem__("inputs", s["inputs"][:-1]), "inputs"),
        (lambda s: s["features"][0].__setitem__("name", "colour"), "features[0].name"),
        (lambda s: s.__setitem__("kind", "neural_net"), "kind"),
    ],
)
def test_a_forged_scorecard_is_checked_field_by_field(
    tmp_path: Path, card: WOEScorecard, edit, field: str
) -> None:
    where = save_model(_model(card), tmp_path / "m")
    data = json.loads((where / "scorecard.json").read_text())
    edit(data)
    (where / "scorecard.json").write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    seal(where)
    with pytest.raises(ModelError, match=rf"scorecard.json: {re.escape(field)}: "):
        load_model(where)


def _fit_in_partitions(job: tuple[pd.DataFrame, np.ndarray]) -> GradientBoostedModel:
    X, y = job
    return GradientBoostedModel(directions=DIRECTIONS, n_estimators=60, partitions=2).fit(X, y)


def test_lightgbm_dask_is_an_opt_in_that_needs_a_cluster(gbm: GradientBoostedModel) -> None:
    from sklearn.metrics import roc_auc_score

    from bureau.parallel import LOCAL, map_chunks, use_scheduler

    X, y = synthetic()
    with pytest.raises(TrainingError, match="needs a Dask cluster") as caught:
        GradientBoostedModel(directions=DIRECTIONS, partitions=2).fit(X, y)
    assert caught.value.field == "model_partitions"
    with use_scheduler(LOCAL, workers=2):
        [spread] = list(map_chunks(_fit_in_partitions, [(X, y)], 2))
    # Stumps, additive by their depth, scored through the same tables; monotone as asked.
    trees = spread.booster_.dump_model()["tree_info"]
    assert {t["num_leaves"] for t in trees} <= {1, 2} and len(trees) == 60 * 7
    pd_ = spread.predict_proba(X)[:, 1]
    np.testing.assert_allclose(pd_, spread.booster_.predict(X.to_numpy()), atol=1e-9)
    low, high = X.assign(risk=-2.0), X.assign(risk=2.0)
    assert (spread.predict_proba(high)[:, 1] >= spread.predict_proba(low)[:, 1]).all()
    # Not the one-process model, but as good a ranking on this sample.
    alone = roc_auc_score(y, gbm.predict_proba(X)[:, 1])
    assert abs(roc_auc_score(y, pd_) - alone) < 0.02
