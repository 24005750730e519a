"""Database engines: one database per bureau and one for the aggregator.

By default each is a SQLite file in the run directory. With a PostgreSQL URL (for example
``postgresql+psycopg://user@host/db``) each gets its own schema in that database,
named after the run and its owner, and no run reaches another run's. Each such schema records
the run it belongs to, and refuses any other.

On PostgreSQL each schema also has a role of the same name that owns it, and the engine of a
bureau or of the aggregator works as that role (``SET ROLE`` on every connection): a query that
names another owner's schema is refused by the server, so a bureau's code cannot read another's
credit file even by mistake. The URL's user makes the roles, so it needs ``CREATEROLE`` (or to
be a superuser); :func:`drop_run_schemas` drops them with the schemas.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, String, create_engine, event, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bureau.errors import BureauError

logger = logging.getLogger(__name__)

#: What a malformed URL is told; never the URL itself, which may hold a password.
NOT_A_URL = "not a database URL (dialect+driver://user@host/database)"
#: In a run directory: the run's id, which names its schemas on a database server.
RUN_ID = ".run_id"


class DatabaseError(BureauError):
    """A database URL that cannot be used, or a database that cannot be reached."""


class OwnerBase(DeclarativeBase):
    """Declarative base of the table that marks a server schema as a run's own."""


class RunOwner(OwnerBase):
    """The run a server schema belongs to."""

    __tablename__ = "run_owner"

    run_id: Mapped[str] = mapped_column(String(32), primary_key=True)


def sqlite_file(run_dir: str | Path, name: str) -> Path:
    """Where a database of a run is kept when it is a SQLite file.

    Parameters
    ----------
    run_dir
        The run directory.
    name
        The database's owner (a bureau id, or ``"aggregator"``).

    Returns
    -------
    pathlib.Path
        ``<run_dir>/db/<name>.db``.
    """
    return Path(run_dir) / "db" / f"{name}.db"


def run_id(run_dir: str | Path) -> str:
    """The id of a run, made the first time a database server is used for it.

    Parameters
    ----------
    run_dir
        The run directory.

    Returns
    -------
    str
        Twelve hexadecimal digits, kept in ``RUN/.run_id``.

    Raises
    ------
    DatabaseError
        If the id cannot be read or written.
    """
    path = Path(run_dir) / RUN_ID
    try:
        held = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        held = ""
    except (OSError, UnicodeDecodeError) as exc:
        raise DatabaseError(f"cannot read the run's id: {exc}", path=path) from None
    if len(held) == 12 and all(c in "0123456789abcdef" for c in held):
        return held
    made = secrets.token_hex(6)
    temporary = path.with_name(f"{RUN_ID}.{os.getpid()}.tmp")
    try:
        temporary.write_text(made + "\n", encoding="ascii")
        if held:
            # A damaged id is replaced.
            os.replace(temporary, path)
            return made
        try:
            # Made only if no other process made it meanwhile: the workers of a stage open
            # their databases at the same time, and must all name the same schemas.
            os.link(temporary, path)
        except FileExistsError:
            return run_id(run_dir)
        return made
    except OSError as exc:
        raise DatabaseError(f"cannot write the run's id: {exc.strerror}", path=path) from None
    finally:
        temporary.unlink(missing_ok=True)


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


def schema_name(run_dir: str | Path, name: str) -> str:
    """The schema of one bureau or of the aggregator of a run, on a database server.

    Parameters
    ----------
    run_dir
        The run directory.
    name
        The database's owner (a bureau id, or ``"aggregator"``).

    Returns
    -------
    str
        ``r<run id>_<name>``: a run's schemas are its own, so two runs pointed at the same
        server never load into each other's credit files.
    """
    return f"r{run_id(run_dir)}_{name}"


