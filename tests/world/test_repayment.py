"""The delinquency state machine and the payment arithmetic, on hand-built accounts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bureau import load_scenario
from bureau.world.hardship import BURN_IN, episode_cover
from bureau.world.repayment import CHARGED_OFF, CLOSED, repay, run_lengths


def test_run_lengths_count_consecutive_misses() -> None:
    miss = np.array([[0, 1, 1, 0, 1, 1, 1], [1, 1, 0, 0, 0, 0, 1]], dtype=bool)
    assert run_lengths(miss).tolist() == [[0, 1, 2, 0, 1, 2, 3], [1, 2, 0, 0, 0, 0, 1]]


def test_episode_cover_marks_overlapping_episodes() -> None:
    starts = np.zeros((1, 8), dtype=bool)
    lengths = np.zeros((1, 8), dtype=np.int64)
    starts[0, [1, 2, 6]] = True
    lengths[0, [1, 2, 6]] = [3, 1, 5]  # the last one runs past the end
    assert episode_cover(starts, lengths).astype(int).tolist() == [[0, 1, 1, 1, 0, 0, 1, 1]]


def _repay(hardship_months: list[int], *, term: int, rate: float, product: str = "consumer_loan"):
    scn = load_scenario(
        "small",
        {
            "behaviour.idiosyncratic_miss_rate": 0.0,
            f"products.{product}.miss_in_hardship": 1.0,
            f"products.{product}.voluntary_close_rate": 0.0,
            "shocks": {},
        },
    )
    persons = pd.DataFrame({"person_id": [0], "creditworthiness": [0.0], "impulsivity": [0.0]})
    accounts = pd.DataFrame(
        {
            "account_id": [1],
            "person_id": [0],
            "product": [product],
            "open_month": np.array([0], dtype=np.int16),
            "term_months": np.array([term], dtype=np.int16),
            "amount": [12_000],
            "annual_rate": [rate],
        }
    )
    hardship = np.zeros((1, BURN_IN + scn.months), dtype=bool)
    hardship[0, [BURN_IN + m for m in hardship_months]] = True
    return scn, repay(scn, persons, accounts, hardship)


def test_a_missed_instalment_is_caught_up_and_the_loan_pays_off_exactly() -> None:
    _, (accounts, months) = _repay([3, 4], term=12, rate=0.0)
    assert months["status"].tolist()[:7] == [0, 0, 0, 1, 2, 0, 0]
    # Two missed instalments of 1,000 are paid with the third on the cure.
    assert months["payment"].tolist()[:7] == [0, 1000, 1000, 0, 0, 3000, 1000]
    assert months["payment"].sum() == 12_000
    assert months["status"].iloc[-1] == CLOSED
    assert months["balance"].iloc[-1] == 0
    assert accounts["close_month"].iloc[0] == months["month"].iloc[-1] == 12
    assert accounts["worst_status"].iloc[0] == 2


def test_interest_bearing_loan_amortises_to_zero() -> None:
    _, (_, months) = _repay([], term=12, rate=0.12)
    balances = months["balance"].to_numpy()
    assert np.all(np.diff(balances) < 0)
    assert balances[-1] == 0
    assert months["payment"].sum() > 12_000


def test_charge_off_comes_exactly_after_the_set_number_of_misses() -> None:
    scn, (accounts, months) = _repay(list(range(2, 30)), term=24, rate=0.1)
    after = scn.products["consumer_loan"].chargeoff_after
    assert months["status"].tolist() == [*[0, 0, 1, 2, 3, 4, 4, 4][: after + 1], CHARGED_OFF]
    assert accounts["chargeoff_month"].iloc[0] == 1 + after
    assert months["month"].iloc[-1] == 1 + after  # nothing is reported after charge-off
