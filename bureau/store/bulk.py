"""Bulk writes: inserts, upserts and keyed updates of DataFrames, fast on SQLite and PostgreSQL.

SQLAlchemy Core's executemany builds a parameter dict per row, which costs more than the
database's own work at bureau volumes. These helpers stay inside SQLAlchemy's connection and
transaction but hand the driver plain tuples: ``executemany`` on SQLite, ``COPY`` (through a
temporary table for upserts and updates) on PostgreSQL. The SQL is built from the table's
metadata; values are always bound, never spliced into the text.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import pyarrow as pa
from sqlalchemy import Connection, Select, Table, select

# Values bound per query when rows are looked up by a list of keys (SQLite allows 32,766).
_LOOKUP_CHUNK = 10_000


def records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts of plain Python values, missing values as None.

    For the few statements that need named parameters (SQLAlchemy Core executemany).

    Parameters
    ----------
    frame
        The rows.

    Returns
    -------
    list of dict
        One dict per row.
    """
    names = list(frame.columns)
    return [dict(zip(names, row, strict=True)) for row in rows(frame)]


def rows(frame: pd.DataFrame) -> list[tuple]:
    """Rows as tuples of plain Python values, missing values as None.

    Parameters
    ----------
    frame
        The rows.

    Returns
    -------
    list of tuple
        One tuple per row, in column order.
    """
    if frame.empty:
        return []
    # Arrow converts every column type to Python values in C, nulls to None included.
    columns = [pa.Array.from_pandas(frame[name]).to_pylist() for name in frame.columns]
    return list(zip(*columns, strict=True))


def _schema(conn: Connection) -> str | None:
    translate = conn.get_execution_options().get("schema_translate_map") or {}
    return translate.get(None)


def _name(conn: Connection, table: Table) -> str:
    quote = conn.dialect.identifier_preparer.quote
    schema = _schema(conn)
    return f"{quote(schema)}.{quote(table.name)}" if schema else quote(table.name)


def _column_list(conn: Connection, columns: Sequence[str]) -> str:
    quote = conn.dialect.identifier_preparer.quote
    return ", ".join(quote(c) for c in columns)


def _copy(conn: Connection, target: str, columns: Sequence[str], data: list[tuple]) -> None:
    raw = conn.connection.driver_connection
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY {target} ({_column_list(conn, columns)}) FROM STDIN") as copy,
    ):
        for row in data:
            copy.write_row(row)


def _stage(conn: Connection, table: Table, columns: Sequence[str], data: list[tuple]) -> str:
    """Copy rows into a temporary table shaped like ``table`` (PostgreSQL); return its name."""
    quote = conn.dialect.identifier_preparer.quote
    temp = quote(f"_stage_{table.name}")
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {temp}")
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {temp} AS SELECT {_column_list(conn, columns)} "
        f"FROM {_name(conn, table)} WITH NO DATA"
    )
    _copy(conn, temp, columns, data)
    return temp


def insert(conn: Connection, table: Table, frame: pd.DataFrame) -> int:
    """Insert rows.

    Parameters
    ----------
    conn
        A connection inside a transaction.
    table
        The target table.
    frame
        Rows whose columns are columns of the table.

    Returns
    -------
    int
        Rows inserted.
    """
    data = rows(frame)
    if not data:
        return 0
    columns = list(frame.columns)
    if conn.dialect.name == "postgresql":
        _copy(conn, _name(conn, table), columns, data)
    else:
        marks = ", ".join("?" for _ in columns)
        conn.exec_driver_sql(
            f"INSERT INTO {_name(conn, table)} ({_column_list(conn, columns)}) VALUES ({marks})",
            data,
        )
    return len(data)


