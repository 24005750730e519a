"""Each run's databases are its own: made per run, refused to other runs, checked when opened."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.exc import IntegrityError, ProgrammingError

from bureau.store.aggregator import AggregatorBase
from bureau.store.credit_file import Consumer, CreditFileBase
from bureau.store.engines import (
    DatabaseError,
    database_engine,
    drop_run_schemas,
    run_id,
    schema_name,
)

URL = os.environ.get("BUREAU_TEST_DATABASE_URL")
on_server = pytest.mark.skipif(not URL, reason="BUREAU_TEST_DATABASE_URL is not set")


def _consumer(consumer_id: int) -> dict:
    return {
        "consumer_id": consumer_id,
        "name": "Zhang Wei",
        "national_id": "110101199003071234",
        "phone": "13800138000",
        "birth_month": "199003",
        "first_seen": 0,
        "source_file": "2018-01/a.jsonl",
        "source_line": 1,
    }


def test_a_reader_never_creates_a_database(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="no database of sesame in this run yet"):
        database_engine(tmp_path, "sesame", CreditFileBase, create=False)
    assert list(tmp_path.iterdir()) == []


def test_a_credit_file_missing_a_table_is_damaged_not_made_anew(tmp_path: Path) -> None:
    database_engine(tmp_path, "sesame", CreditFileBase).dispose()
    path = tmp_path / "db" / "sesame.db"
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE signals")
    with pytest.raises(DatabaseError, match=r"damaged.*table signals is missing") as caught:
        database_engine(tmp_path, "sesame", CreditFileBase)
    assert caught.value.path == path
    with sqlite3.connect(path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert "signals" not in tables  # not silently recreated empty


def test_a_file_that_is_not_a_database_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "sesame.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(DatabaseError, match="cannot open the database of sesame"):
        database_engine(tmp_path, "sesame", CreditFileBase)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nonsense", "not a database URL"),
        ("postgresql+psycopg://user:s3cret@[bad/x", "cannot open the database"),
        ("nosuchdialect://user@host/db", "driver is not installed"),
        ("mysql+mysqldb://user@localhost/db", "driver is not installed"),
        ("sqlite:///x.db", "give a PostgreSQL URL"),
    ],
)
def test_database_urls_that_cannot_be_used(tmp_path: Path, url: str, message: str) -> None:
    with pytest.raises(DatabaseError, match=message) as caught:
        database_engine(tmp_path, "sesame", CreditFileBase, url)
    assert "s3cret" not in str(caught.value)
    assert not (tmp_path / "db").exists()


def test_statement_parameters_never_reach_an_error(tmp_path: Path) -> None:
    engine = database_engine(tmp_path, "sesame", CreditFileBase)
    with engine.begin() as conn:
        conn.execute(insert(Consumer), [_consumer(1)])
    with pytest.raises(IntegrityError) as caught, engine.begin() as conn:
        conn.execute(insert(Consumer), [_consumer(1)])
    engine.dispose()
    assert "110101199003071234" not in str(caught.value)
    assert "13800138000" not in str(caught.value)


def test_a_run_id_is_made_once_and_kept(tmp_path: Path) -> None:
    first = run_id(tmp_path)
    assert len(first) == 12 and run_id(tmp_path) == first
    assert schema_name(tmp_path, "sesame") == f"r{first}_sesame"


@on_server
def test_two_runs_on_one_server_never_share_a_credit_file(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    first = database_engine(a, "sesame", CreditFileBase, URL)
    second = database_engine(b, "sesame", CreditFileBase, URL)
    try:
        with first.begin() as conn:
            conn.execute(insert(Consumer), [_consumer(1)])
        with second.connect() as conn:
            assert conn.execute(select(func.count()).select_from(Consumer)).scalar() == 0
        assert schema_name(a, "sesame") != schema_name(b, "sesame")
    finally:
        first.dispose(), second.dispose()
        _drop(schema_name(a, "sesame"), schema_name(b, "sesame"))


@on_server
def test_a_schema_made_by_another_run_is_refused(tmp_path: Path) -> None:
    database_engine(tmp_path, "sesame", CreditFileBase, URL).dispose()
    schema = schema_name(tmp_path, "sesame")
    admin = create_engine(URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f"UPDATE \"{schema}\".run_owner SET run_id = '000000000000'"))
        with pytest.raises(DatabaseError, match="belongs to another run"):
            database_engine(tmp_path, "sesame", CreditFileBase, URL)
    finally:
        admin.dispose()
        _drop(schema)


@on_server
def test_a_reader_never_creates_a_schema(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="no database of sesame"):
        database_engine(tmp_path, "sesame", CreditFileBase, URL, create=False)
    admin = create_engine(URL)
    with admin.connect() as conn:
        found = conn.execute(
            text("SELECT count(*) FROM information_schema.schemata WHERE schema_name = :s"),
            {"s": schema_name(tmp_path, "sesame")},
        ).scalar()
    admin.dispose()
    assert found == 0


def _drop(*schemas: str) -> None:
    admin = create_engine(URL)
    with admin.begin() as conn:
        for schema in schemas:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{schema}"'))
    admin.dispose()


def _run_id_of(run: str) -> str:
    return run_id(run)


def test_processes_opening_a_run_at_once_agree_on_its_id(tmp_path: Path) -> None:
    import multiprocessing

    # The workers of a stage open their databases at the same time: all must name the same
    # schemas, whichever of them makes the id.
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        ids = pool.map(_run_id_of, [str(tmp_path)] * 16)
    assert len(set(ids)) == 1 and ids[0] == run_id(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [".run_id"]
    (tmp_path / ".run_id").write_text("not an id\n", encoding="ascii")
    assert run_id(tmp_path) != ids[0] and len(run_id(tmp_path)) == 12


@on_server
def test_a_bureau_cannot_read_another_bureaus_file_on_a_server(tmp_path: Path) -> None:
    engines = {n: database_engine(tmp_path, n, CreditFileBase, URL) for n in ("sesame", "kaola")}
    engines["aggregator"] = database_engine(tmp_path, "aggregator", AggregatorBase, URL)
    try:
        with engines["kaola"].begin() as conn:
            conn.execute(insert(Consumer), [_consumer(1)])
            assert conn.execute(text("SELECT current_user")).scalar() == schema_name(
                tmp_path, "kaola"
            )
        kaola = schema_name(tmp_path, "kaola")
        for reader in ("sesame", "aggregator"):
            with (
                pytest.raises(ProgrammingError, match=f"permission denied for schema {kaola}"),
                engines[reader].connect() as conn,
            ):
                conn.execute(text(f'SELECT count(*) FROM "{kaola}".consumers'))
        with engines["kaola"].connect() as conn:
            assert conn.execute(select(func.count()).select_from(Consumer)).scalar() == 1
    finally:
        for engine in engines.values():
            engine.dispose()
    dropped = drop_run_schemas(URL, run_id(tmp_path))
    assert sorted(dropped) == sorted(schema_name(tmp_path, n) for n in engines)
    admin = create_engine(URL)
    with admin.connect() as conn:
        left = conn.execute(
            text("SELECT count(*) FROM pg_roles WHERE starts_with(rolname, :p)"),
            {"p": f"r{run_id(tmp_path)}_"},
        ).scalar()
    admin.dispose()
    assert left == 0
