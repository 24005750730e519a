"""A fitted model's table of points, and how a model shows itself in a notebook."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bureau.bureaus.models.artifacts import BureauModel, load_model, save_model
from bureau.bureaus.models.gbm import GradientBoostedModel
from bureau.bureaus.models.scale import ScoreScale, common_scale, log_odds_bad, scale_for
from bureau.bureaus.models.scorecard import WOEScorecard
from tests.bureaus.fitted import model_card, synthetic

BASE = ["feature", "bin", "lower", "upper"]
SCALE = scale_for(350, 950, 40, 19)


def _consumers(table: pd.DataFrame) -> pd.DataFrame:
    """Fresh consumers, with values missing and values right on every cut point."""
    X, _ = synthetic(2000, seed=5)
    X.loc[X.index[:40], "risk"] = np.nan
    for name, bins in table.groupby("feature"):
        cuts = bins["lower"].to_numpy()
        cuts = cuts[np.isfinite(cuts)]
        if len(cuts):
            X.loc[X.index[-len(cuts) :], name] = cuts
    return X


def _points(table: pd.DataFrame, X: pd.DataFrame, closed: str) -> np.ndarray:
    """Each consumer's points, summed over the table's rows their values fall in.

    The rows are found from the bounds alone, not from the model's own lookup.
    """
    total = np.zeros(len(X))
    for name, bins in table.groupby("feature", sort=False):
        x = X[name].to_numpy()[:, None]
        lower, upper = bins["lower"].to_numpy(), bins["upper"].to_numpy()
        left = closed == "left"
        inside = (lower <= x) & (x < upper) if left else (lower < x) & (x <= upper)
        inside |= np.isnan(x) & (bins["bin"].to_numpy() == "Missing")
        assert (inside.sum(axis=1) == 1).all(), name  # every value in exactly one bin
        total += inside.astype(float) @ bins["points"].to_numpy()
    return total


def _raw_score(bad: np.ndarray, scale: ScoreScale) -> np.ndarray:
    """The score a probability of default stands for, before rounding and clipping."""
    return scale.base_score - scale.factor * (log_odds_bad(bad) + np.log(scale.base_odds))


@pytest.fixture(params=["scorecard", "lightgbm"])
def fitted(request: pytest.FixtureRequest) -> tuple[str, GradientBoostedModel | WOEScorecard]:
    return request.param, request.getfixturevalue("card" if request.param == "scorecard" else "gbm")


def test_a_scorecard_table_gives_every_bin_its_points_and_training_rows(card: WOEScorecard) -> None:
    table = card.table()
    assert list(table.columns) == [*BASE, "count", "event_rate", "woe", "contribution", "points"]
    assert table["feature"].unique().tolist() == card.tables_.features
    for feature in card.tables_.tables:
        bins = table[table["feature"] == feature.name]
        assert len(bins) == len(feature.splits) + 2
        assert bins["bin"].iloc[0].startswith("(-inf, ") and bins["bin"].iloc[-2].endswith(", inf)")
        assert all(b.startswith("[") and b.endswith(")") for b in bins["bin"].iloc[1:-2])
        assert bins["bin"].iloc[-1] == "Missing"
        assert bins[["lower", "upper"]].iloc[-1].isna().all()
        assert bins["count"].sum() == 4000
        # A bin's term is the feature's coefficient times its weight of evidence.
        coefficient = bins["contribution"] / bins["woe"]
        assert np.ptp(coefficient[bins["woe"] != 0]) < 1e-12
    X, y = synthetic()
    safety = table[table["feature"] == "safety"].set_index("bin")
    assert safety.loc["Missing", "count"] == X["safety"].isna().sum()
    risk = table[table["feature"] == "risk"]
    assert round((risk["count"] * risk["event_rate"]).sum()) == y.sum()
    assert risk.iloc[-1]["count"] == 0 and np.isnan(risk.iloc[-1]["event_rate"])


def test_a_gbm_table_gives_every_interval_its_trees_use_its_contribution(
    gbm: GradientBoostedModel,
) -> None:
    table = gbm.table()
    assert list(table.columns) == [*BASE, "contribution", "points"]
    assert table["feature"].unique().tolist() == ["risk", "safety", "noise", "count"]
    risk = table[table["feature"] == "risk"]
    assert len(risk) == len(gbm.tables_.tables[0].splits) + 2
    assert all(b.startswith("(") and b.endswith("]") for b in risk["bin"].iloc[1:-2])
    # More of a risk never lowers the risk: the contributions climb, the points fall.
    assert np.all(np.diff(risk["contribution"].iloc[:-1]) >= 0)
    assert np.all(np.diff(risk["points"].iloc[:-1]) <= 0)


def test_the_points_of_a_consumers_bins_add_up_to_the_score(fitted) -> None:
    family, estimator = fitted
    closed = "left" if family == "scorecard" else "right"
    for scale in (common_scale(), SCALE):
        table = estimator.table(scale)
        X = _consumers(table)
        expected = _raw_score(estimator.predict_proba(X)[:, 1], scale)
        np.testing.assert_allclose(_points(table, X, closed), expected, rtol=0, atol=1e-8)
    # And a bureau's model on its card's scale: rounded and clipped, the sum is the score.
    model = BureauModel(estimator, model_card(family, estimator, SCALE))
    table = model.table()
    pd.testing.assert_frame_equal(table, estimator.table(SCALE))
    X = _consumers(table)
    points = _points(table, X, closed)
    score = np.clip(np.rint(points), SCALE.score_min, SCALE.score_max)
    np.testing.assert_array_equal(score, model.score(X)["score"].to_numpy())
    # The log odds too: the contributions and an intercept the table shares out.
    terms = _points(table.assign(points=table["contribution"]), X, closed)
    log_odds = log_odds_bad(estimator.predict_proba(X)[:, 1])
    np.testing.assert_allclose(terms + estimator.tables_.intercept, log_odds, atol=1e-9)


def test_a_loaded_model_has_the_same_table_less_what_its_file_does_not_hold(
    tmp_path: Path, fitted
) -> None:
    family, estimator = fitted
    model = BureauModel(estimator, model_card(family, estimator, SCALE))
    loaded = load_model(save_model(model, tmp_path / family))
    table, again = model.table(), loaded.table()
    if family == "scorecard":
        stats = ["count", "event_rate", "woe"]
        assert again[stats].isna().all().all()
        table, again = table.drop(columns=stats), again.drop(columns=stats)
    pd.testing.assert_frame_equal(again, table)


def test_a_cut_point_is_written_to_as_many_digits_as_tell_the_bins_apart() -> None:
    card = WOEScorecard.from_dict(
        {
            "kind": "woe_scorecard",
            "inputs": ["x"],
            "intercept": -2.0,
            "features": [
                {
                    "name": "x",
                    "splits": [1.0, 1.0000001, 2.5],
                    "values": [0.0, 0.1, 0.2, 0.3],
                    "missing": 0.0,
                    "closed": "left",
                }
            ],
        }
    )
    labels = card.table()["bin"].tolist()
    assert labels == ["(-inf, 1)", "[1, 1.0000001)", "[1.0000001, 2.5)", "[2.5, inf)", "Missing"]


def test_a_model_shows_a_short_summary_of_its_card(card: WOEScorecard) -> None:
    model = BureauModel(card, model_card("scorecard", card, SCALE))
    text = repr(model)
    lines = text.splitlines()
    assert lines[0] == "BureauModel test (Test Credit): scorecard"
    assert 5 <= len(lines) <= 10
    assert "4 (credit, inquiries)" in text
    assert "2018-06 (month 11), outcomes of months 12-23" in text
    assert "AUC 0.750, KS nan (4,000 rows, bad rate 8.0%)" in text
    assert "350-950, 650 at 19:1 good:bad, 40 points double the odds" in text
    assert "(fitted here)" in text
    html = model._repr_html_()
    assert html.startswith("<table>") and html.count("<tr>") == len(lines) - 1
    assert "AUC 0.750" in html


def test_a_models_html_escapes_every_value(tmp_path: Path, card: WOEScorecard) -> None:
    odd = replace(model_card("scorecard", card, SCALE), bureau_name='<b>"Credit" & Co</b>')
    html = BureauModel(card, odd, tmp_path / "<m>")._repr_html_()
    assert "&lt;b&gt;&quot;Credit&quot; &amp; Co&lt;/b&gt;" in html
    assert "&lt;m&gt;" in html
    assert "<b>" not in html and "<m>" not in html
