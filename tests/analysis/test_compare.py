from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

import bureau
from bureau.analysis.agreement import (
    SCORE_MAX,
    SCORE_MIN,
    TIER_BANDS,
    TIERS,
    common_score,
    risk_tier,
)
from bureau.analysis.compare import TABLES, ComparisonError
from bureau.analysis.fairness import _Bootstrap
from bureau.cli.main import app
from bureau.errors import RunDirectoryError
from bureau.layout import RunLayout
from bureau.pipeline import STAGES, StageContext

SUFFIXES = ("parquet", "csv", "json")


@pytest.fixture(scope="module")
def tables(small_run) -> dict[str, pd.DataFrame]:
    """The tables the compare stage of the small run wrote."""
    return {name: pd.read_parquet(small_run.path / "report" / f"{name}.parquet") for name in TABLES}


@pytest.mark.slow
def test_the_run_goes_through_the_compare_stage(small_run) -> None:
    assert "compare" in {stage.name for stage in small_run.stages}
    for name in TABLES:
        for suffix in SUFFIXES:
            assert (small_run.path / "report" / f"{name}.{suffix}").is_file()


@pytest.mark.slow
def test_comparison_has_each_scored_bureau_and_the_consensus(small_run, tables) -> None:
    comparison = tables["comparison"].set_index("bureau")
    scored = sorted(p.stem for p in (small_run.path / "scores").glob("*.parquet"))
    assert list(comparison.index) == [*scored, "aggregator"]
    for column in ("truth_auc", "observed_auc"):
        auc = comparison[column].dropna()
        assert len(auc) > 0 and ((auc >= 0) & (auc <= 1)).all()
    assert comparison.loc["aggregator", "truth_auc"] > 0.6
    np.testing.assert_allclose(comparison["coverage"] + comparison["invisible"], 1.0)
    assert (comparison["thin_file"] <= comparison["coverage"]).all()
    assert ((comparison["truth_brier"] >= 0) & (comparison["truth_brier"] <= 1)).all()
    # The same files as the run's own reports, so the same figures.
    consensus = pd.read_csv(small_run.path / "report" / "consensus.csv").set_index("view")
    for view in comparison.index:
        for metric in ("rows", "auc", "ks"):
            expected = consensus.loc[view, metric]
            assert comparison.loc[view, f"truth_{metric}"] == pytest.approx(expected, nan_ok=True)


@pytest.mark.slow
def test_calibration_deciles_cover_the_judged_files(tables) -> None:
    calibration = tables["calibration"]
    comparison = tables["comparison"].set_index("bureau")
    counts = calibration.groupby("bureau")["count"].sum()
    assert (counts == comparison.loc[counts.index, "truth_rows"]).all()
    for _, deciles in calibration.groupby("bureau"):
        assert deciles["decile"].tolist() == list(range(1, 11))
        assert deciles["mean_pd"].is_monotonic_increasing
        assert ((deciles["default_rate"] >= 0) & (deciles["default_rate"] <= 1)).all()


@pytest.mark.slow
def test_pairwise_tier_shares_sum_to_one_and_migrations_to_the_persons(tables) -> None:
    pairwise, migration = tables["pairwise"], tables["migration"]
    bureaus = len(tables["comparison"]) - 1
    assert len(pairwise) == bureaus * (bureaus - 1) // 2
    shares = pairwise[["same_tier", "one_tier_apart", "two_or_more_apart"]].sum(axis=1)
    np.testing.assert_allclose(shares[pairwise["persons"] > 0], 1.0, atol=1e-5)
    rho = pairwise["spearman"].dropna()
    assert len(rho) > 0 and (rho.abs() <= 1).all()
    cells = migration.groupby(["bureau_a", "bureau_b"])
    assert (cells.size() == TIERS * TIERS).all()
    merged = pairwise.set_index(["bureau_a", "bureau_b"])
    assert (cells["persons"].sum() == merged["persons"]).all()
    diagonal = migration[migration["tier_a"] == migration["tier_b"]]
    same = diagonal.groupby(["bureau_a", "bureau_b"])["persons"].sum() / merged["persons"]
    np.testing.assert_allclose(same, merged["same_tier"], atol=1e-5)


@pytest.mark.slow
def test_score_spread_shares_fall_as_the_range_grows(tables) -> None:
    spread = tables["score_spread"]
    assert spread["scored_by"].iloc[0] == "3+"
    assert spread["persons"].iloc[0] == spread["persons"].iloc[1:].sum() > 0
    assert (spread["share_range_50"] >= spread["share_range_100"]).all()
    assert ((spread["median_range"] >= 0) & (spread["median_range"] <= SCORE_MAX - SCORE_MIN)).all()
    assert (spread["scored_by"].iloc[1:].astype(int) >= 3).all()


def test_common_scale_and_tiers() -> None:
    pd_ = np.array([1e-6, 0.001, 0.02, 0.1, 0.5, 0.999])
    scores = common_score(pd_)
    assert (np.diff(scores) < 0).all()
    assert scores.min() >= SCORE_MIN and scores.max() <= SCORE_MAX
    # 40 points double the odds.
    odds = (1 - pd_[2]) / pd_[2]
    assert common_score(np.array([1 / (1 + 2 * odds)]))[0] == pytest.approx(scores[2] + 40)
    bounds = np.array(TIER_BANDS)
    assert risk_tier(np.r_[0.0, bounds - 1e-9, bounds, 1.0]).tolist() == [1, 1, 2, 3, 2, 3, 4, 4]


