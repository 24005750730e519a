"""Bulk writes: inserts, upserts and keyed updates of DataFrames, fast on SQLite and PostgreSQL.

SQLAlchemy Core's executemany builds a parameter dict per row, which costs more than the
database's own work at bureau volumes. These helpers stay inside SQLAlchemy's connection and
transaction but hand the driver plain tuples on SQLite (``executemany``) and, on PostgreSQL,
``COPY`` (through a temporary table for upserts and updates) of CSV that Arrow encodes in C.
The SQL is built from the table's metadata; values are always bound or copied, never spliced
into the text.

Two costs dominate a bulk load on PostgreSQL, both measured on a 470,000-row month of platform
data: encoding rows in Python (0.9 s with psycopg's ``write_row`` in text, 1.2 s in binary,
0.6 s as Arrow CSV) and the foreign-key trigger that checks each new row on its own (2.2 s of a
4.0 s insert). A large write therefore drops the table's foreign keys and adds them back before
the transaction ends: PostgreSQL then checks the whole table in one join (0.1 s), with the same
guarantee, since a row that breaks a key still fails the write and rolls it back.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
from sqlalchemy import Connection, Select, Table, select
from sqlalchemy.exc import DBAPIError, IntegrityError

# Values bound per query when rows are looked up by a list of keys (SQLite allows 32,766).
_LOOKUP_CHUNK = 10_000
# Rows encoded per COPY buffer: bounds the CSV held in memory at once to some tens of MB.
_COPY_CHUNK = 200_000
# A write of at least this many rows takes the bulk paths on PostgreSQL (below, their fixed
# costs exceed what they save): an upsert first tries a plain COPY, and the foreign keys are
# checked once for the whole table if the write adds at least _SUSPEND_SHARE of the rows it
# holds (checking the whole table once costs about a twentieth of checking each new row).
_LARGE = 5_000
_SUSPEND_SHARE = 0.1


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


def _copy(conn: Connection, target: str, frame: pd.DataFrame) -> None:
    """Copy a frame's rows into ``target`` as CSV: an unquoted empty field is a NULL."""
    import psycopg

    raw = conn.connection.driver_connection
    table = pa.Table.from_pandas(frame, preserve_index=False)
    # Arrow quotes every string, so an empty string stays one and only a null is left bare.
    options = pa_csv.WriteOptions(include_header=False, quoting_style="needed")
    statement = f"COPY {target} ({_column_list(conn, frame.columns)}) FROM STDIN (FORMAT csv)"
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for batch in table.to_batches(max_chunksize=_COPY_CHUNK):
                buffer = io.BytesIO()
                pa_csv.write_csv(batch, buffer, options)
                copy.write(buffer.getbuffer())
    except psycopg.Error as exc:
        # As SQLAlchemy's own statements fail: an IntegrityError for a broken key, and so on.
        raise DBAPIError.instance(
            statement, None, exc, psycopg.Error, hide_parameters=True, dialect=conn.dialect
        ) from None


@contextmanager
def _large_write(conn: Connection, table: Table, adding: int) -> Iterator[None]:
    """Around a large PostgreSQL write: keys checked once, and the planner's statistics renewed.

    The table's foreign keys are dropped and added back: adding a key back checks every row of
    the table in one query inside the same transaction, so a row that breaks it fails the write
    as the per-row trigger would have. A write that at least doubles the table is followed by
    ``ANALYZE``: a bulk load leaves the planner with the statistics of a table a fraction of the
    size until autovacuum comes round, and doubling keeps the samples to a few per table.
    """
    if conn.dialect.name != "postgresql" or adding < _LARGE:
        yield
        return
    name = _name(conn, table)
    # The planner's estimate of the rows held, scaled from the table's current size even before
    # the first ANALYZE and counting this transaction's rows: cheap, and close enough to choose
    # between the two ways of checking and to know when the table has doubled.
    plan = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {name}").scalar_one()
    held = plan[0]["Plan"]["Plan Rows"]
    keys = []
    if table.foreign_keys and adding >= _SUSPEND_SHARE * held:
        keys = conn.exec_driver_sql(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            f"WHERE conrelid = '{name}'::regclass AND contype = 'f' ORDER BY conname"
        ).all()
    quote = conn.dialect.identifier_preparer.quote
    for key, _definition in keys:
        conn.exec_driver_sql(f"ALTER TABLE {name} DROP CONSTRAINT {quote(key)}")
    yield
    for key, definition in keys:
        conn.exec_driver_sql(f"ALTER TABLE {name} ADD CONSTRAINT {quote(key)} {definition}")
    if adding >= held:
        # Inside the transaction: the sample counts its own new rows, and the statistics land
        # with them or not at all.
        conn.exec_driver_sql(f"ANALYZE {name}")


