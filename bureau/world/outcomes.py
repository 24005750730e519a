"""Ground-truth outcomes: default in the 12 months after each snapshot month.

A person defaults in a month when any of their accounts is 90 or more days past due or charged
off in it. ``default_12m`` at snapshot ``s`` is True when that happens in months ``s+1 .. s+12``;
it exists for every snapshot with 12 months of future inside the window.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bureau.config.scenario import Scenario
from bureau.world.common import rows_of
from bureau.world.repayment import CLOSED, DPD90

HORIZON = 12


def person_month_flags(
    scn: Scenario, persons: pd.DataFrame, accounts: pd.DataFrame, account_months: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Flag, for each person and month, being in default and having an open account.

    Parameters
    ----------
    scn
        The scenario.
    persons, accounts, account_months
        One chunk's tables.

    Returns
    -------
    tuple of numpy.ndarray
        ``(bad, borrower)``: boolean matrices (persons x months).
    """
    n, t = len(persons), scn.months
    owner = pd.Series(accounts["person_id"].to_numpy(), index=accounts["account_id"].to_numpy())
    person = rows_of(persons, owner.reindex(account_months["account_id"].to_numpy()).to_numpy())
    month = account_months["month"].to_numpy().astype(np.int64)
    status = account_months["status"].to_numpy()
    bad = np.zeros((n, t), dtype=bool)
    borrower = np.zeros((n, t), dtype=bool)
    # Charged off (5) counts as bad; closed (6) is a clean end, not a default.
    is_bad = (status >= DPD90) & (status != CLOSED)
    bad[person[is_bad], month[is_bad]] = True
    borrower[person, month] = True
    return bad, borrower


def outcomes_table(
    scn: Scenario, persons: pd.DataFrame, accounts: pd.DataFrame, account_months: pd.DataFrame
) -> pd.DataFrame:
    """Build the outcomes of one chunk.

    Parameters
    ----------
    scn
        The scenario.
    persons, accounts, account_months
        One chunk's tables.

    Returns
    -------
    pandas.DataFrame
        ``person_id``, ``snapshot_month``, ``default_12m``, ``borrower`` (an account open at the
        snapshot) and ``in_default`` (already 90+ or charged off at the snapshot).
    """
    n, t = len(persons), scn.months
    bad, borrower = person_month_flags(scn, persons, accounts, account_months)
    snapshots = t - HORIZON
    cum = np.concatenate(
        [np.zeros((n, 1), np.int32), np.cumsum(bad, axis=1, dtype=np.int32)], axis=1
    )
    # cum[:, k] counts bad months before month k; months s+1..s+12 are cum[s+13] - cum[s+1].
    s = np.arange(snapshots)
    future = cum[:, s + HORIZON + 1] - cum[:, s + 1]
    return pd.DataFrame(
        {
            "person_id": np.repeat(persons["person_id"].to_numpy(), snapshots),
            "snapshot_month": np.tile(s.astype(np.int16), n),
            "default_12m": (future > 0).ravel(),
            "borrower": borrower[:, :snapshots].ravel(),
            "in_default": bad[:, :snapshots].ravel(),
        }
    )
