"""The monthly reports of a bureau's accounts as its file stood at a month.

A furnisher that reports an account-month again in a later month's delivery, with other
values, corrects its first report. Nothing furnished is overwritten: the first report stays in
``tradeline_months`` with the month it arrived in, and each correction is kept beside it in
``tradeline_revisions`` with its own. Read as of a month, an account-month shows the last report
of it that had arrived by then, so every earlier view of the file stays as it was.

Every reader of the monthly reports goes through :func:`monthly_reports`; the corrections of
upheld disputes (:mod:`bureau.store.corrections`) apply on top of what it returns. A file
without furnisher corrections, the usual case, is read with one query, as before they existed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sqlalchemy import ColumnElement, Connection, Table, exists, or_, select

from bureau.store.bulk import read_frame
from bureau.store.credit_file import TradelineMonth, TradelineRevision

#: The columns of a monthly report.
REPORT_COLUMNS = ("tradeline_id", "month", "arrival", "status", "balance", "payment")
_KEY = ["tradeline_id", "month"]


def _filters(
    table: Table, as_of: int | None, first_month: int | None, last_month: int | None
) -> list[ColumnElement[bool]]:
    conditions = []
    if as_of is not None:
        conditions.append(table.c.arrival <= as_of)
    if first_month is not None:
        conditions.append(table.c.month >= first_month)
    if last_month is not None:
        conditions.append(table.c.month <= last_month)
    return conditions


def monthly_reports(
    conn: Connection,
    as_of: int | None = None,
    columns: Sequence[str] = ("tradeline_id", "month", "status", "balance"),
    *,
    first_month: int | None = None,
    last_month: int | None = None,
    statuses: Sequence[str] | None = None,
    every_delivery: bool = False,
) -> pd.DataFrame:
    """Read the monthly reports of a bureau's accounts as its file stood at a month.

    Parameters
    ----------
    conn
        A connection to the bureau's database.
    as_of
        Only what had arrived by this month counts; None for everything held.
    columns
        Columns of :data:`REPORT_COLUMNS` to return (``arrival`` is that of the report
        shown).
    first_month, last_month
        Only the account-months from, and up to, these months (inclusive).
    statuses
        Only the account-months whose status, as of ``as_of``, is one of these.
    every_delivery
        Return every report that had arrived, the corrected ones too (for a caller that
        views the file at several months: see :func:`in_force`), rather than the one in
        force.

    Returns
    -------
    pandas.DataFrame
        One row per account-month (per report with ``every_delivery``), sorted by
        ``tradeline_id`` and ``month`` (then ``arrival``).
    """
    months = TradelineMonth.__table__
    revisions = TradelineRevision.__table__
    revised = _filters(revisions, as_of, first_month, last_month)
    corrected = conn.execute(select(revisions.c.tradeline_id).where(*revised).limit(1)).first()
    conditions = _filters(months, as_of, first_month, last_month)
    if corrected is None:
        if statuses is not None:
            conditions.append(months.c.status.in_(list(statuses)))
        query = select(*(months.c[name] for name in columns)).where(*conditions)
        return read_frame(conn, query.order_by(months.c.tradeline_id, months.c.month))

    wanted = list(dict.fromkeys([*_KEY, "arrival", *columns, "status"]))
    if statuses is not None:
        # A first report of another status counts if a correction may have changed it.
        replaced = exists().where(
            revisions.c.tradeline_id == months.c.tradeline_id,
            revisions.c.month == months.c.month,
            *revised,
        )
        conditions.append(or_(months.c.status.in_(list(statuses)), replaced))
    parts = [
        read_frame(conn, select(*(months.c[name] for name in wanted)).where(*conditions)),
        read_frame(conn, select(*(revisions.c[name] for name in wanted)).where(*revised)),
    ]
    versions = pd.concat([p for p in parts if len(p)], ignore_index=True)
    versions = versions.sort_values([*_KEY, "arrival"], kind="stable", ignore_index=True)
    shown = versions if every_delivery else in_force(versions)
    if statuses is not None:
        shown = shown[shown["status"].isin(list(statuses)).to_numpy()]
    return shown[list(columns)].reset_index(drop=True)


def in_force(versions: pd.DataFrame, as_of: int | None = None) -> pd.DataFrame:
    """Of every report of each account-month, the one in force at a month.

    Parameters
    ----------
    versions
        Reports with ``tradeline_id``, ``month`` and ``arrival``, sorted by those three (as
        :func:`monthly_reports` returns them with ``every_delivery``).
    as_of
        The month the file is read as of; None for the latest reports.

    Returns
    -------
    pandas.DataFrame
        The last report of each account-month that had arrived by ``as_of``, in the same
        order.
    """
    if as_of is not None:
        versions = versions[versions["arrival"].to_numpy() <= as_of]
    tradeline = versions["tradeline_id"].to_numpy()
    month = versions["month"].to_numpy()
    # Sorted, so a later report of the same account-month is the next row.
    last = np.ones(len(versions), dtype=bool)
    last[:-1] = (tradeline[1:] != tradeline[:-1]) | (month[1:] != month[:-1])
    return versions if last.all() else versions[last]
