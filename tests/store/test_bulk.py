"""Bulk writes give the same rows on SQLite and PostgreSQL, whichever path a write takes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError

from bureau.store import bulk
from bureau.store.credit_file import Consumer, CreditFileBase, Signal
from bureau.store.engines import database_engine, drop_run_schemas, run_id

URL = os.environ.get("BUREAU_TEST_DATABASE_URL")
DATABASES = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(not URL, reason="BUREAU_TEST_DATABASE_URL is not set"),
    ),
]


@pytest.fixture(params=DATABASES)
def engine(request, tmp_path: Path, monkeypatch) -> Iterator[Engine]:
    # A few rows take the paths that a month's hundreds of thousands take.
    monkeypatch.setattr(bulk, "_LARGE", 3)
    url = URL if request.param == "postgresql" else None
    made = database_engine(tmp_path, "sesame", CreditFileBase, url)
    yield made
    made.dispose()
    if url:
        drop_run_schemas(url, run_id(tmp_path))


def _consumers(ids: list[int], names: list[str | None]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "consumer_id": ids,
            "name": names,
            "national_id": [f"11010119900307{i:04d}" for i in ids],
            "phone": None,
            "birth_month": "199003",
            "first_seen": 0,
            "source_file": "2018-01/a.jsonl",
            "source_line": ids,
        }
    )


def _signals(ids: list[int], month: int, spend: int, arrival: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "consumer_id": ids,
            "furnisher": "taobao",
            "month": month,
            "arrival": arrival,
            "ecommerce_spend": spend,
            "utility_on_time": [True, None, False, True][: len(ids)],
        }
    )


def _held(engine: Engine) -> pd.DataFrame:
    table = Signal.__table__
    with engine.connect() as conn:
        held = bulk.read_frame(
            conn,
            select(table.c.consumer_id, table.c.month, table.c.arrival, table.c.ecommerce_spend),
        )
    return held.sort_values(["consumer_id", "month"]).reset_index(drop=True)


def test_upserts_keep_update_or_add_rows_as_asked(engine: Engine) -> None:
    table = Signal.__table__
    with engine.begin() as conn:
        assert bulk.insert(conn, Consumer.__table__, _consumers([1, 2, 3, 4], ["", None, "a", "b"]))
        # All new: written whole.
        assert (
            bulk.upsert(
                conn, table, _signals([1, 2, 3], 5, 100, 5), ["consumer_id", "furnisher", "month"]
            )
            == 3
        )
    update = ["arrival", "ecommerce_spend"]
    keys = ["consumer_id", "furnisher", "month"]
    with engine.begin() as conn:
        # Two held (one from the same delivery, one not) and two new.
        frame = pd.concat([_signals([1, 2], 5, 200, 5), _signals([3, 4], 6, 300, 6)])
        frame.loc[frame["consumer_id"] == 2, "arrival"] = 7
        written = bulk.upsert(conn, table, frame, keys, update, only_if_equal=("arrival",))
    assert written == 3
    held = _held(engine)
    assert held["ecommerce_spend"].tolist() == [200, 100, 100, 300, 300]
    assert held["month"].tolist() == [5, 5, 5, 6, 6]
    with engine.begin() as conn:
        assert bulk.upsert(conn, table, frame, keys) == 0
    assert _held(engine).equals(held)
    with engine.connect() as conn:
        names = conn.execute(
            select(Consumer.name)
            .where(Consumer.consumer_id.in_([1, 2]))
            .order_by(Consumer.consumer_id)
        ).scalars()
        # An empty string and a missing value stay apart through COPY's CSV.
        assert list(names) == ["", None]


def test_a_large_write_that_breaks_a_foreign_key_fails_whole(engine: Engine) -> None:
    with engine.begin() as conn:
        bulk.insert(conn, Consumer.__table__, _consumers([1, 2], ["a", "b"]))
    broken = _signals([1, 2, 99], 5, 100, 5)
    keys = ["consumer_id", "furnisher", "month"]
    for write in (
        lambda conn: bulk.insert(conn, Signal.__table__, broken),
        lambda conn: bulk.upsert(conn, Signal.__table__, broken, keys),
    ):
        with pytest.raises(IntegrityError), engine.begin() as conn:
            write(conn)
    assert _held(engine).empty
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            kept = conn.execute(
                text(
                    "SELECT count(*) FROM pg_constraint WHERE contype = 'f' "
                    "AND conrelid = (SELECT oid FROM pg_class WHERE relname = 'signals' "
                    "AND relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = :s))"
                ),
                {"s": engine.get_execution_options()["schema_translate_map"][None]},
            ).scalar()
        assert kept == 1


@pytest.mark.skipif(not URL, reason="BUREAU_TEST_DATABASE_URL is not set")
def test_a_write_that_doubles_a_table_renews_the_planner_statistics(tmp_path: Path) -> None:
    # The real threshold: the planner's guess for a table never analyzed is some thousands
    # of rows, which a three-row write would not double.
    made = database_engine(tmp_path, "sesame", CreditFileBase, URL)
    schema = made.get_execution_options()["schema_translate_map"][None]
    stats = text(
        "SELECT reltuples FROM pg_class WHERE relname = 'consumers' "
        "AND relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = :s)"
    )
    try:
        with made.begin() as conn:
            bulk.insert(conn, Consumer.__table__, _consumers(list(range(1, 6_001)), ["a"] * 6_000))
        with made.connect() as conn:
            assert conn.execute(stats, {"s": schema}).scalar() == 6_000
        # A small write leaves the statistics as they were: autovacuum's business.
        with made.begin() as conn:
            bulk.insert(conn, Consumer.__table__, _consumers([6_001, 6_002], ["b", "c"]))
        with made.connect() as conn:
            assert conn.execute(stats, {"s": schema}).scalar() == 6_000
    finally:
        made.dispose()
        drop_run_schemas(URL, run_id(tmp_path))