def database_engine(
    run_dir: str | Path,
    name: str,
    base: type[DeclarativeBase],
    url: str | None = None,
    create: bool = True,
) -> Engine:
    """Open the database of one bureau or of the aggregator, creating it if asked.

    Parameters
    ----------
    run_dir
        The run directory; SQLite files go to ``<run_dir>/db/<name>.db``.
    name
        The database's owner (a bureau id, or ``"aggregator"``).
    base
        The declarative base whose tables the database holds.
    url
        A SQLAlchemy URL of a server database, or None for the SQLite default. On a server
        the database is the schema :func:`schema_name` names, marked as the run's own.
    create
        Create the database and its tables when there are none. A command that only reads
        passes False, so that it never leaves an empty database behind.

    Returns
    -------
    sqlalchemy.Engine
        An engine whose tables exist.

    Raises
    ------
    DatabaseError
        If the URL is malformed or its driver is not installed, the database cannot be
        reached, does not exist (with ``create`` False), belongs to another run, or lacks
        some of its tables (a damaged file).
    """
    where = name
    try:
        if url is None:
            path = sqlite_file(run_dir, name)
            where = str(path)
            if not path.is_file() and not create:
                raise DatabaseError(f"no database of {name} in this run yet", path=path)
            if create:
                path.parent.mkdir(parents=True, exist_ok=True)
            engine = _engine(f"sqlite:///{path}")
            event.listen(engine, "connect", _sqlite_pragmas)
            schema = None
        else:
            parsed = make_url(url)
            # The driver is loaded before anything is written for the run.
            parsed.get_dialect().import_dbapi()
            if parsed.get_backend_name() != "postgresql":
                raise DatabaseError(
                    "give a PostgreSQL URL, or none for the SQLite files in the run",
                    field="db_url",
                )
            schema = schema_name(run_dir, name)
            where = f"schema {schema}"
            _make_owner(parsed, schema, name, create)
            engine = _engine(parsed, execution_options={"schema_translate_map": {None: schema}})
            event.listen(engine, "connect", functools.partial(_set_role, role=schema))
        try:
            _prepare(engine, base, schema, name, run_id(run_dir) if schema else None, create)
        except BaseException:
            engine.dispose()
            raise
        return engine
    except (ModuleNotFoundError, NoSuchModuleError) as exc:
        raise DatabaseError(
            f"the database driver is not installed ({_first_line(exc)})", field="db_url"
        ) from None
    # After the missing plugin, which is also an ArgumentError.
    except ArgumentError:
        raise DatabaseError(NOT_A_URL, field="db_url") from None
    except SQLAlchemyError as exc:
        reason = _first_line(exc.orig if getattr(exc, "orig", None) else exc)
        raise DatabaseError(
            f"cannot open the database of {name}: {reason}", field="db_url"
        ) from None
    except OSError as exc:
        raise DatabaseError(
            f"cannot open the database of {name}: {exc.strerror}", path=where
        ) from None


def _make_owner(url: Any, schema: str, name: str, create: bool) -> None:
    """Make, as the URL's user, the role of a server schema and the schema it owns.

    The role is named as its schema, and the URL's user is made a member so that it can work
    as the role. A schema another owner holds (made before schemas had roles) is refused.
    """
    admin = _engine(url)
    try:
        with admin.begin() as conn:
            # The workers of a stage open their databases at the same time.
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": schema})
            owner = conn.execute(
                text("SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = :s"),
                {"s": schema},
            ).scalar()
            if owner is None and not create:
                raise DatabaseError(
                    f"no database of {name} in this run yet", path=f"schema {schema}"
                )
            quote = conn.dialect.identifier_preparer.quote
            held = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :s"), {"s": schema})
            if held.scalar() is None:
                conn.execute(text(f"CREATE ROLE {quote(schema)} NOLOGIN"))
                conn.execute(text(f"GRANT {quote(schema)} TO CURRENT_USER"))
            if owner is None:
                conn.execute(text(f"CREATE SCHEMA {quote(schema)} AUTHORIZATION {quote(schema)}"))
            elif owner.strip('"') != schema:
                raise DatabaseError(
                    f"the database of {name} is owned by {owner}, not by its own role: it was "
                    "made by an earlier version; make the run anew in a new directory",
                    path=f"schema {schema}",
                )
    finally:
        admin.dispose()


