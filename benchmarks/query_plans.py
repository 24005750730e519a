"""The heaviest queries of training, disputes, submissions and reconciliation, with their plans.

Usage: python benchmarks/query_plans.py [--scenario baseline] [--db URL] [--top 3]

Runs the scenario's chain with the credit market off, in this process (one worker, so that
every statement is seen), on SQLite and, with --db, on that PostgreSQL server, and records each
stage's read and update statements by shape (the same SQL whatever its list of keys). Each
shape is then run again on the finished databases, its rows all fetched (SQLite does its work
while rows are fetched, not when the statement is sent), and ranked by that time times the
number of times the stage ran it. For the heaviest, the plan the database chooses: ``EXPLAIN
QUERY PLAN`` on SQLite, ``EXPLAIN (ANALYZE, BUFFERS)`` on PostgreSQL (as the URL's user).
Inserts and COPY are left out: they have no plan to choose. docs/databases.md shows the output.
"""

from __future__ import annotations

import argparse
import platform
import re
import shutil
import sqlite3
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine

from bureau import __version__, load_scenario
from bureau.pipeline import run_stages
from bureau.store.engines import drop_run_schemas, run_id

STAGES = ("accuracy", "train", "disputes", "submit", "reconcile")


@dataclass
class Statement:
    """One statement's shape: how often a stage ran it, one instance, and its time run again."""

    count: int = 0
    sql: str = ""
    params: Any = None
    database: str = ""
    seconds: float = 0.0


@dataclass
class Recorder:
    """Statements by stage and shape, from SQLAlchemy's cursor events."""

    stage: str = "setup"
    seen: dict[str, dict[str, Statement]] = field(default_factory=lambda: defaultdict(dict))

    def after(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if executemany or not re.match(r"\s*(SELECT|UPDATE|DELETE|WITH)", statement, re.I):
            return
        if re.search(r"pg_catalog|pg_namespace|pg_roles|sqlite_master|run_owner", statement):
            # Opening a database: its checks, not the stage's work.
            return
        # One shape however long its list of keys and whichever run's schema it names.
        shape = re.sub(r"\((?:\s*(?:\?|%\(\w+\)s|%s)\s*,?)+\)", "(...)", statement)
        shape = re.sub(r"r[0-9a-f]{12}_", "", re.sub(r"\s+", " ", shape)).strip()
        entry = self.seen[self.stage].setdefault(shape, Statement())
        entry.count += 1
        # The instance with the most parameters: the longest list of keys the stage asked for.
        if entry.count == 1 or len(parameters or ()) > len(entry.params or ()):
            entry.sql, entry.params = statement, parameters
            entry.database = str(conn.engine.url.database or "")


def replay(entry: Statement, url: str | None) -> str:
    """Run a statement again, fetching every row; time it; return its plan."""
    if url is None:
        with sqlite3.connect(entry.database) as conn:
            started = time.perf_counter()
            conn.execute(entry.sql, entry.params or ()).fetchall()
            entry.seconds = time.perf_counter() - started
            conn.rollback()
            rows = conn.execute(f"EXPLAIN QUERY PLAN {entry.sql}", entry.params or ()).fetchall()
        return "\n".join(f"  {row[-1]}" for row in rows)
    admin = create_engine(url)
    try:
        with admin.connect() as conn:
            started = time.perf_counter()
            result = conn.exec_driver_sql(entry.sql, entry.params or {})
            if result.returns_rows:
                result.fetchall()
            entry.seconds = time.perf_counter() - started
            rows = conn.exec_driver_sql(
                f"EXPLAIN (ANALYZE, BUFFERS) {entry.sql}", entry.params or {}
            ).all()
            conn.rollback()
    finally:
        admin.dispose()
    return "\n".join(f"  {row[0]}" for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="baseline")
    parser.add_argument("--db", default=None, help="a PostgreSQL URL to measure as well")
    parser.add_argument("--top", type=int, default=3, help="statements shown per stage")
    args = parser.parse_args()
    print(f"bureau {__version__} | Python {platform.python_version()} | {platform.machine()}")
    scn = load_scenario(args.scenario, {"market.enabled": False})
    work = Path(tempfile.mkdtemp(prefix="bench-plans-"))
    try:
        for label, url in [("SQLite", None)] + ([("PostgreSQL", args.db)] if args.db else []):
            run = work / label
            recorder = Recorder()
            event.listen(Engine, "after_cursor_execute", recorder.after)
            try:
                run_stages(run, scn, stages=["ingest"], workers=1, db_url=url)
                for stage in STAGES:
                    recorder.stage = stage
                    run_stages(run, stages=[stage], workers=1, db_url=url)
            finally:
                event.remove(Engine, "after_cursor_execute", recorder.after)
            print(f"\n=== {label}: {scn.population.persons:,} persons, market off")
            for stage in STAGES:
                plans = {shape: replay(e, url) for shape, e in recorder.seen[stage].items()}
                entries = sorted(
                    recorder.seen[stage].items(), key=lambda kv: -kv[1].seconds * kv[1].count
                )
                total = sum(e.seconds * e.count for _, e in entries)
                print(f"\n--- {stage}: {len(entries)} statement shapes, about {total:.2f} s")
                for shape, entry in entries[: args.top]:
                    print(
                        f"\n{entry.count} x {entry.seconds:.3f} s "
                        f"(the instance with the most keys): {shape[:300]}"
                    )
                    print(plans[shape])
            if url:
                drop_run_schemas(url, run_id(run))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
