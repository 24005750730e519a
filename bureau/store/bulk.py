"""Bulk writes through SQLAlchemy Core: plain inserts and upserts, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts of plain Python values, missing values as None (what drivers accept).

    Parameters
    ----------
    frame
        The rows.

    Returns
    -------
    list of dict
        One dict per row.
    """
    if frame.empty:
        return []
    columns = {}
    for name in frame.columns:
        col = frame[name]
        values = (
            col.to_numpy(dtype=object, na_value=None)
            if col.hasnans or col.dtype == object
            else col.to_numpy()
        )
        columns[name] = values.tolist() if isinstance(values, np.ndarray) else list(values)
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def insert(conn: Connection, table: Table, frame: pd.DataFrame) -> int:
    """Insert rows in one executemany.

    Parameters
    ----------
    conn
        A connection inside a transaction.
    table
        The target table.
    frame
        Rows whose columns are the table's.

    Returns
    -------
    int
        Rows sent.
    """
    rows = records(frame)
    if rows:
        conn.execute(table.insert(), rows)
    return len(rows)


def upsert(
    conn: Connection,
    table: Table,
    frame: pd.DataFrame,
    keys: Sequence[str],
    update: Sequence[str] | None = None,
) -> int:
    """Insert rows, or update (or keep) those whose key already exists.

    Parameters
    ----------
    conn
        A connection inside a transaction.
    table
        The target table.
    frame
        Rows whose columns are the table's.
    keys
        The columns of a unique constraint or primary key.
    update
        Columns to overwrite on conflict; None or empty keeps the existing row.

    Returns
    -------
    int
        Rows sent.
    """
    rows = records(frame)
    if not rows:
        return 0
    dialect = conn.dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(table)
    if update:
        statement = statement.on_conflict_do_update(
            index_elements=list(keys), set_={c: statement.excluded[c] for c in update}
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(keys))
    conn.execute(statement, rows)
    return len(rows)