def _set_role(dbapi_connection: Any, _record: Any, role: str) -> None:
    # Committed at once: a SET ROLE inside a transaction that is rolled back is undone, and
    # the pool rolls back every connection it takes back.
    with dbapi_connection.cursor() as cursor:
        cursor.execute(f'SET ROLE "{role}"')
    dbapi_connection.commit()


def _engine(url: Any, **options: Any) -> Engine:
    # Statement parameters are consumers' names, ID numbers and phones: an error must never
    # carry them into a message or a log.
    return create_engine(url, hide_parameters=True, **options)


def _first_line(exc: BaseException) -> str:
    text_ = str(exc).strip()
    return text_.splitlines()[0] if text_ else type(exc).__name__


def _prepare(
    engine: Engine,
    base: type[DeclarativeBase],
    schema: str | None,
    name: str,
    owner: str | None,
    create: bool,
) -> None:
    """Check what the database holds, and create what a new one needs."""
    with engine.begin() as conn:
        inspector = inspect(conn)
        held = set(inspector.get_table_names(schema=schema))
        wanted = set(base.metadata.tables)
        if owner is not None:
            wanted.add(RunOwner.__tablename__)
        where = f"schema {schema}" if schema else engine.url.database
        if not held:
            if not create:
                raise DatabaseError(f"no database of {name} in this run yet", path=where)
            base.metadata.create_all(conn)
            if owner is not None:
                OwnerBase.metadata.create_all(conn)
                conn.execute(RunOwner.__table__.insert().values(run_id=owner))
            return
        missing = sorted(wanted - held)
        if missing:
            raise DatabaseError(
                f"the database of {name} is damaged or was made by another version: "
                f"table {missing[0]} is missing",
                path=where,
            )
        if owner is None:
            return
        owners = set(conn.execute(select(RunOwner.run_id)).scalars())
        if owners != {owner}:
            raise DatabaseError(
                f"the database of {name} belongs to another run ({', '.join(sorted(owners))}); "
                "a run never loads into another's",
                path=where,
            )


def drop_run_schemas(url: str, run: str) -> list[str]:
    """Drop every schema of one run on a database server, and the roles that owned them.

    Parameters
    ----------
    url
        The server's SQLAlchemy URL.
    run
        The run's id (:func:`run_id`).

    Returns
    -------
    list of str
        The schemas dropped.

    Raises
    ------
    DatabaseError
        If the server cannot be reached.
    """
    prefix = f"r{run}_"
    engine = _engine(url)
    try:
        with engine.begin() as conn:
            quote = conn.dialect.identifier_preparer.quote
            # Only schemas that say they are this run's: a name alone could be anyone's.
            names = [n for n in inspect(conn).get_schema_names() if n.startswith(prefix)]
            mine = [
                n
                for n in names
                if "run_owner" in inspect(conn).get_table_names(schema=n)
                and set(conn.execute(text(f"SELECT run_id FROM {quote(n)}.run_owner")).scalars())
                == {run}
            ]
            for name in mine:
                conn.execute(text(f"DROP SCHEMA {quote(name)} CASCADE"))
            # A role is dropped once nothing of it is left: its schema, or none was made.
            roles = conn.execute(
                text(
                    "SELECT rolname FROM pg_roles WHERE starts_with(rolname, :p) AND NOT EXISTS "
                    "(SELECT 1 FROM pg_namespace WHERE nspowner = pg_roles.oid)"
                ),
                {"p": prefix},
            ).scalars()
            for role in sorted(roles.all()):
                try:
                    with conn.begin_nested():
                        conn.execute(text(f"DROP ROLE {quote(role)}"))
                except SQLAlchemyError:
                    # Still holding something elsewhere (another database of the server): a
                    # role that owns no schema any more reaches nothing of the run.
                    logger.warning("role %s of run %s is left on the server", role, run)
        return mine
    except SQLAlchemyError as exc:
        reason = _first_line(exc.orig if getattr(exc, "orig", None) else exc)
        raise DatabaseError(
            f"cannot drop the schemas of run {run}: {reason}", field="db_url"
        ) from None
    finally:
        engine.dispose()
