"""Decisions made with bureau scores change only what follows from them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bureau import load_scenario
from bureau.config.market import OWN_JUDGMENT
from bureau.world.generate import generate_chunk

_PERSON_TABLES = ("accounts", "applications", "public_records", "outcomes")


@pytest.fixture(scope="module")
def worlds() -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame], pd.DataFrame]:
    scn = load_scenario("small", {"population.persons": 2000, "population.chunk_size": 2000})
    before = generate_chunk(scn, 0)
    apps = before["applications"]
    # Approve twenty declined applications of the later months, and decline twenty approved.
    late = apps[apps["month"] >= 14]
    flip = pd.concat([late[~late["approved"]].head(20), late[late["approved"]].head(20)])
    decisions = pd.DataFrame(
        {
            "application_id": flip["application_id"].to_numpy(),
            "approved": ~flip["approved"].to_numpy(),
            "decided_by": "sesame",
            "pd": 0.05,
            "amount_factor": 1.0,
        }
    )
    return before, generate_chunk(scn, 0, decisions), flip


def _rows(table: pd.DataFrame, persons: np.ndarray, keep: bool) -> pd.DataFrame:
    mask = table["person_id"].isin(persons).to_numpy()
    return table[~mask if keep else mask].reset_index(drop=True)


def test_other_persons_and_earlier_months_keep_every_draw(worlds) -> None:
    before, after, flip = worlds
    touched = flip["person_id"].unique()
    for name in _PERSON_TABLES:
        pd.testing.assert_frame_equal(
            _rows(before[name], touched, keep=True), _rows(after[name], touched, keep=True)
        )
    # The account-months of every account that exists in both worlds are the same rows.
    both = np.intersect1d(before["accounts"]["account_id"], after["accounts"]["account_id"])
    months = [
        t[t["account_id"].isin(both)].reset_index(drop=True)
        for t in (before["account_months"], after["account_months"])
    ]
    pd.testing.assert_frame_equal(*months)
    # Nothing of the months before the first changed decision differs, for anyone.
    first = int(flip["month"].min())
    for name in ("account_months", "public_records"):
        early = [t[name] for t in (before, after)]
        early = [t[t["month"] < first].reset_index(drop=True) for t in early]
        pd.testing.assert_frame_equal(*early)


def test_a_changed_decision_opens_the_counterfactual_loan(worlds) -> None:
    before, after, flip = worlds
    b = before["applications"].set_index("application_id")
    a = after["applications"].set_index("application_id")
    approved_now = flip.loc[~flip["approved"], "application_id"].to_numpy()
    declined_now = flip.loc[flip["approved"], "application_id"].to_numpy()
    # Approving a declined application gives exactly the loan its counterfactual described.
    known = a.loc[approved_now]
    assert known["approved"].all()
    assert (known["decided_by"] == "sesame").all()
    assert np.allclose(known["pd"], 0.05)
    assert known["counterfactual_default_12m"].isna().all()
    pd.testing.assert_series_equal(
        known["default_12m"], b.loc[approved_now, "counterfactual_default_12m"], check_names=False
    )
    assert (known["amount"] == b.loc[approved_now, "amount"]).all()
    # Declining an approved one removes its account, and records what it would have done.
    gone = a.loc[a.index.intersection(declined_now)]
    assert not gone["approved"].any()
    assert (gone["account_id"] == -1).all()
    pd.testing.assert_series_equal(
        gone["counterfactual_default_12m"],
        b.loc[gone.index, "default_12m"],
        check_names=False,
    )
    removed = b.loc[declined_now, "account_id"].to_numpy()
    assert not after["accounts"]["account_id"].isin(removed).any()
    assert not after["account_months"]["account_id"].isin(removed).any()
    untouched = b.index.difference(flip["application_id"])
    assert (a.loc[a.index.intersection(untouched), "decided_by"] == OWN_JUDGMENT).all()


def test_outcomes_of_loans_are_known_only_with_twelve_months_to_see(worlds) -> None:
    before, _, _ = worlds
    apps = before["applications"]
    approved = apps["approved"].to_numpy()
    assert apps.loc[approved, "counterfactual_default_12m"].isna().all()
    assert apps.loc[~approved, "default_12m"].isna().all()
    late = apps["month"].to_numpy() + 12 > 35
    seen = apps["default_12m"].fillna(apps["counterfactual_default_12m"])
    # Known exactly where the 12 months lie inside the window.
    assert seen[~late].notna().all() and seen[late].isna().all()
    # The declined are the riskier: the lenders' own screening is not blind.
    assert seen[~approved & ~late].mean() > seen[approved & ~late].mean()
