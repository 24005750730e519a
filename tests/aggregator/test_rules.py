from __future__ import annotations

import numpy as np
import pandas as pd

from bureau.aggregator.reconcile import reconcile
from bureau.aggregator.rules import furnisher_of_record, majority, most_recent, settle


def candidates(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["group", "bureau", "token", "direct", "last_month"])


def test_each_rule_keeps_the_right_candidates() -> None:
    c = candidates(
        [
            (0, "a", "N", False, 10),
            (0, "b", "1", True, 9),
            (0, "c", "1", False, 10),
            (1, "a", "N", False, 10),
            (1, "b", "2", False, 10),
        ]
    )
    assert furnisher_of_record(c).tolist() == [False, True, False, True, True]
    assert most_recent(c).tolist() == [True, False, True, True, True]
    assert majority(c).tolist() == [False, True, True, True, True]


def test_settle_applies_the_rules_in_order_and_names_the_rule() -> None:
    c = candidates(
        [
            (0, "a", "N", False, 10),
            (0, "b", "1", True, 9),
            (1, "a", "N", False, 10),
            (1, "b", "N", True, 10),
            (2, "a", "C", False, 11),
            (3, "a", "N", False, 10),
            (3, "b", "2", False, 10),
        ]
    )
    first = settle(c, ["furnisher_of_record", "most_recent", "majority"])
    assert first["rule"].tolist() == ["furnisher_of_record", "agreed", "single", "tiebreak"]
    assert first["bureau"].tolist() == ["b", "a", "a", "a"]
    assert first["conflict"].tolist() == [True, False, False, True]
    # Another order settles the first account the other way.
    second = settle(c, ["most_recent", "furnisher_of_record"])
    assert second.loc[0, "rule"] == "most_recent" and second.loc[0, "bureau"] == "a"
    assert c.loc[second["row"], "token"].tolist() == ["N", "N", "C", "N"]


def test_majority_settles_three_bureaus() -> None:
    c = candidates([(0, "a", "1", False, 5), (0, "b", "N", False, 5), (0, "c", "N", False, 5)])
    out = settle(c, ["majority"])
    assert out.loc[0, "rule"] == "majority" and out.loc[0, "bureau"] == "b"


def lines(bureau: str, rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows,
        columns=["consumer_id", "account_ref", "status", "balance", "last_month", "direct"],
    )
    return frame.assign(
        bureau=bureau,
        furnisher="lender",
        product="credit_card",
        opened=1,
        amount=100_00,
        history="-" * 23 + frame["status"],
    )


def test_reconcile_keeps_provenance_and_lists_every_disagreement() -> None:
    tradelines = pd.concat(
        [
            lines("alpha", [(1, "A1", "N", 500, 10, True), (1, "A2", "N", 10, 10, True)]),
            lines("beta", [(7, "A1", "2", 500, 10, False), (7, "A2", "N", 20, 9, True)]),
        ],
        ignore_index=True,
    )
    records = pd.DataFrame(
        columns=[
            *("bureau", "consumer_id", "furnisher", "record_ref", "direct", "kind"),
            *("filed", "ended", "amount", "last_month"),
        ]
    )
    keys = pd.DataFrame({"bureau": ["alpha", "beta"], "consumer_id": [1, 7], "person_key": [1, 1]})
    out = reconcile(tradelines, records, keys, ["furnisher_of_record", "most_recent", "majority"])
    t = out.tradelines.set_index("account_ref")
    assert t.loc["A1", "status"] == "N" and t.loc["A1", "status_bureau"] == "alpha"
    assert t.loc["A1", "status_rule"] == "furnisher_of_record"
    assert t.loc["A1", "balance_rule"] == "agreed" and t.loc["A1", "bureaus"] == "alpha+beta"
    assert t.loc["A2", "balance"] == 10 and t.loc["A2", "balance_rule"] == "most_recent"
    assert t.loc["A1", "person_key"] == 1
    d = out.discrepancies.set_index(["ref", "field"])
    assert d.loc[("A1", "status"), "values"] == "alpha=N;beta=2"
    assert d.loc[("A1", "status"), "kind"] == "conflict"
    assert d.loc[("A2", "balance"), "kind"] == "stale"
    assert set(d.index) == {
        ("A1", "status"),
        ("A1", "history"),
        ("A2", "balance"),
        ("A2", "last_month"),
    }
    assert t.loc["A1", "history_bureau"] == "alpha"
    assert np.array_equal(out.tradelines["history"].str[-1], out.tradelines["status"])
