"""Monthly alternative data: spending, payments, bill punctuality, social activity, gaming, moves.

Signals exist only where a platform collects them: e-commerce spend and returns for e-commerce
members, payment volume for payment-app users, social activity for messaging users. Hardship
leaves traces (less spending and payment volume, late bills, more moves); impulsivity shows in
spending, returns and gaming. These are what the platform-owned bureaus hold beyond credit data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bureau.config.scenario import Scenario
from bureau.rng import generator
from bureau.world.common import expit, logit, rows_of
from bureau.world.hardship import interval_cover

# Singles' Day (11 November) lifts online spending; the factor is an assumption.
_NOVEMBER_LIFT = 1.6


def member_matrix(
    scn: Scenario, persons: pd.DataFrame, memberships: pd.DataFrame, kind: str
) -> np.ndarray:
    """Which persons use at least one platform of a kind, month by month.

    Parameters
    ----------
    scn
        The scenario.
    persons
        The chunk's persons.
    memberships
        The chunk's memberships.
    kind
        A platform kind, for example ``"ecommerce"``.

    Returns
    -------
    numpy.ndarray
        Boolean matrix (persons x months).
    """
    n, t = len(persons), scn.months
    kinds = {pid: p.kind for pid, p in scn.platforms.items()}
    rows = memberships[memberships["platform_id"].map(kinds).to_numpy() == kind]
    leave = rows["leave_month"].to_numpy().astype(np.int64)
    return interval_cover(
        n,
        t,
        rows_of(persons, rows["person_id"]),
        rows["join_month"].to_numpy(),
        np.where(leave >= 0, leave, t),
    )


def generate_signals(
    scn: Scenario,
    chunk: int,
    persons: pd.DataFrame,
    memberships: pd.DataFrame,
    hardship: np.ndarray,
) -> pd.DataFrame:
    """Generate the monthly signals of one chunk.

    Parameters
    ----------
    scn
        The scenario.
    chunk
        The 0-based chunk index.
    persons, memberships
        The chunk's persons and memberships.
    hardship
        The chunk's hardship matrix (persons x months).

    Returns
    -------
    pandas.DataFrame
        One row per person and month; numeric signals are NaN where no platform collects
        them. See docs/outputs.md for units.
    """
    rng = generator(scn.seed, "world.signals", chunk)
    sig = scn.signals
    n, t = len(persons), scn.months
    h = hardship.astype(np.float32)
    # The habits a person's signals show whatever their hardship: what alternative data can
    # tell a lender that a credit history does not.
    cw = sig.habit_signal * persons["creditworthiness"].to_numpy()[:, None]
    imp = sig.habit_signal * persons["impulsivity"].to_numpy()[:, None]
    digital = persons["digital_footprint"].to_numpy()[:, None]
    age = persons["age"].to_numpy().astype(np.float32)[:, None]
    income = persons["monthly_income"].to_numpy().astype(np.float32)[:, None]
    calendar = (scn.start_date.month - 1 + np.arange(t)) % 12
    season = np.where(calendar == 10, _NOVEMBER_LIFT, 1.0).astype(np.float32)[None, :]

    def noise(sigma: float) -> np.ndarray:
        return np.exp(rng.normal(0, sigma, (n, t)).astype(np.float32))

    shop = member_matrix(scn, persons, memberships, "ecommerce")
    spend = income * 0.12 * np.exp(0.3 * digital + 0.3 * imp) * noise(0.5) * season
    spend *= 1 - sig.hardship_spend_drop * h
    returns = rng.poisson(np.clip(spend / 600 * np.exp(0.3 * imp), 0, 50)).astype(np.float32)

    pay = member_matrix(scn, persons, memberships, "payment")
    volume = income * 0.5 * np.exp(0.3 * digital) * noise(0.3) * (1 - 0.5 * h)

    base = logit(sig.bill_on_time_base)
    utility = rng.random((n, t)) < expit(base + 0.8 * cw - 2.0 * h)
    phone = rng.random((n, t)) < expit(base + 0.3 + 0.6 * cw - 1.8 * h)

    chat = member_matrix(scn, persons, memberships, "messaging")
    social = np.exp(2.5 + 0.5 * digital) * noise(0.3)

    gamer = rng.random((n, 1)) < expit(-0.3 + 0.5 * digital - 0.05 * (age - 30))
    gaming = gamer * 25 * np.exp(0.5 * imp + 0.3 * digital - 0.02 * (age - 30)) * noise(0.5)
    gaming *= 1 + 0.3 * h

    youth = np.clip((45 - age) / 20, 0.3, 1.5)
    moved = rng.random((n, t)) < sig.address_change_rate * youth * (1 + 2 * h)

    nan = np.float32(np.nan)
    return pd.DataFrame(
        {
            "person_id": np.repeat(persons["person_id"].to_numpy(), t),
            "month": np.tile(np.arange(t, dtype=np.int16), n),
            "ecommerce_spend": np.where(shop, np.round(spend), nan).ravel(),
            "ecommerce_returns": np.where(shop, returns, nan).ravel(),
            "payment_volume": np.where(pay, np.round(volume), nan).ravel(),
            "utility_on_time": utility.ravel(),
            "phone_bill_on_time": phone.ravel(),
            "social_activity": np.where(chat, np.round(social, 1), nan).ravel(),
            "gaming_minutes": np.round(gaming, 1).astype(np.float32).ravel(),
            "address_changed": moved.ravel(),
        }
    )
