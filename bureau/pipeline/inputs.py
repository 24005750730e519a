"""What a run is keyed by and where its credit files are: its inputs and its database.

A run is keyed by its inputs: the resolved scenario, the database and the code. The same
inputs make the same run, byte for byte, so a run of the same inputs is carried on rather than
made again; other inputs make another run.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bureau.errors import BureauError
from bureau.rundir import MANIFEST, read_manifest
from bureau.store.engines import NOT_A_URL, RUN_ID, DatabaseError, run_id
from bureau.version import __version__


def _code_digest() -> str:
    """A hash of the package's source: a run made by other code is not the same run."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode("utf-8"))
        digest.update(path.read_bytes())
    return digest.hexdigest()


def run_inputs(resolved: str, db_url: str | None) -> str:
    """The hash a run is keyed by: its resolved scenario, its database and the code.

    Parameters
    ----------
    resolved
        The resolved scenario (TOML text).
    db_url
        The database server URL, or None for SQLite files.

    Returns
    -------
    str
        SHA-256 in hex.
    """
    state = {
        "scenario": resolved,
        "database": safe_url(db_url),
        "version": __version__,
        "code": _code_digest(),
    }
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode("utf-8")).hexdigest()


def safe_url(url: str | None) -> str:
    """A database URL fit to write down: no password.

    Parameters
    ----------
    url
        A SQLAlchemy URL, or None for the run's SQLite files.

    Returns
    -------
    str
        The URL with its password hidden, or ``sqlite``.

    Raises
    ------
    DatabaseError
        If the URL is malformed.
    """
    if url is None:
        return "sqlite"
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        raise DatabaseError(NOT_A_URL, field="db_url") from None


def server_run(out: Path, db_url: str | None) -> str | None:
    """The id of the run in ``out`` if its credit files are on the server ``db_url``."""
    if db_url is None or not (out / MANIFEST).is_file() or not (out / RUN_ID).is_file():
        return None
    if read_manifest(out).get("database") != safe_url(db_url):
        return None
    return run_id(out)


def check_database(
    root: Path, manifest: dict[str, Any], db_url: str | None, loading: bool = False
) -> None:
    """Check that ``db_url`` names the database that holds a run's credit files.

    Parameters
    ----------
    root
        The run directory.
    manifest
        Its manifest.
    db_url
        The database server URL given, or None for the run's SQLite files.
    loading
        The run has no credit files yet: it may choose any database.

    Raises
    ------
    BureauError
        If the run's credit files are elsewhere.
    """
    if loading:
        return
    held = manifest.get("database", "sqlite")
    given = safe_url(db_url)
    if given == held:
        return
    if held == "sqlite":
        raise BureauError(
            "this run's credit files are SQLite files in its db/ folder; give no database URL",
            path=root,
            field="db_url",
        )
    raise BureauError(
        f"this run's credit files are on {held}: give the same database URL",
        path=root,
        field="db_url",
    )
