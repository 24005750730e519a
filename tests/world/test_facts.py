"""The world's figures that published statistics describe, and the spells they count."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bureau.layout import RunLayout
from bureau.store.parquet import read_table
from bureau.world.facts import FACT_COLUMNS, REACH_COLUMNS, REGISTERED
from bureau.world.hardship import interval_cover


def test_intervals_cover_their_months_cut_to_the_window() -> None:
    cover = interval_cover(
        3, 5, np.array([0, 0, 1, 2]), np.array([-2, 3, 1, 4]), np.array([1, 9, 1, 5])
    )
    assert cover.astype(int).tolist() == [[1, 0, 0, 1, 1], [0, 0, 0, 0, 0], [0, 0, 0, 0, 1]]


@pytest.mark.slow
def test_the_world_facts_count_what_the_world_holds(small_run) -> None:
    run = RunLayout(small_run.path)
    facts = pd.read_parquet(run.report_file("world_facts")).set_index("month")
    assert list(facts.reset_index().columns) == list(FACT_COLUMNS)
    assert len(facts) == small_run.scenario.months - 12
    persons = read_table(run.world_table("persons"), ["person_id"])
    assert (facts["adults"] == len(persons)).all()
    shares = facts.drop(columns=["adults", "default_rate"])
    assert ((shares >= 0) & (shares <= 1)).all().all()
    assert (facts["credit_record_share"] >= facts["borrower_share"]).all()
    assert (facts["credit_record_share"] >= facts["bank_record_share"]).all()
    accounts = read_table(run.world_table("accounts"))
    banks = [lid for lid, lender in small_run.scenario.lenders.items() if lender.kind in REGISTERED]
    banked = accounts[accounts["lender_id"].astype(str).isin(banks) & (accounts["open_month"] <= 5)]
    share = banked["person_id"].nunique() / len(persons)
    assert facts.loc[5, "bank_record_share"] == pytest.approx(share, abs=1e-6)
    assert facts["credit_record_share"].is_monotonic_increasing

    month = 11
    outcomes = read_table(run.world_table("outcomes"))
    now = outcomes[outcomes["snapshot_month"] == month]
    judged = now[now["borrower"] & ~now["in_default"]]
    assert facts.loc[month, "default_rate"] == pytest.approx(judged["default_12m"].mean(), abs=1e-6)
    records = read_table(run.world_table("public_records"))
    listed = records[
        (records["kind"].astype(str) == "dishonest_debtor")
        & (records["month"] <= month)
        & ((records["end_month"] < 0) | (records["end_month"] > month))
    ]
    share = listed["person_id"].nunique() / len(persons)
    assert facts.loc[month, "listed_share"] == pytest.approx(share, abs=1e-6)

    # Each platform's users, and a kind's reach is at least that of each of its platforms.
    reach = pd.read_parquet(run.report_file("platform_reach"))
    assert list(reach.columns) == list(REACH_COLUMNS)
    assert len(reach) == len(facts) * len(small_run.scenario.platforms)
    members = read_table(run.world_table("memberships"))
    alipay = members[
        (members["platform_id"].astype(str) == "alipay")
        & (members["join_month"] <= month)
        & ((members["leave_month"] < 0) | (members["leave_month"] > month))
    ]
    row = reach[(reach["month"] == month) & (reach["platform"] == "alipay")].iloc[0]
    assert row["users"] == alipay["person_id"].nunique()
    assert row["reach"] == pytest.approx(row["users"] / len(persons), abs=1e-6)
    by_kind = reach.groupby(["month", "kind"])["reach"].max()
    for (m, kind), most in by_kind.items():
        assert facts.loc[m, f"reach_{kind}"] >= most - 1e-9
