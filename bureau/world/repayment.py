"""Repayment: each account's monthly balance, payment and delinquency status.

An account misses its payment in a month when its holder is in hardship (more or less often by
product: people protect their mortgage before a P2P loan), by a rare one-off slip, or, after the
P2P collapse, because a P2P borrower stops paying a failed platform. Consecutive missed payments
set the delinquency bucket (one missed payment is 1-29 days past due, two is 30-59, three is
60-89, four or more is 90+); paying the arrears cures the account back to current, and enough
consecutive misses charge it off. Instalment loans amortise and close when paid; revolving
accounts follow a utilisation that rises with impulsivity, hardship and arrears.

The whole (accounts x months) grid is computed at once: the bucket is the length of the current
run of missed payments, which needs no month-by-month loop.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bureau.config.scenario import Scenario
from bureau.rng import KeyedDraws
from bureau.world.common import expit, rows_of
from bureau.world.hardship import BURN_IN
from bureau.world.platforms import p2p_collapse

STATUS_LABELS = (
    "current",
    "dpd_1_29",
    "dpd_30_59",
    "dpd_60_89",
    "dpd_90_plus",
    "charged_off",
    "closed",
)
CURRENT, DPD90, CHARGED_OFF, CLOSED = 0, 4, 5, 6
_NEVER = np.iinfo(np.int32).max


def run_lengths(miss: np.ndarray) -> np.ndarray:
    """Length of the run of consecutive True values ending at each cell, along rows.

    Parameters
    ----------
    miss
        Boolean matrix (units x months).

    Returns
    -------
    numpy.ndarray
        int32 matrix: 0 where ``miss`` is False, else how many months in a row up to here.
    """
    count = np.cumsum(miss, axis=1, dtype=np.int32)
    reset = np.maximum.accumulate(np.where(miss, 0, count), axis=1)
    return count - reset


def _first(mask: np.ndarray) -> np.ndarray:
    """The first column where each row is True, or a large number where it never is."""
    any_true = mask.any(axis=1)
    return np.where(any_true, mask.argmax(axis=1), _NEVER).astype(np.int64)


def repay(
    scn: Scenario,
    persons: pd.DataFrame,
    accounts: pd.DataFrame,
    hardship: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate the monthly life of every account of one chunk.

    Parameters
    ----------
    scn
        The scenario.
    persons
        The chunk's persons.
    accounts
        The chunk's accounts (or the loans declined applications would have opened) from
        :func:`bureau.world.credit.originate`.
    hardship
        The chunk's hardship matrix (persons x months), from :data:`BURN_IN` months before
        month 0, so that accounts held at the start carry the arrears they had then.

    Returns
    -------
    tuple of pandas.DataFrame
        ``(accounts, account_months)``: the accounts with ``close_month``, ``chargeoff_month``
        (-1 when it did not happen) and ``worst_status``; and one row per account and month
        the account was open in the window. Accounts held at the start that ended before
        month 0 are dropped.
    """
    # Every draw is keyed by the account and the month: an account's life does not depend on
    # which other accounts exist.
    keyed = KeyedDraws(scn.seed, "world.repayment")
    key = accounts["account_id"].to_numpy().astype(np.int64)
    a, t = len(accounts), BURN_IN + scn.months
    # Grid columns are months -BURN_IN .. months-1; column c is month c - BURN_IN.
    months = np.arange(-BURN_IN, scn.months)[None, :]
    products = scn.product_ids
    code = pd.Categorical(accounts["product"], categories=products).codes
    spec = [scn.products[p] for p in products]
    q = np.array([s.miss_in_hardship for s in spec])[code]
    chargeoff_after = np.array([s.chargeoff_after for s in spec])[code]
    close_rate = np.array([s.voluntary_close_rate for s in spec])[code]
    revolving = np.array([s.revolving for s in spec])[code]
    is_p2p = np.array([p == "p2p_loan" for p in products])[code]

    person = rows_of(persons, accounts["person_id"])
    open_month = accounts["open_month"].to_numpy().astype(np.int64)[:, None]
    due = months > open_month

    cell = (key[:, None], months)
    miss = hardship[person] & (keyed.uniform("hardship_miss", *cell) < q[:, None])
    miss |= keyed.uniform("slip", *cell) < scn.behaviour.idiosyncratic_miss_rate
    collapse = p2p_collapse(scn)
    if collapse is not None:
        # The less creditworthy walk away from a failed platform more readily.
        cw = persons["creditworthiness"].to_numpy().astype(float)[person]
        share = collapse.strategic_default_share * 2.0 * expit(-cw)
        walk_away = is_p2p & (keyed.uniform("walk_away", key) < share)
        stop = collapse.month + keyed.integers("walk_away_month", 0, 3, key)
        miss |= walk_away[:, None] & (months >= stop[:, None])
    miss &= due
    run = run_lengths(miss)

    chargeoff = _first(run >= chargeoff_after[:, None])
    term = accounts["term_months"].to_numpy().astype(np.int64)
    paid = (months - open_month) - run
    payoff = np.where(revolving, _NEVER, _first((paid >= term[:, None]) & due & (run == 0)))
    cols = np.arange(t)
    wish = (
        np.maximum(open_month[:, 0], 0)
        + BURN_IN
        + keyed.geometric("close", np.maximum(close_rate, 1e-9), key)
    )
    wish_ok = wish < t
    clean = np.zeros(a, dtype=bool)
    clean[wish_ok] = run[np.flatnonzero(wish_ok), wish[wish_ok]] == 0
    voluntary = np.where(wish_ok & clean, wish, _NEVER)
    closed = np.minimum(payoff, voluntary)
    end = np.minimum(np.minimum(chargeoff, closed), t - 1)

    status = np.minimum(run, DPD90).astype(np.int8)
    rows = np.arange(a)
    co_rows = chargeoff < t
    status[rows[co_rows], chargeoff[co_rows]] = CHARGED_OFF
    cl_rows = (closed < t) & (closed < chargeoff)
    status[rows[cl_rows], closed[cl_rows]] = CLOSED

    balance, payment = _amounts(
        keyed, accounts, persons, hardship, person, months, miss, run, revolving, status
    )

    in_window = (months >= np.maximum(open_month, 0)) & (cols[None, :] <= end[:, None])
    r, c = np.nonzero(in_window)
    account_months = pd.DataFrame(
        {
            "account_id": accounts["account_id"].to_numpy()[r],
            "month": (c - BURN_IN).astype(np.int16),
            "status": status[r, c],
            "balance": balance[r, c],
            "payment": payment[r, c],
        }
    )
    worst = np.where(in_window & (status != CLOSED), status, 0).max(axis=1)
    fates = accounts.assign(
        close_month=np.where(cl_rows, closed - BURN_IN, -1).astype(np.int16),
        chargeoff_month=np.where(co_rows, chargeoff - BURN_IN, -1).astype(np.int16),
        worst_status=worst.astype(np.int8),
    )
    # Accounts held at the start that were paid off or charged off before month 0 never
    # appear in the window.
    fates = fates[in_window.any(axis=1)].reset_index(drop=True)
    return fates, account_months


