"""The same ingestion on a real PostgreSQL server: one schema per bureau.

Runs when BUREAU_TEST_DATABASE_URL points at a server (CI sets it); skipped otherwise.
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, inspect, text

from bureau.bureaus.ingest import bureau_engine, ingest_all, ingest_bureau
from tests.bureaus.test_ingest import counts

URL = os.environ.get("BUREAU_TEST_DATABASE_URL")
pytestmark = pytest.mark.skipif(not URL, reason="BUREAU_TEST_DATABASE_URL is not set")
BUREAUS = ["kaola", "qianhai"]


@pytest.fixture
def fresh_schemas():
    admin = create_engine(URL)
    with admin.begin() as conn:
        for bureau in BUREAUS:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{bureau}" CASCADE'))
    yield
    admin.dispose()


def test_postgres_holds_what_sqlite_holds(small_run, fresh_schemas) -> None:
    reports = ingest_all(small_run.scenario, small_run.path, bureaus=BUREAUS, db_url=URL, workers=2)
    assert [r.bureau for r in reports] == BUREAUS
    for bureau in BUREAUS:
        on_server = bureau_engine(small_run.path, bureau, URL)
        on_file = bureau_engine(small_run.path, bureau)
        assert counts(on_server) == counts(on_file)
        # A bureau's engine reaches its own schema only.
        tables = set(inspect(on_server).get_table_names(schema=bureau))
        assert {"consumers", "tradelines", "signals", "loaded_files"} <= tables
        again = ingest_bureau(small_run.scenario, small_run.path / "feeds", bureau, on_server)
        assert again.files_loaded == 0
        assert counts(on_server) == counts(on_file)
