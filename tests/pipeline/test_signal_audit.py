"""The signal audit: the world's file, each group's signal in it, and the notes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bureau.bureaus.feature_catalog import FEATURE_GROUPS, feature_names
from bureau.bureaus.models.additive import AdditiveModel, FeatureTable
from bureau.layout import RunLayout
from bureau.pipeline.signal_audit import (
    AUDIT_COLUMNS,
    DEAD_GAIN,
    audit_table,
    group_diagnostics,
    with_data,
)
from bureau.pipeline.world_file import world_features
from bureau.store.parquet import read_table


def _world_row(group: str, auc: float, borrowers_auc: float, lift: float = 1.0) -> dict:
    return {
        "group": group,
        "world_auc": auc,
        "world_borrowers_auc": borrowers_auc,
        "world_share": 0.1,
        "world_lift": lift,
    }


def _held(bureau: str, group: str, **values) -> dict:
    row = {
        "bureau": bureau,
        "group": group,
        "share": 0.2,
        "lift": 2.0,
        "used": True,
        "best_direction_auc": 0.6,
        "rows_with_data": 1000,
    }
    return row | values


def _audit(world: list[dict], held: list[dict], gains: dict, families: dict) -> pd.DataFrame:
    ablation = pd.DataFrame(
        [
            {"bureau": b, "removed": g, "observed_auc_gain": v, "truth_auc_gain": v}
            for (b, g), v in gains.items()
        ]
    )
    return audit_table(pd.DataFrame(world), ablation, pd.DataFrame(held), families).set_index(
        ["group", "bureau"]
    )


def test_each_dead_group_gets_the_reason_its_figures_give() -> None:
    world = [
        _world_row("credit", 0.89, 0.79),
        _world_row("inquiries", 0.58, 0.56),
        _world_row("public_records", 0.49, 0.50, lift=4.0),
        _world_row("payments", 0.66, 0.75),
        _world_row("telecom", 0.59, 0.69),
        _world_row("identity", 0.66, 0.60),
    ]
    held = [
        _held("a", "credit"),
        _held("a", "inquiries", used=False, share=0.01),
        _held("b", "inquiries", used=False, share=0.2, lift=0.95),
        _held("c", "inquiries", used=False, best_direction_auc=0.45),
        _held("a", "public_records", used=False),
        _held("c", "payments", share=0.0, used=False),
        _held("c", "telecom", share=0.9),
        _held("c", "identity", share=1.0),
    ]
    gains = {
        ("a", "credit"): 0.2,
        ("a", "inquiries"): 0.0,
        ("b", "inquiries"): 0.0,
        ("c", "inquiries"): 0.0,
        ("a", "public_records"): 0.0,
        ("c", "payments"): 0.0,
        ("c", "telecom"): DEAD_GAIN / 2,
        ("c", "identity"): -0.02,
    }
    families = {"a": "scorecard", "b": "scorecard", "c": "lightgbm"}
    notes = _audit(world, held, gains, families)["note"]
    assert notes["credit", "a"] == "carries its signal"
    assert notes["inquiries", "a"].startswith("too rare for the scorecard: 1.0% of the sample")
    assert notes["inquiries", "b"].startswith("dropped by the scorecard")
    assert notes["inquiries", "b"].endswith(
        ": in the bureau's sample those with it go bad 0.95 times as often as the rest"
    )
    assert notes["inquiries", "c"].startswith("forbidden by the monotone constraint")
    assert notes["public_records", "a"].startswith("the world ties little risk to it")
    assert "go bad 4.00 times as often" in notes["public_records", "a"]
    assert notes["payments", "c"].startswith("not furnished")
    assert notes["telecom", "c"] == "used, but what it says is already in the bureau's other groups"
    assert notes["identity", "c"].startswith(
        "used, and the model ranks the true outcome better without it (by 0.020 AUC)"
    )
    # Every world group is there, with an empty bureau where none holds it.
    table = _audit([*world, _world_row("social", 0.6, 0.6)], held, gains, families)
    assert table.loc[("social", ""), "note"] == "held by no bureau"
    assert sorted(table.reset_index().columns) == sorted(AUDIT_COLUMNS)


def test_the_diagnostics_read_the_sample_and_the_model() -> None:
    names = feature_names(["public_records"])
    frame = pd.DataFrame(0.0, index=range(8), columns=names)
    frame["months_since_public_record"] = 999.0
    frame.loc[[0, 1], "public_records"] = 1.0
    frame.loc[[0, 1], "months_since_public_record"] = 3.0
    y = np.array([True, False, True, False, False, False, False, False])
    flat = FeatureTable("court_judgments", np.array([]), np.array([0.0]), 0.0, "right")
    step = FeatureTable("public_records", np.array([0.5]), np.array([0.0, 0.4]), 0.0, "right")
    sample = np.ones(8, dtype=bool)
    unused, used = (
        group_diagnostics(frame, sample, y, ["public_records"], AdditiveModel(0.0, tables))[0]
        for tables in ((flat,), (flat, step))
    )
    assert not unused["used"] and used["used"]
    assert used["share"] == 0.25 and used["rows_with_data"] == 2
    # Bad rates 1/2 with a record and 1/6 without.
    assert used["lift"] == pytest.approx(3.0)
    assert used["best_direction_auc"] > 0.5
    assert with_data(frame[names]).tolist() == [True, True] + [False] * 6


@pytest.mark.slow
def test_the_world_file_holds_every_account_and_application(small_run) -> None:
    run = RunLayout(small_run.path)
    scn = small_run.scenario
    snapshot = scn.scoring.development_snapshot
    features = world_features(scn, run, [snapshot])[snapshot]
    persons = read_table(run.world_table("persons"), ["person_id"])["person_id"]
    assert features.index.tolist() == persons.tolist()
    accounts = read_table(run.world_table("accounts"), ["person_id", "open_month"])
    opened = accounts[accounts["open_month"] <= snapshot]["person_id"].value_counts()
    with_months = features["tradelines"]
    # An account opened at the snapshot may have no report yet; none is counted twice.
    assert (with_months <= opened.reindex(features.index, fill_value=0)).all()
    assert with_months.sum() > 0.9 * opened.sum()
    apps = read_table(run.world_table("applications"), ["person_id", "month"])
    recent = apps[(apps["month"] <= snapshot) & (apps["month"] > snapshot - 12)]
    expected = recent["person_id"].value_counts().reindex(features.index, fill_value=0)
    assert (features["inquiries_12m"] == expected).all()
    assert (features["age"] >= 18).all()


@pytest.mark.slow
def test_the_run_audits_every_group_of_every_bureau(small_run) -> None:
    audit = pd.read_parquet(small_run.path / "report" / "signal_audit.parquet")
    assert list(audit.columns) == list(AUDIT_COLUMNS)
    assert set(audit["group"]) == set(FEATURE_GROUPS)
    profiles = small_run.scenario.bureaus
    ablation = pd.read_parquet(small_run.path / "report" / "ablation.parquet")
    for bureau in ablation["bureau"].unique():
        held = set(audit.loc[audit["bureau"] == bureau, "group"])
        assert held == set(profiles[bureau].feature_groups)
    assert audit["note"].str.len().gt(0).all()
    assert audit["world_auc"].between(0, 1).all()
    # The credit group is the world's strongest signal.
    world = audit.drop_duplicates("group").set_index("group")["world_auc"]
    assert world.idxmax() == "credit"