def _copied_if_all_new(conn: Connection, table: Table, frame: pd.DataFrame) -> bool:
    """Copy rows straight into the table if none of their keys is held yet (PostgreSQL).

    Most of a month's rows are new, and the plain COPY spares the temporary table and the
    conflict check (1.1 of 2.3 s on 470,000 rows). A row whose key is held aborts it whole, and
    the caller takes the upsert's path.
    """
    from psycopg.errors import UniqueViolation

    savepoint = conn.begin_nested()
    try:
        _copy(conn, _name(conn, table), frame)
    except IntegrityError as exc:
        savepoint.rollback()
        if isinstance(exc.orig, UniqueViolation):
            return False
        raise
    savepoint.commit()
    return True


def _stage(conn: Connection, table: Table, frame: pd.DataFrame) -> str:
    """Copy rows into a temporary table shaped like ``table`` (PostgreSQL); return its name."""
    quote = conn.dialect.identifier_preparer.quote
    temp = quote(f"_stage_{table.name}")
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {temp}")
    conn.exec_driver_sql(
        # Dropped with the transaction: a pooled connection keeps nothing of a bureau's
        # (whose role could not be dropped while it held a table).
        f"CREATE TEMPORARY TABLE {temp} ON COMMIT DROP AS SELECT "
        f"{_column_list(conn, frame.columns)} FROM {_name(conn, table)} WITH NO DATA"
    )
    _copy(conn, temp, frame)
    return temp


def _in_key_order(table: Table, frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in the order of the table's composite primary key, where they hold all of it.

    A month of platform data or of account reports adds a row beside each member's earlier
    months, all over the table's B-tree: in arrival order (platform after platform) the writes
    cross the whole tree once per file, and once the table outgrows the page cache each pass
    reads it again. In key order they cross it once. Only composite keys: the rows of a table
    numbered by a single key arrive in its order already, and a table numbered by the database
    itself must keep the order it numbers in.
    """
    key = [column.name for column in table.primary_key.columns]
    if len(key) < 2 or not set(key) <= set(frame.columns):
        return frame
    return frame.sort_values(key, kind="stable", ignore_index=True)


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
    if frame.empty:
        return 0
    columns = list(frame.columns)
    frame = _in_key_order(table, frame)
    if conn.dialect.name == "postgresql":
        with _large_write(conn, table, len(frame)):
            _copy(conn, _name(conn, table), frame)
    else:
        marks = ", ".join("?" for _ in columns)
        conn.exec_driver_sql(
            f"INSERT INTO {_name(conn, table)} ({_column_list(conn, columns)}) VALUES ({marks})",
            rows(frame),
        )
    return len(frame)


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
    if frame.empty:
        return 0
    columns = list(frame.columns)
    frame = _in_key_order(table, frame)
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
        with _large_write(conn, table, len(frame)):
            if len(frame) >= _LARGE and _copied_if_all_new(conn, table, frame):
                return len(frame)
            temp = _stage(conn, table, frame)
            result = conn.exec_driver_sql(
                f"INSERT INTO {target} SELECT {_column_list(conn, columns)} FROM {temp} {conflict}"
            )
    else:
        marks = ", ".join("?" for _ in columns)
        result = conn.exec_driver_sql(
            f"INSERT INTO {target} VALUES ({marks}) {conflict}", rows(frame)
        )
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
    if frame.empty:
        return 0
    # The key last: the last placeholder of SQLite's statement.
    ordered = frame[[*columns, key]]
    quote = conn.dialect.identifier_preparer.quote
    if conn.dialect.name == "postgresql":
        temp = _stage(conn, table, ordered)
        sets = ", ".join(f"{quote(c)} = s.{quote(c)}" for c in columns)
        conn.exec_driver_sql(
            f"UPDATE {_name(conn, table)} AS t SET {sets} FROM {temp} AS s "
            f"WHERE t.{quote(key)} = s.{quote(key)}"
        )
    else:
        sets = ", ".join(f"{quote(c)} = ?" for c in columns)
        conn.exec_driver_sql(
            f"UPDATE {_name(conn, table)} SET {sets} WHERE {quote(key)} = ?", rows(ordered)
        )
    return len(frame)


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
