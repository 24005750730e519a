"""Furnishing and ingestion: wall times, throughput per intake format and database, load ratio.

Usage: python benchmarks/ingestion.py [--scenario baseline] [--workers 2] [--db URL]

1. Builds the scenario's world, then times furnishing and the ingestion of all bureaus
   (SQLite files, the default) with N workers: the figure the 90-second target is about.
2. With --db, the same ingestion stage into that PostgreSQL server, the bureaus loading side
   by side (N workers), each into its own schema as its own role; the ratio PostgreSQL /
   SQLite is the figure the "at least as fast as SQLite" target is about.
3. Per bureau: feed records per second of ingestion (parse, validate, normalise, resolve, load),
   grouped by intake format, on SQLite and, with --db, on that PostgreSQL server.
4. The load stage against the raw operation underneath: the same tradeline-month rows written
   by the loader's bulk path and by a plain SQLAlchemy Core ``insert()`` executemany into the
   same database; the ratio is Core time / loader time (above 1: the loader is faster).
"""

from __future__ import annotations

import argparse
import platform
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from sqlalchemy import Column, MetaData, Table, create_engine, select

from bureau import __version__, load_scenario
from bureau.bureaus.ingest import ingest_all
from bureau.layout import RunLayout
from bureau.pipeline import run_stages
from bureau.store.bulk import insert, read_frame, records
from bureau.store.credit_file import TradelineMonth
from bureau.store.engines import drop_run_schemas, run_id


def load_ratio(run: Path, url: str | None, bureau: str = "chengxin") -> tuple[int, float, float]:
    """Time the loader's bulk insert and a Core executemany of the same rows, same database."""
    with RunLayout(run, url).bureau_engine(bureau).connect() as conn:
        rows = read_frame(conn, select(TradelineMonth.__table__))
    # The same columns and primary key as tradeline_months, without the foreign key.
    metadata = MetaData()
    table = Table(
        "bench_tradeline_months",
        metadata,
        *[
            Column(c.name, c.type, primary_key=c.primary_key)
            for c in TradelineMonth.__table__.columns
        ],
    )
    engine = create_engine(url) if url else create_engine(f"sqlite:///{run / 'bench.db'}")
    timings = {}
    for label in ("loader", "core"):
        metadata.drop_all(engine)
        metadata.create_all(engine)
        started = time.perf_counter()
        with engine.begin() as conn:
            if label == "loader":
                insert(conn, table, rows)
            else:
                conn.execute(table.insert(), records(rows))
        timings[label] = time.perf_counter() - started
    metadata.drop_all(engine)
    return len(rows), timings["loader"], timings["core"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="baseline")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--db", default=None, help="a PostgreSQL URL to measure as well")
    args = parser.parse_args()
    print(f"bureau {__version__} | Python {platform.python_version()} | {platform.machine()}")
    scn = load_scenario(args.scenario)
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        run = work / "run"
        run_stages(run, scn, stages=["world"], workers=args.workers)
        furnish = run_stages(run, stages=["furnish"], workers=args.workers).outcome("furnish")
        ingest = run_stages(run, stages=["ingest"], workers=args.workers).outcome("ingest")
        records_in = sum(v for k, v in furnish.rows.items() if k != "files")
        print(f"\n{args.scenario}: {scn.population.persons:,} persons, {records_in:,} feed records")
        print(
            f"furnish {furnish.seconds:.1f} s + ingest {ingest.seconds:.1f} s (SQLite, "
            f"{args.workers} workers) = {furnish.seconds + ingest.seconds:.1f} s (target 90 s)"
        )

        databases = [("sqlite", None)] + ([("postgresql", args.db)] if args.db else [])
        stage: dict[str, float] = {}
        for label, url in databases:
            fresh(run, url)
            started = time.perf_counter()
            ingest_all(scn, RunLayout(run, url), workers=args.workers)
            stage[label] = time.perf_counter() - started
            rate = records_in / stage[label]
            print(f"ingest on {label}, {args.workers} workers: {stage[label]:.1f} s, ", end="")
            print(f"{rate:,.0f} records/s")
        if args.db:
            ratio = stage["postgresql"] / stage["sqlite"]
            print(f"PostgreSQL / SQLite: {ratio:.2f} (target: at most 1)")

        print(
            f"\n{'database':<11}{'format':<13}{'bureaus':>8}{'records':>12}{'seconds':>9}{'records/s':>11}"
        )
        for label, url in databases:
            per_format: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0])
            fresh(run, url)
            for bureau in scn.active_bureaus:
                started = time.perf_counter()
                (report,) = ingest_all(scn, RunLayout(run, url), bureaus=[bureau], workers=1)
                seconds = time.perf_counter() - started
                entry = per_format[scn.bureaus[bureau].intake_format]
                entry[0] += report.rows_read
                entry[1] += seconds
                entry[2] += 1
            for fmt, (rows, seconds, count) in sorted(per_format.items()):
                rate = rows / seconds
                print(f"{label:<11}{fmt:<13}{count:>8}{rows:>12,}{seconds:>9.1f}{rate:>11,.0f}")

        print(f"\n{'database':<11}{'rows':>10}{'loader s':>10}{'Core s':>9}{'Core/loader':>13}")
        for label, url in databases:
            fresh(run, url)
            ingest_all(scn, RunLayout(run, url), bureaus=["chengxin"], workers=1)
            rows, loader, core = load_ratio(run, url)
            print(f"{label:<11}{rows:>10,}{loader:>10.2f}{core:>9.2f}{core / loader:>13.2f}")
        fresh(run, args.db)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def fresh(run: Path, url: str | None) -> None:
    """Remove what an ingestion left: the SQLite files, or the run's schemas and roles."""
    if url and (run / ".run_id").exists():
        drop_run_schemas(url, run_id(run))
    (run / ".run_id").unlink(missing_ok=True)
    shutil.rmtree(run / "db", ignore_errors=True)


if __name__ == "__main__":
    main()