@pytest.mark.slow
def test_fairness_intervals_hold_their_estimates(tables) -> None:
    fairness = tables["fairness"]
    assert set(fairness["attribute"]) == {"hukou", "gender", "age_band", "city_tier", "device"}
    assert "aggregator" in set(fairness["bureau"])
    for metric in ("approval_rate", "auc", "calibration_gap"):
        rows = fairness.dropna(subset=[metric, f"{metric}_low", f"{metric}_high"])
        assert len(rows) > 0, metric
        assert (rows[f"{metric}_low"] <= rows[metric] + 1e-6).all(), metric
        assert (rows[metric] <= rows[f"{metric}_high"] + 1e-6).all(), metric
    approval = fairness["approval_rate"]
    assert ((approval >= 0) & (approval <= 1)).all()
    # Every attribute splits the same persons.
    totals = fairness.groupby(["bureau", "attribute"])["persons"].sum()
    spread = totals.groupby(level="bureau").agg(["min", "max"])
    assert (spread["min"] == spread["max"]).all()


def test_the_weighted_auc_is_the_auc_of_the_resampled_persons() -> None:
    rng = np.random.default_rng(7)
    n = 400
    codes = rng.integers(0, 3, n)
    pd_ = np.round(rng.random(n) * 0.2, 2)  # rounded: many ties
    bad = rng.random(n) < 0.2 + pd_
    weights = rng.integers(0, 3, (n, 4)).astype(float)
    weights[:, 0] = 1.0
    drawn = _Bootstrap([codes], pd_, bad).statistics(weights)[0]
    for r in range(weights.shape[1]):
        rows = np.repeat(np.arange(n), weights[:, r].astype(int))
        for g in range(3):
            mine = rows[codes[rows] == g]
            assert drawn[r, g, 1] == pytest.approx(roc_auc_score(bad[mine], pd_[mine]))
            assert drawn[r, g, 0] == pytest.approx(np.mean(pd_[mine] < 0.03))
            gap = pd_[mine].mean() - bad[mine].mean()
            assert drawn[r, g, 2] == pytest.approx(gap)


@pytest.mark.slow
def test_the_same_run_compares_to_the_same_bytes(small_run, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(small_run.path, run)
    for name in TABLES:
        for suffix in SUFFIXES:
            (run / "report" / f"{name}.{suffix}").unlink()
    # The models' families come from their cards, not from training's report table.
    for suffix in ("parquet", "csv"):
        (run / "report" / f"model_performance.{suffix}").unlink()
    # One worker here, two in the fixture's run: the result does not depend on it.
    STAGES["compare"].run(StageContext(small_run.scenario, RunLayout(run), workers=1))
    for name in TABLES:
        for suffix in SUFFIXES:
            again = (run / "report" / f"{name}.{suffix}").read_bytes()
            assert again == (small_run.path / "report" / f"{name}.{suffix}").read_bytes(), name
    records = json.loads((run / "report" / "comparison.json").read_text(encoding="utf-8"))
    assert list(records[0]) == list(pd.read_parquet(run / "report" / "comparison.parquet"))


@pytest.mark.slow
def test_the_python_api_returns_the_tables(small_run, tables) -> None:
    result = bureau.compare(small_run.path)
    assert list(result) == list(TABLES)
    for name in TABLES:
        pd.testing.assert_frame_equal(result[name], tables[name], check_dtype=False)


@pytest.mark.slow
def test_bad_input_is_a_typed_error(small_run, tmp_path: Path) -> None:
    with pytest.raises(RunDirectoryError, match="not a run directory"):
        bureau.compare(tmp_path)
    run = tmp_path / "run"
    shutil.copytree(small_run.path, run)
    scores = run / "scores" / "sesame.parquet"
    pd.read_parquet(scores).drop(columns="pd").to_parquet(scores)
    with pytest.raises(ComparisonError) as caught:
        bureau.compare(run)
    assert caught.value.path == scores and caught.value.field == "pd"


@pytest.mark.slow
def test_cli_summary_json_and_errors(small_run, tmp_path: Path) -> None:
    runner = CliRunner()
    shown = runner.invoke(app, ["compare", str(small_run.path)])
    assert shown.exit_code == 0, shown.output
    assert "aggregator" in shown.output and "nothing to do" in shown.output
    as_json = runner.invoke(app, ["compare", str(small_run.path), "--json"])
    assert as_json.exit_code == 0, as_json.output
    payload = json.loads(as_json.output)
    assert set(TABLES) <= set(payload)
    assert payload["comparison"][-1]["bureau"] == "aggregator"
    missing = runner.invoke(app, ["compare", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2
    assert missing.output.strip().startswith("error:") and len(missing.output.splitlines()) == 1
    run = tmp_path / "run"
    run.mkdir()
    manifest = json.loads((small_run.path / "manifest.json").read_text())
    manifest["stages"] = {k: v for k, v in manifest["stages"].items() if k in ("world",)}
    (run / "manifest.json").write_text(json.dumps(manifest))
    shutil.copy(small_run.path / "scenario.resolved.toml", run)
    # The manifest says the world is made, and it is not there: that is named, in one line.
    early = runner.invoke(app, ["compare", str(run)])
    assert early.exit_code == 2 and "world" in early.output
    assert len(early.output.splitlines()) == 1


@pytest.mark.slow
def test_the_truth_holds_only_what_furnishing_wrote(small_run) -> None:
    """Every stage reads the truth once and traces the files' owners itself: no cache."""
    truth = small_run.path / "truth"
    assert {p.name for p in truth.iterdir()} == {"furnished", "defects"}