def upsert(
    conn: Connection,
    table: Table,
    frame: pd.DataFrame,
    keys: Sequence[str],
    update: Sequence[str] | None = None,
    *,
    only_if_equal: Sequence[str] = (),
    only_if_null: Sequence[str] = (),
) -> int:
    """Insert rows, or update (or keep) those whose key already exists.

    Parameters
    ----------
    conn
        A connection inside a transaction.
    table
        The target table.
    frame
        Rows whose columns are columns of the table; no two rows may share a key.
    keys
        The columns of a unique constraint or primary key.
    update
        Columns to overwrite on conflict; None or empty keeps the existing row.
    only_if_equal
        Update only an existing row whose values of these columns equal the new row's.
    only_if_null
        Update only an existing row whose values of these columns are missing.

    Returns
    -------
    int
        Rows written: inserted, or updated (an existing row kept is not counted).
    """
    data = rows(frame)
    if not data:
        return 0
    columns = list(frame.columns)
    quote = conn.dialect.identifier_preparer.quote
    conflict = f"ON CONFLICT ({_column_list(conn, keys)}) "
    if update:
        sets = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in update)
        conflict += f"DO UPDATE SET {sets}"
        # The existing row is named by its table's bare name, on either database.
        held = quote(table.name)
        conditions = [f"{held}.{quote(c)} = excluded.{quote(c)}" for c in only_if_equal]
        conditions += [f"{held}.{quote(c)} IS NULL" for c in only_if_null]
        if conditions:
            conflict += " WHERE " + " AND ".join(conditions)
    else:
        conflict += "DO NOTHING"
    target = f"{_name(conn, table)} ({_column_list(conn, columns)})"
    if conn.dialect.name == "postgresql":
        temp = _stage(conn, table, columns, data)
        result = conn.exec_driver_sql(
            f"INSERT INTO {target} SELECT {_column_list(conn, columns)} FROM {temp} {conflict}"
        )
    else:
        marks = ", ".join("?" for _ in columns)
        result = conn.exec_driver_sql(f"INSERT INTO {target} VALUES ({marks}) {conflict}", data)
    return result.rowcount


def update_by_key(conn: Connection, table: Table, frame: pd.DataFrame, key: str) -> int:
    """Update columns of existing rows, matched by one key column.

    Parameters
    ----------
    conn
        A connection inside a transaction.
    table
        The target table.
    frame
        The key column and the columns to set.
    key
        The key column's name.

    Returns
    -------
    int
        Rows sent.
    """
    columns = [c for c in frame.columns if c != key]
    data = rows(frame[[*columns, key]])
    if not data:
        return 0
    quote = conn.dialect.identifier_preparer.quote
    if conn.dialect.name == "postgresql":
        temp = _stage(conn, table, [*columns, key], data)
        sets = ", ".join(f"{quote(c)} = s.{quote(c)}" for c in columns)
        conn.exec_driver_sql(
            f"UPDATE {_name(conn, table)} AS t SET {sets} FROM {temp} AS s "
            f"WHERE t.{quote(key)} = s.{quote(key)}"
        )
    else:
        sets = ", ".join(f"{quote(c)} = ?" for c in columns)
        conn.exec_driver_sql(f"UPDATE {_name(conn, table)} SET {sets} WHERE {quote(key)} = ?", data)
    return len(data)


def read_in(
    conn: Connection, table: Table, columns: Sequence[str], key: str, values: Sequence[object]
) -> pd.DataFrame:
    """Rows of a table whose ``key`` is one of ``values``, looked up in chunks.

    Parameters
    ----------
    conn
        A connection.
    table
        The table.
    columns
        The columns to return.
    key
        The column to match.
    values
        The values wanted (repeats are looked up once).

    Returns
    -------
    pandas.DataFrame
        The rows, in no particular order.
    """
    wanted = pd.unique(pd.Series(values)).tolist()
    parts = [
        read_frame(
            conn,
            select(*(table.c[c] for c in columns)).where(
                table.c[key].in_(wanted[i : i + _LOOKUP_CHUNK])
            ),
        )
        for i in range(0, len(wanted), _LOOKUP_CHUNK)
    ]
    parts = [part for part in parts if len(part)]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return pd.concat(parts, ignore_index=True)


def read_frame(conn: Connection, statement: Select) -> pd.DataFrame:
    """Run a query and return its rows as a DataFrame, fetching straight from the driver.

    ``pandas.read_sql`` turns every row into an SQLAlchemy row object first, which costs more
    than the query itself on large reads.

    Parameters
    ----------
    conn
        A connection.
    statement
        A SELECT.

    Returns
    -------
    pandas.DataFrame
        One column per selected column.
    """
    result = conn.execute(statement)
    columns = list(result.keys())
    data = result.cursor.fetchall() if result.cursor is not None else []
    result.close()
    if not data:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return pd.DataFrame.from_records(data, columns=columns)
