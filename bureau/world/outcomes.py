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


def _loan_defaults(
    scn: Scenario, loan: np.ndarray, opened: np.ndarray, account_months: pd.DataFrame
) -> pd.arrays.BooleanArray:
    """Whether each loan is 90+ days past due or charged off in the 12 months after it opened.

    Unknown (NA) where the window ends before the 12 months do: a default seen by then is left
    out too, or the loans known would be only those that went bad early.
    """
    open_of = pd.Series(opened, index=loan)
    acc = account_months["account_id"].to_numpy()
    month = account_months["month"].to_numpy().astype(np.int64)
    status = account_months["status"].to_numpy()
    start = open_of.reindex(acc).to_numpy()
    bad = (status >= DPD90) & (status != CLOSED) & (month > start) & (month <= start + HORIZON)
    defaulted = np.isin(loan, acc[bad])
    observed = opened + HORIZON <= scn.months - 1
    values = pd.array(defaulted, dtype="boolean")
    values[~observed] = pd.NA
    return values


def loan_outcomes(
    scn: Scenario,
    applications: pd.DataFrame,
    account_months: pd.DataFrame,
    declined: pd.DataFrame,
    declined_months: pd.DataFrame,
) -> pd.DataFrame:
    """Add each application's loan outcome, and what a declined one would have done.

    Parameters
    ----------
    scn
        The scenario.
    applications
        One chunk's applications.
    account_months
        The chunk's account-months.
    declined, declined_months
        The loans the declined applications would have opened and their months, which never
        enter the world.

    Returns
    -------
    pandas.DataFrame
        The applications with ``default_12m`` (the approved loan went 90+ days past due or was
        charged off within 12 months of opening; empty for a declined application) and
        ``counterfactual_default_12m`` (the same for the loan a declined application would
        have opened, on the applicant's own hardship path; empty for an approved one). Either
        is also empty where the window ends before the 12 months do.
    """
    approved = applications["approved"].to_numpy()
    month = applications["month"].to_numpy().astype(np.int64)
    actual = pd.array(np.zeros(len(applications), dtype=bool), dtype="boolean")
    actual[:] = pd.NA
    counterfactual = actual.copy()
    own = applications["account_id"].to_numpy()
    actual[approved] = _loan_defaults(scn, own[approved], month[approved], account_months)
    declined_loan = pd.Series(
        declined["account_id"].to_numpy(), index=declined["application_id"].to_numpy()
    )
    loans = declined_loan.reindex(applications["application_id"].to_numpy()[~approved])
    counterfactual[~approved] = _loan_defaults(
        scn, loans.to_numpy(), month[~approved], declined_months
    )
    return applications.assign(default_12m=actual, counterfactual_default_12m=counterfactual)
