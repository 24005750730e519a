"""The label a bureau can train on: defaults reported to it after a snapshot."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, select

from bureau.formats.history import DEFAULT_CODES
from bureau.store.bulk import read_frame
from bureau.store.credit_file import Consumer, Tradeline
from bureau.store.reports import monthly_reports


def observed_outcomes(engine: Engine, snapshot: int, horizon: int = 12) -> pd.DataFrame:
    """What the bureau saw happen after a snapshot: the label it can train on.

    A consumer is bad when an account on their file was reported 90 or more days past due or
    written off in any of the ``horizon`` months after the snapshot; they are ``in_default``
    (and usually left out of a development sample) when already so at the snapshot.

    Parameters
    ----------
    engine
        The bureau's database.
    snapshot
        The month of the snapshot.
    horizon
        Months of outcome after it.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``consumer_id`` (every consumer on file at the snapshot): ``bad`` and
        ``in_default`` (booleans).
    """
    with engine.connect() as conn:
        on_file = read_frame(
            conn,
            select(Consumer.consumer_id)
            .where(Consumer.first_seen <= snapshot)
            .order_by(Consumer.consumer_id),
        )
        month, who = default_reports(conn, snapshot, snapshot + horizon)
    index = pd.Index(on_file["consumer_id"].to_numpy(dtype=np.int64), name="consumer_id")
    return pd.DataFrame(
        {
            "bad": index.isin(who[month > snapshot]),
            "in_default": index.isin(who[month == snapshot]),
        },
        index=index,
    )


def default_reports(
    conn: Connection, first_month: int, last_month: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Every account-month the file shows 90+ days past due or written off, and its consumer.

    The file as it stands now, furnishers' corrections included.

    Parameters
    ----------
    conn
        A connection to the bureau's database.
    first_month, last_month
        The months looked at (inclusive; up to the last held when None).

    Returns
    -------
    tuple of numpy.ndarray
        The month of each such report and the consumer whose account it is.
    """
    bad = monthly_reports(
        conn,
        None,
        ("tradeline_id", "month"),
        first_month=first_month,
        last_month=last_month,
        statuses=DEFAULT_CODES,
    )
    owners = read_frame(conn, select(Tradeline.tradeline_id, Tradeline.consumer_id))
    owner = pd.Series(owners["consumer_id"].to_numpy(), index=owners["tradeline_id"].to_numpy())
    who = owner.reindex(bad["tradeline_id"].to_numpy()).to_numpy()
    return bad["month"].to_numpy(dtype=np.int64), who
