"""Public records: court judgments, the dishonest judgment-debtor list, administrative penalties.

A charged-off debt may be taken to court; a judgment that is not executed may put the debtor on
the Supreme People's Court list of dishonest judgment debtors, until the debt is paid. Removal
is sometimes slow (the record outlives the payment), and a few people are listed wrongly (a
namesake, a clerical error). Administrative penalties (tax, traffic, market regulation) arrive
independently of credit, more often to the self-employed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bureau.config.scenario import Scenario
from bureau.rng import KeyedDraws, generator
from bureau.world.keys import chunk_keys, derived_keys
from bureau.world.repayment import CHARGED_OFF

RECORD_KINDS = ("court_judgment", "dishonest_debtor", "admin_penalty")
# Relative rate of administrative penalties by occupation (an assumption), in the order of
# bureau.world.population.OCCUPATIONS.
_PENALTY_EXPOSURE = np.array([0.6, 0.8, 1.0, 3.0, 0.7, 0.8, 0.5, 0.3, 0.3])


def _keyed_lag(keyed: KeyedDraws, purpose: str, mean: float, keys: np.ndarray) -> np.ndarray:
    """Months of delay, geometric with the given mean, one per key."""
    return keyed.geometric(purpose, 1.0 / (mean + 1.0), keys) - 1


def _lag(rng: np.random.Generator, mean: float, size: int) -> np.ndarray:
    """Whole-month delays with the given mean (0 allowed)."""
    return rng.geometric(1.0 / (mean + 1.0), size) - 1


def generate_records(
    scn: Scenario,
    chunk: int,
    persons: pd.DataFrame,
    accounts: pd.DataFrame,
    account_months: pd.DataFrame,
) -> pd.DataFrame:
    """Generate the public records of one chunk.

    Parameters
    ----------
    scn
        The scenario.
    chunk
        The 0-based chunk index.
    persons, accounts, account_months
        The chunk's persons, accounts (with their fates) and account-months.

    Returns
    -------
    pandas.DataFrame
        One row per record: ``record_id``, ``person_id``, ``kind``, ``month`` (filed or
        listed), ``end_month`` (removed; -1 if still on record), ``due_end_month`` (when it
        should have been removed; -1 if not due), ``amount`` (yuan), ``account_id`` (-1 if
        none) and ``wrongful``.
    """
    # The records that follow from an account draw by the account's key, so that they do not
    # depend on which other accounts exist; those of a person alone draw from the chunk's
    # stream, whose draws no decision changes.
    keyed = KeyedDraws(scn.seed, "world.records")
    rng = generator(scn.seed, "world.records", chunk)
    rec, t = scn.records, scn.months
    parts = []

    co = account_months[account_months["status"] == CHARGED_OFF]
    co_key = co["account_id"].to_numpy()
    sued = co[keyed.uniform("sued", co_key) < rec.judgment_share]
    sued_key = sued["account_id"].to_numpy()
    judged_month = sued["month"].to_numpy() + _keyed_lag(
        keyed, "judged", rec.judgment_lag_months, sued_key
    )
    on_time = judged_month < t
    sued, judged_month, sued_key = sued[on_time], judged_month[on_time], sued_key[on_time]
    owner = accounts.set_index("account_id")["person_id"]
    debtor = owner.reindex(sued["account_id"]).to_numpy()
    parts.append(
        pd.DataFrame(
            {
                "record_id": derived_keys(sued_key, slot=2, per_parent=2, index=0),
                "person_id": debtor,
                "kind": 0,
                "month": judged_month,
                "end_month": -1,
                "due_end_month": -1,
                "amount": sued["balance"].to_numpy(),
                "account_id": sued["account_id"].to_numpy(),
                "wrongful": False,
            }
        )
    )

    # Listing: a judgment left unexecuted; those with more income settle more often.
    income = persons.set_index("person_id")["monthly_income"].reindex(debtor).to_numpy()
    p_list = rec.listing_share * np.clip(1.3 - 0.3 * np.log(income / 5000.0), 0.2, 1.5)
    listed = keyed.uniform("listed", sued_key) < np.clip(p_list, 0, 1)
    list_month = judged_month + _keyed_lag(keyed, "listed", rec.listing_lag_months, sued_key)
    listed &= list_month < t
    due = list_month + 1 + _keyed_lag(keyed, "paid", rec.listing_mean_months, sued_key)
    slow = keyed.uniform("slow", sued_key) < rec.slow_removal_share
    removed = due + np.where(
        slow, 1 + _keyed_lag(keyed, "slow", rec.slow_removal_months, sued_key), 0
    )
    parts.append(
        pd.DataFrame(
            {
                "record_id": derived_keys(sued_key[listed], slot=2, per_parent=2, index=1),
                "person_id": debtor[listed],
                "kind": 1,
                "month": list_month[listed],
                "end_month": np.where(removed < t, removed, -1)[listed],
                "due_end_month": np.where(due < t, due, -1)[listed],
                "amount": sued["balance"].to_numpy()[listed],
                "account_id": sued["account_id"].to_numpy()[listed],
                "wrongful": False,
            }
        )
    )

    # People already on the list at month 0 from debts before the window: the least
    # creditworthy, leaving as they pay.
    n = len(persons)
    cw = persons["creditworthiness"].to_numpy().astype(float)
    weight = np.exp(-1.5 * cw)
    prior = np.flatnonzero(
        rng.random(n) < np.clip(rec.listed_at_start * weight / weight.mean(), 0, 1)
    )
    p_month = -rng.integers(1, 37, prior.size)
    p_due = p_month + 1 + _lag(rng, rec.listing_mean_months * 2, prior.size)
    # Only those still listed at month 0 belong to the window.
    still = p_due >= 0
    prior, p_month, p_due = prior[still], p_month[still], p_due[still]
    parts.append(
        pd.DataFrame(
            {
                "person_id": persons["person_id"].to_numpy()[prior],
                "kind": 1,
                "month": p_month,
                "end_month": np.where(p_due < t, p_due, -1),
                "due_end_month": np.where(p_due < t, p_due, -1),
                "amount": np.round(rng.lognormal(np.log(30_000), 1.0, prior.size), -2),
                "account_id": -1,
                "wrongful": False,
            }
        )
    )

    # Wrongful listings, corrected after a few months once the person complains.
    p_wrong = 1 - (1 - rec.wrongful_listing_rate) ** t
    wrong = np.flatnonzero(rng.random(n) < p_wrong)
    w_month = rng.integers(0, t, wrong.size)
    w_end = w_month + 1 + _lag(rng, 5.0, wrong.size)
    parts.append(
        pd.DataFrame(
            {
                "person_id": persons["person_id"].to_numpy()[wrong],
                "kind": 1,
                "month": w_month,
                "end_month": np.where(w_end < t, w_end, -1),
                "due_end_month": w_month,
                "amount": np.round(rng.lognormal(np.log(20_000), 1.0, wrong.size), -2),
                "account_id": -1,
                "wrongful": True,
            }
        )
    )

    exposure = _PENALTY_EXPOSURE[persons["occupation"].cat.codes.to_numpy()]
    count = rng.poisson(rec.admin_penalty_rate * t * exposure)
    who = np.repeat(np.arange(n), count)
    parts.append(
        pd.DataFrame(
            {
                "person_id": persons["person_id"].to_numpy()[who],
                "kind": 2,
                "month": rng.integers(0, t, who.size),
                "end_month": -1,
                "due_end_month": -1,
                "amount": np.round(rng.lognormal(np.log(800), 1.0, who.size), -1),
                "account_id": -1,
                "wrongful": False,
            }
        )
    )

    # A person's own records are numbered in the order drawn; those that follow from an
    # account took their keys from it.
    own = pd.concat(parts[2:], ignore_index=True)
    own.insert(0, "record_id", chunk_keys(chunk, len(own)))
    records = pd.concat([*parts[:2], own], ignore_index=True).sort_values(
        ["person_id", "month", "kind"], kind="stable", ignore_index=True
    )
    return pd.DataFrame(
        {
            "record_id": records["record_id"].to_numpy().astype(np.int64),
            "person_id": records["person_id"].to_numpy().astype(np.int64),
            "kind": pd.Categorical.from_codes(
                records["kind"].to_numpy().astype(np.int8), RECORD_KINDS
            ),
            "month": records["month"].to_numpy().astype(np.int16),
            "end_month": records["end_month"].to_numpy().astype(np.int16),
            "due_end_month": records["due_end_month"].to_numpy().astype(np.int16),
            "amount": records["amount"].to_numpy().astype(np.int64),
            "account_id": records["account_id"].to_numpy().astype(np.int64),
            "wrongful": records["wrongful"].to_numpy().astype(bool),
        }
    )
