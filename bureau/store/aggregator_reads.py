"""Reads of the aggregator's tables that the aggregator and the analysis both make.

Reconciliation reads what was submitted at a snapshot and the person keys of a linkage; the
analysis reads the same rows to measure them against the truth. Each query is written once,
here beside the tables' models, so that both read the same rows with the same types.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Connection, select

from bureau.store.aggregator import AggregatorBase, PersonLink
from bureau.store.bulk import read_frame


def read_snapshot(conn: Connection, table: type[AggregatorBase], snapshot: int) -> pd.DataFrame:
    """Every row an aggregator table holds at one snapshot.

    Parameters
    ----------
    conn
        A connection to the aggregator's database.
    table
        A model of a table with a ``snapshot`` column (submitted or consolidated rows,
        discrepancies, consensus scores).
    snapshot
        The snapshot.

    Returns
    -------
    pandas.DataFrame
        Every other column of the table, in the table's order; the rows in no particular order.
    """
    columns = table.__table__.c
    frame = read_frame(conn, select(table.__table__).where(columns.snapshot == snapshot))
    # Every row holds the snapshot asked for: the column says nothing.
    return frame.drop(columns="snapshot")


def read_person_links(conn: Connection, method: str | None = None) -> pd.DataFrame:
    """The aggregator's person key of every submitted file, under one linkage or all of them.

    Parameters
    ----------
    conn
        A connection to the aggregator's database.
    method
        ``splink`` or ``exact``; None reads the keys of every method stored.

    Returns
    -------
    pandas.DataFrame
        ``bureau``, ``consumer_id``, ``person_key`` (both int64), preceded by ``method`` when
        ``method`` is None; sorted by method, bureau and consumer id.
    """
    if method is None:
        statement = select(PersonLink.__table__).order_by(
            PersonLink.method, PersonLink.bureau, PersonLink.consumer_id
        )
    else:
        statement = (
            select(PersonLink.bureau, PersonLink.consumer_id, PersonLink.person_key)
            .where(PersonLink.method == method)
            .order_by(PersonLink.bureau, PersonLink.consumer_id)
        )
    frame = read_frame(conn, statement)
    return frame.astype({"consumer_id": np.int64, "person_key": np.int64})