def _amounts(
    keyed: KeyedDraws,
    accounts: pd.DataFrame,
    persons: pd.DataFrame,
    hardship: np.ndarray,
    person: np.ndarray,
    months: np.ndarray,
    miss: np.ndarray,
    run: np.ndarray,
    revolving: np.ndarray,
    status: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Balances and payments in whole yuan, for the whole grid."""
    a = miss.shape[0]
    amount = accounts["amount"].to_numpy().astype(float)[:, None]
    open_month = accounts["open_month"].to_numpy().astype(np.int64)[:, None]
    term = np.maximum(accounts["term_months"].to_numpy().astype(float), 1)[:, None]
    i = (accounts["annual_rate"].to_numpy().astype(float) / 12)[:, None]

    # Instalment loans: the annuity schedule, advanced by the instalments actually paid. A
    # month's payment is the instalments it settles: one, plus the arrears on a cure, never
    # more than the term.
    paid = np.clip((months - open_month) - run, 0, term)
    paid_before = np.concatenate([paid[:, :1], paid[:, :-1]], axis=1)
    growth_n = (1 + i) ** term
    zero_rate = i == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        remaining = np.where(
            zero_rate, 1 - paid / term, (growth_n - (1 + i) ** paid) / (growth_n - 1)
        )
        instalment = np.where(zero_rate, amount / term, amount * i / (1 - (1 + i) ** -term))
    balance_inst = amount * remaining
    settled = np.where(months <= open_month, 0, paid - paid_before)
    pay_inst = instalment * settled

    # Revolving accounts: utilisation around a personal level, higher in hardship and arrears.
    imp = persons["impulsivity"].to_numpy().astype(float)[person]
    cw = persons["creditworthiness"].to_numpy().astype(float)[person]
    level = expit(-1.0 + 0.6 * imp - 0.3 * cw)
    key = accounts["account_id"].to_numpy().astype(np.int64)
    noise = keyed.normal("utilisation", key[:, None], months)
    util = level[:, None] + 0.08 * noise + 0.25 * hardship[person] + 0.05 * run
    util = np.clip(util, 0.0, 1.2)
    full_payer = keyed.uniform("full_payer", key) < expit(0.3 + 0.8 * cw - 0.5 * imp)
    share = np.where(full_payer, 1.0, 0.1 + 0.2 * keyed.uniform("pay_share", key))[:, None]
    balance_rev = amount * util
    # A cure pays the missed minimums too.
    prev_run = np.concatenate([np.zeros((a, 1), np.int32), run[:, :-1]], axis=1)
    pay_rev = np.where(miss, 0.0, np.minimum(balance_rev, balance_rev * share * (1 + prev_run)))

    balance = np.where(revolving[:, None], balance_rev, balance_inst)
    payment = np.where(revolving[:, None], pay_rev, pay_inst)
    balance = np.where(status == CLOSED, 0.0, balance)
    return np.round(balance).astype(np.int64), np.round(payment).astype(np.int64)
