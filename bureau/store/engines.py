"""Database engines: one database per bureau and one for the aggregator.

By default each is a SQLite file in the run directory. With a database URL (any SQLAlchemy URL,
for example ``postgresql+psycopg://user@host/db``) each gets its own schema in that database,
named after it, so that no bureau's code can reach another's tables by accident: a bureau's
code is handed only its own engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase

from bureau.errors import BureauError


class DatabaseError(BureauError):
    """A database URL that cannot be used, or a database that cannot be reached."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL keeps readers unblocked; NORMAL sync is safe with WAL (a crash loses no committed
    # transaction's integrity, at worst the last one).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Bulk loads touch index pages all over: a 128 MiB page cache keeps them in memory, and
    # checkpointing the log every ~40 MiB rather than every 4 MiB spares work per commit.
    cursor.execute("PRAGMA cache_size=-131072")
    cursor.execute("PRAGMA wal_autocheckpoint=10000")
    cursor.close()


def database_engine(
    run_dir: str | Path, name: str, base: type[DeclarativeBase], url: str | None = None
) -> Engine:
    """Open (creating if needed) the database of one bureau or of the aggregator.

    Parameters
    ----------
    run_dir
        The run directory; SQLite files go to ``<run_dir>/db/<name>.db``.
    name
        The database's owner (a bureau id, or ``"aggregator"``); on a server, the schema.
    base
        The declarative base whose tables the database holds.
    url
        A SQLAlchemy URL of a server database, or None for the SQLite default.

    Returns
    -------
    sqlalchemy.Engine
        An engine whose tables exist.

    Raises
    ------
    DatabaseError
        If the URL is malformed or the database cannot be reached.
    """
    try:
        if url is None:
            path = Path(run_dir) / "db" / f"{name}.db"
            path.parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(f"sqlite:///{path}")
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            parsed = make_url(url)
            if parsed.get_backend_name() == "sqlite":
                raise DatabaseError(
                    "give a server URL, or none for the run's SQLite files", field="db_url"
                )
            engine = create_engine(parsed, execution_options={"schema_translate_map": {None: name}})
            with engine.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{name}"'))
        base.metadata.create_all(engine)
        return engine
    except ArgumentError as exc:
        raise DatabaseError(f"not a database URL: {exc}", field="db_url") from None
    except SQLAlchemyError as exc:
        reason = str(exc.orig if getattr(exc, "orig", None) else exc).splitlines()[0]
        raise DatabaseError(
            f"cannot open the database of {name}: {reason}", field="db_url"
        ) from None
