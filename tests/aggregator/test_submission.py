from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

from bureau.aggregator.submission import SubmissionError, receive
from bureau.store.aggregator import (
    AggregatorBase,
    SubmissionReject,
    SubmittedIdentity,
    SubmittedTradeline,
)
from bureau.store.engines import database_engine


def parts() -> dict[str, pd.DataFrame]:
    identities = pd.DataFrame(
        {
            "consumer_id": [1, 2, 3, 4, 4, 5, 5],
            "name": ["王伟", "李娜", None, "张敏", "张敏", "陈静", "陈静"],
            "national_id": ["110101199001011237", None, None, None, None, None, None],
            "phone": [
                *("13800000001", "13800000002", None, "13800000004", "13800000004"),
                *("13800000005", "13900000005"),
            ],
            "birth_month": ["199001", None, None, None, None, None, None],
        }
    )
    line = {
        "furnisher": "icbc",
        "direct": True,
        "product": "credit_card",
        "opened": 3,
        "amount": 1000_00,
        "balance": 10_00,
        "status": "N",
        "last_month": 11,
        "history": "-" * 23 + "N",
    }
    tradelines = pd.DataFrame(
        [
            {**line, "consumer_id": 1, "account_ref": "A1"},
            {**line, "consumer_id": 1, "account_ref": "A2", "status": None},
            {**line, "consumer_id": 2, "account_ref": "A3"},
            {**line, "consumer_id": 2, "account_ref": "A3", "balance": 99_00},
            {**line, "consumer_id": 4, "account_ref": "A4"},
            {**line, "consumer_id": 4, "account_ref": "A4"},
            {**line, "consumer_id": 9, "account_ref": "A5"},
            {**line, "consumer_id": 1, "account_ref": "A6", "status": "X"},
        ]
    )
    public_records = pd.DataFrame(
        columns=[
            *("consumer_id", "furnisher", "record_ref", "direct", "kind"),
            *("filed", "ended", "amount", "last_month"),
        ]
    )
    scores = pd.DataFrame(
        {"consumer_id": [1, 2], "score": [600, 700], "pd": [0.1, 1.5], "in_default": [False] * 2}
    )
    return {
        "identities": identities,
        "tradelines": tradelines,
        "public_records": public_records,
        "scores": scores,
    }


def test_every_unusable_row_is_set_aside_with_its_reason(tmp_path: Path) -> None:
    engine = database_engine(tmp_path, "aggregator", AggregatorBase)
    got = receive(engine, "kaola", 11, parts())
    assert not got.unchanged
    with engine.connect() as conn:
        rejects = pd.read_sql(select(SubmissionReject.__table__), conn)
        ids = conn.execute(select(SubmittedIdentity.consumer_id)).scalars().all()
        refs = conn.execute(select(SubmittedTradeline.account_ref)).scalars().all()
    reasons = {(r.part, r.row): r.reason for r in rejects.itertuples()}
    assert reasons[("identities", 3)].startswith("no identity attribute")
    assert "conflicting copies" in reasons[("identities", 6)]
    assert "conflicting copies" in reasons[("identities", 7)]
    assert reasons[("tradelines", 2)] == "required value missing"
    assert rejects.set_index(["part", "row"]).loc[("tradelines", 2), "field"] == "status"
    assert "conflicting copies" in reasons[("tradelines", 3)]
    assert "not among the submitted identities" in reasons[("tradelines", 7)]
    assert "status code" in reasons[("tradelines", 8)]
    assert reasons[("scores", 2)] == "not a probability"
    # Exact copies are one row; every other row is stored or set aside, none lost.
    assert sorted(ids) == [1, 2, 4] and sorted(refs) == ["A1", "A4"]
    raw = json.loads(rejects.set_index(["part", "row"]).loc[("tradelines", 7), "raw"])
    assert raw["account_ref"] == "A5" and raw["consumer_id"] == 9
    assert got.rows == {"identities": 3, "tradelines": 2, "public_records": 0, "scores": 1}
    assert got.rejected == len(rejects) == 9


def test_receiving_the_same_submission_again_changes_nothing(tmp_path: Path) -> None:
    engine = database_engine(tmp_path, "aggregator", AggregatorBase)
    receive(engine, "kaola", 11, parts())
    again = receive(engine, "kaola", 11, parts())
    assert again.unchanged and again.rows["tradelines"] == 2
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(SubmissionReject)).scalar() == 9
    changed = parts()
    changed["tradelines"] = changed["tradelines"].iloc[:1]
    replaced = receive(engine, "kaola", 11, changed)
    assert not replaced.unchanged and replaced.rows["tradelines"] == 1
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(SubmittedTradeline)).scalar() == 1


def test_a_submission_without_a_column_is_refused_whole(tmp_path: Path) -> None:
    engine = database_engine(tmp_path, "aggregator", AggregatorBase)
    broken = parts()
    broken["tradelines"] = broken["tradelines"].drop(columns="account_ref")
    with pytest.raises(SubmissionError, match="tradelines has no column account_ref"):
        receive(engine, "kaola", 11, broken)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(SubmittedIdentity)).scalar() == 0


def test_values_of_the_wrong_kind_are_set_aside_not_crashed_on(tmp_path: Path) -> None:
    engine = database_engine(tmp_path, "aggregator", AggregatorBase)
    broken = parts()
    lines = broken["tradelines"].iloc[[0, 0, 0, 0, 0, 0]].reset_index(drop=True).astype(object)
    lines["account_ref"] = ["B1", "B2", "B3", "B" * 40, "B5", "B6"]
    lines.loc[0, "opened"] = "soon"
    lines.loc[1, "direct"] = "maybe"
    lines.loc[2, "history"] = "x"
    lines.loc[4, "last_month"] = 99
    lines.loc[5, "balance"] = -5
    broken["tradelines"] = lines
    got = receive(engine, "kaola", 11, broken)
    with engine.connect() as conn:
        rejects = pd.read_sql(
            select(SubmissionReject.__table__).where(SubmissionReject.part == "tradelines"), conn
        ).set_index("row")
    assert rejects.loc[1, "field"] == "opened" and rejects.loc[1, "reason"] == "not a whole number"
    assert rejects.loc[2, "reason"] == "not true or false"
    assert rejects.loc[3, "field"] == "history"
    assert rejects.loc[4, "reason"] == "longer than 24 characters"
    assert rejects.loc[5, "reason"].startswith("after the snapshot")
    assert rejects.loc[6, "reason"] == "negative"
    assert got.rows["tradelines"] == 0
