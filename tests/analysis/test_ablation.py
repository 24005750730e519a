"""Data-source ablation and the privacy ledger, on the small run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from bureau.analysis.privacy import CATEGORIES, FEATURE_GROUP
from bureau.bureaus.ablation import NOTHING_REMOVED, SCORE_COLUMNS, ablation_scores
from bureau.layout import RunLayout
from bureau.pipeline.jobs import BureauJob, _full_model_scores
from bureau.store.credit_file import Contact, PublicRecord

pytestmark = pytest.mark.slow


def _report(run, name: str) -> pd.DataFrame:
    return pd.read_parquet(run.path / "report" / f"{name}.parquet")


def test_the_full_model_of_the_ablation_is_the_trained_model(small_run) -> None:
    ablation = _report(small_run, "ablation")
    trained = _report(small_run, "model_performance").set_index("bureau")
    full = ablation[ablation["removed"] == "none"].set_index("bureau")
    assert len(full) and set(full.index) <= set(trained.index)
    for bureau, row in full.iterrows():
        assert np.isclose(
            row["observed_auc"], trained.loc[bureau, "out_of_time_auc"], atol=1e-6, equal_nan=True
        )
        assert np.isclose(
            row["truth_auc"],
            trained.loc[bureau, "out_of_time_truth_auc"],
            atol=1e-6,
            equal_nan=True,
        )
    for gain in ("truth_auc_gain", "observed_auc_gain"):
        # No gain over itself (or none measurable where the sample saw no default).
        assert ((full[gain] == 0) | full[gain].isna()).all()


def test_every_group_of_a_profile_is_removed_once(small_run) -> None:
    ablation = _report(small_run, "ablation")
    profiles = small_run.scenario.bureaus
    for bureau, rows in ablation.groupby("bureau"):
        removed = sorted(rows["removed"].drop_duplicates())
        assert removed == sorted(["none", *profiles[bureau].feature_groups])
        gains = rows.set_index("removed")
        full = gains.loc["none", "truth_auc"]
        # Each figure is rounded to 6 decimals on its own.
        assert np.allclose(
            gains["truth_auc_gain"], full - gains["truth_auc"], atol=2e-6, equal_nan=True
        )


def test_the_ledger_counts_what_each_bureau_holds(small_run) -> None:
    ledger = _report(small_run, "privacy_ledger")
    bureaus = small_run.scenario.active_bureaus
    assert len(ledger) == len(bureaus) * len(CATEGORIES)
    assert (ledger["held"] == (ledger["data_points"] > 0)).all()
    assert (ledger["per_consumer"] >= 0).all()
    # Every bureau knows its consumers' identities and has their credit files.
    core = ledger[ledger["category"].isin(["identity", "credit"])]
    assert core["held"].all()
    # The counts are the rows the bureau's own database holds.
    for bureau in bureaus:
        engine = RunLayout(small_run.path).bureau_engine(bureau)
        with engine.connect() as conn:
            records = conn.execute(select(func.count()).select_from(PublicRecord)).scalar()
            contacts = conn.execute(select(func.count()).select_from(Contact)).scalar()
        engine.dispose()
        mine = ledger[ledger["bureau"] == bureau].set_index("category")
        assert mine.loc["public records", "data_points"] == records
        assert mine.loc["social ties", "data_points"] == contacts
    assert set(ledger["feature_group"]) <= set(FEATURE_GROUP.values())


def test_the_ledger_sits_beside_the_value_of_each_group(small_run) -> None:
    ledger = _report(small_run, "privacy_ledger")
    ablation = _report(small_run, "ablation").set_index(["bureau", "removed"])
    for _, row in ledger.dropna(subset=["truth_auc_gain"]).iterrows():
        expected = ablation.loc[(row["bureau"], row["feature_group"]), "truth_auc_gain"]
        assert np.isclose(row["truth_auc_gain"], expected)


def test_training_scores_are_the_full_model_the_ablation_would_fit(small_run) -> None:
    scn = small_run.scenario
    snapshots = (scn.scoring.development_snapshot, scn.scoring.evaluation_snapshot)
    checked = 0
    for bureau in scn.active_bureaus:
        paths = [RunLayout(small_run.path).modelling_table(bureau, s) for s in snapshots]
        if not all(path.exists() for path in paths):
            continue
        tables = [pd.read_parquet(path).set_index("consumer_id") for path in paths]
        refitted = ablation_scores(scn, bureau, *tables)[NOTHING_REMOVED]
        trained = pd.read_parquet(small_run.path / "scores" / f"{bureau}.parquet")
        pd.testing.assert_frame_equal(refitted, trained[list(SCORE_COLUMNS)])
        checked += 1
    assert checked


def test_a_model_of_another_family_is_not_taken_for_the_full_model(small_run) -> None:
    scn = small_run.scenario
    trained = [
        b for b in scn.active_bureaus if (small_run.path / "scores" / f"{b}.parquet").exists()
    ]
    bureau = trained[0]
    job = BureauJob(scn, RunLayout(small_run.path), bureau)
    assert _full_model_scores(job) is not None
    profile = scn.bureaus[bureau]
    other = "lightgbm" if profile.model == "scorecard" else "scorecard"
    bureaus = {**scn.bureaus, bureau: profile.model_copy(update={"model": other})}
    changed = scn.model_copy(update={"bureaus": bureaus})
    assert _full_model_scores(BureauJob(changed, RunLayout(small_run.path), bureau)) is None
