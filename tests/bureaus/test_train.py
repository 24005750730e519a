"""Features as of a snapshot, training, and what a run's training stage writes."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from bureau import ModelCard, __version__, load_scenario
from bureau.bureaus.feature_catalog import FEATURES, feature_names
from bureau.bureaus.features import snapshot_features
from bureau.bureaus.labels import observed_outcomes
from bureau.bureaus.models.artifacts import load_model
from bureau.bureaus.train import train_bureau
from bureau.config.loader import scenario_to_toml
from bureau.layout import RunLayout
from bureau.pipeline import STAGES, StageContext, run_stages

ALL_GROUPS = sorted({f.group for f in FEATURES})


@pytest.mark.slow
def test_features_see_only_what_had_arrived(small_run, tmp_path: Path) -> None:
    """Deleting everything that arrived after the snapshot changes no feature."""
    snapshot = 14
    source = small_run.path / "db" / "sesame.db"
    copy = tmp_path / "sesame.db"
    shutil.copy(source, copy)
    engine = create_engine(f"sqlite:///{copy}")
    with engine.begin() as conn:
        for table in ("tradeline_months", "inquiries", "public_records", "signals"):
            conn.execute(text(f"DELETE FROM {table} WHERE arrival > :s"), {"s": snapshot})
        conn.execute(
            text(
                "DELETE FROM tradelines WHERE tradeline_id NOT IN "
                "(SELECT tradeline_id FROM tradeline_months)"
            )
        )
    full = snapshot_features(
        RunLayout(small_run.path).bureau_engine("sesame"),
        snapshot,
        ALL_GROUPS,
        small_run.scenario.start_date,
    )
    cut = snapshot_features(engine, snapshot, ALL_GROUPS, small_run.scenario.start_date)
    assert len(full) > 100
    pd.testing.assert_frame_equal(full, cut)


@pytest.mark.slow
def test_features_have_the_profile_groups_only(small_run) -> None:
    engine = RunLayout(small_run.path).bureau_engine("pengyuan")
    groups = small_run.scenario.bureaus["pengyuan"].feature_groups
    frame = snapshot_features(engine, 11, groups, small_run.scenario.start_date)
    assert list(frame.columns) == feature_names(groups)
    assert "spend_6m" not in frame.columns and "phone_bill_on_time_12m" in frame.columns
    assert frame.index.is_monotonic_increasing and frame.index.is_unique
    assert (frame["tradelines"] >= frame["open_tradelines"]).all()
    assert frame["utilisation"].dropna().ge(0).all()


@pytest.mark.slow
def test_observed_outcomes_are_reported_defaults_after_the_snapshot(small_run) -> None:
    engine = RunLayout(small_run.path).bureau_engine("chengxin")
    outcome = observed_outcomes(engine, 11)
    assert outcome["bad"].dtype == bool and outcome["in_default"].dtype == bool
    assert 0 < outcome["bad"].mean() < 0.2


@pytest.mark.slow
def test_what_a_bureau_reports_to_the_hub_is_its_own_label_since_the_application(
    small_run,
) -> None:
    from bureau.bureaus.inquiries import reported_defaults

    engine = RunLayout(small_run.path).bureau_engine("chengxin")
    months = small_run.scenario.months
    for month in (8, 14):
        outcome = observed_outcomes(engine, month, horizon=months)
        consumers = np.append(outcome.index.to_numpy(), -1)
        found = reported_defaults(engine, consumers, np.full(len(consumers), month))
        assert found[:-1].tolist() == outcome["bad"].tolist()
        assert not found[-1] and found.any()
    assert reported_defaults(engine, np.array([], dtype=np.int64), np.array([])).size == 0


@pytest.mark.slow
def test_training_is_reproducible(small_run) -> None:
    engine = RunLayout(small_run.path).bureau_engine("pengyuan")
    first = train_bureau(engine, small_run.scenario, "pengyuan", "lightgbm")
    second = train_bureau(engine, small_run.scenario, "pengyuan", "lightgbm")
    assert first.model.model_text() == second.model.model_text()
    pd.testing.assert_frame_equal(first.scores, second.scores)


@pytest.mark.slow
def test_a_run_trains_scores_and_reports(small_run) -> None:
    root = small_run.path
    table = pd.read_csv(root / "report" / "model_performance.csv")
    trained = table[table["status"] == "trained"]
    assert len(trained) >= 4
    for row in trained.to_dict(orient="records"):
        model = load_model(root / "models" / row["bureau"])
        card = model.card
        assert isinstance(card, ModelCard)
        assert card.scenario_sha256 == small_run.manifest["scenario_sha256"]
        assert card.package_version == __version__
        assert card.training_window.development_snapshot == 11
        # The card holds what the bureau observed; the truth is in the report only.
        assert card.metrics.out_of_time.rows == row["out_of_time_rows"]
        assert card.metrics.out_of_time.auc == pytest.approx(row["out_of_time_auc"], nan_ok=True)
        assert card.metrics.development.rows == row["development_rows"]
        card_json = (root / "models" / row["bureau"] / "model_card.json").read_text()
        assert "truth" not in card_json
        profile = small_run.scenario.bureaus[row["bureau"]]
        scores = pd.read_parquet(root / "scores" / f"{row['bureau']}.parquet")
        assert scores["score"].between(profile.score_min, profile.score_max).all()
        assert scores["consumer_id"].is_unique
        assert np.isfinite(row["out_of_time_truth_auc"])


@pytest.mark.slow
def test_training_again_is_a_no_op(small_run) -> None:
    before = {
        p.relative_to(small_run.path): p.read_bytes()
        for p in (small_run.path / "models").rglob("*")
        if p.is_file()
    }
    report = run_stages(small_run.path, stages=["train"]).outcome("train")
    assert report.skipped
    after = {
        p.relative_to(small_run.path): p.read_bytes()
        for p in (small_run.path / "models").rglob("*")
        if p.is_file()
    }
    assert before == after


@pytest.mark.slow
def test_training_one_bureau_again_keeps_the_others_rows(small_run, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(small_run.path, run)
    before = pd.read_parquet(run / "report" / "model_performance.parquet")
    ctx = StageContext(small_run.scenario, RunLayout(run), workers=1, bureaus=("kaola",))
    result = STAGES["train"].run(ctx)
    assert list(result.rows) == ["kaola.scored"]
    # The others' rows read back, kaola's made again from its slice of the truth: the same.
    after = pd.read_parquet(run / "report" / "model_performance.parquet")
    pd.testing.assert_frame_equal(after, before)


@pytest.mark.slow
def test_regenerating_models_gives_the_same_bytes_whatever_the_workers(
    small_run, tmp_path: Path
) -> None:
    """The chain again up to the aggregator, in one process: the same model files."""
    # Comparison has its own test of the same bytes with one worker
    # (tests/analysis/test_compare.py::test_the_same_run_compares_to_the_same_bytes).
    upto = [stage for stage in STAGES if stage != "compare"]
    again = run_stages(tmp_path / "again", small_run.scenario, stages=upto, workers=1)
    for directory in ("models", "scores"):
        ours = sorted(
            p.relative_to(small_run.path) for p in (small_run.path / directory).rglob("*")
        )
        theirs = sorted(p.relative_to(again.path) for p in (again.path / directory).rglob("*"))
        assert ours == theirs and ours
        for path in ours:
            if (small_run.path / path).is_file():
                assert (again.path / path).read_bytes() == (small_run.path / path).read_bytes(), (
                    path
                )
    # The aggregator's reports too: linkage, reconciliation and the consensus.
    for name in (
        "linkage.csv",
        "coverage_accuracy.csv",
        "consensus.csv",
        "consensus_model.json",
        "discrepancies.parquet",
    ):
        path = Path("report") / name
        assert (again.path / path).read_bytes() == (small_run.path / path).read_bytes(), path


def test_reference_models_are_current_and_load() -> None:
    """models/ holds the eight bureaus' models trained on today's baseline.toml."""
    root = Path(__file__).parents[2] / "models"
    scenario = load_scenario("baseline")
    digest = hashlib.sha256(scenario_to_toml(scenario).encode("utf-8")).hexdigest()
    for bureau in scenario.active_bureaus:
        model = load_model(root / bureau)
        assert model.card.scenario_sha256 == digest, f"{bureau}: run make models"
        assert model.family == scenario.bureaus[bureau].model
        assert model.card.metrics.out_of_time.auc > 0.5


@pytest.mark.slow
def test_social_features_count_contacts_with_a_known_default(small_run) -> None:
    """The contact features, recomputed from the tables by plain joins."""
    snapshot = 23
    engine = RunLayout(small_run.path).bureau_engine("tencent")
    frame = snapshot_features(engine, snapshot, ["credit", "social"], small_run.scenario.start_date)
    assert frame["contacts"].sum() > 0
    with engine.connect() as conn:
        contacts = pd.read_sql(
            text(
                "SELECT consumer_id, contact_phone FROM contacts"
                " WHERE arrival <= :s AND month <= :s"
            ),
            conn,
            params={"s": snapshot},
        )
        people = pd.read_sql(
            text("SELECT consumer_id AS contact, phone FROM consumers WHERE first_seen <= :s"),
            conn,
            params={"s": snapshot},
        )
        bad = pd.read_sql(
            text(
                "SELECT DISTINCT t.consumer_id AS contact FROM tradelines t JOIN tradeline_months m"
                " ON m.tradeline_id = t.tradeline_id WHERE m.status IN ('4', 'W')"
                " AND m.arrival <= :s AND m.month <= :s AND t.opened <= :s"
            ),
            conn,
            params={"s": snapshot},
        )
    owners = people.dropna().sort_values("contact").drop_duplicates("phone")
    joined = contacts.merge(owners, left_on="contact_phone", right_on="phone", how="left")
    joined["bad"] = joined["contact"].isin(bad["contact"])
    expected = joined.groupby("consumer_id")["bad"].agg(["size", "sum"])
    got = frame.loc[expected.index]
    np.testing.assert_array_equal(got["contacts"].to_numpy(), expected["size"].to_numpy())
    np.testing.assert_array_equal(got["contacts_defaulted"].to_numpy(), expected["sum"].to_numpy())
    assert frame["contacts_defaulted_share"].dropna().between(0, 1).all()


@pytest.mark.slow
def test_never_is_beyond_any_months_since(small_run) -> None:
    """'Months since' an event that never happened sorts past every real value, not missing."""
    engine = RunLayout(small_run.path).bureau_engine("chengxin")
    groups = small_run.scenario.bureaus["chengxin"].feature_groups
    frame = snapshot_features(engine, 23, groups, small_run.scenario.start_date)
    clean = (frame["tradelines"] > 0) & (frame["delinquent_months_24m"] == 0)
    clean &= frame["worst_status_ever"] == 0
    assert clean.any()
    assert (frame.loc[clean, "months_since_delinquency"] == 999).all()
    assert frame.loc[frame["tradelines"] == 0, "months_since_delinquency"].isna().all()
    late = frame["worst_status_ever"] > 0
    assert (frame.loc[late, "months_since_delinquency"] <= 23).all()
    assert frame["months_since_public_record"].notna().all()
