"""World generation throughput and peak memory, against the cost of writing the same Parquet.

Usage: python benchmarks/world_generation.py [--scenario baseline --scenario large] [--workers 2]

For each scenario: generate the world straight to Parquet with N workers and report the wall
time, person-months per second and the peak resident memory of the whole process tree. Then
read every table back and time writing the same chunk files to Parquet in one process: the
ratio of generation time to that write time shows how much the simulation costs above its I/O.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
from memory import PeakMemory

from bureau import __version__, load_scenario
from bureau.store.parquet import WRITE_OPTIONS
from bureau.world import write_world

GIB = 1024**3


def parquet_write_seconds(world_dir: Path, scratch: Path) -> tuple[float, int]:
    """Read every chunk file into memory, then time writing them all again."""
    tables = [
        (f.relative_to(world_dir), pq.read_table(f)) for f in sorted(world_dir.rglob("*.parquet"))
    ]
    rows = sum(t.num_rows for _, t in tables)
    started = time.perf_counter()
    for rel, table in tables:
        target = scratch / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, target, **WRITE_OPTIONS)
    return time.perf_counter() - started, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", action="append", default=None)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    scenarios = args.scenario or ["baseline", "large"]
    print(f"bureau {__version__} | Python {platform.python_version()} | {platform.machine()}")
    header = (
        f"{'scenario':<10}{'persons':>11}{'months':>7}{'workers':>8}{'wall s':>9}"
        f"{'person-months/s':>17}{'peak GiB':>10}{'rows':>13}{'write s':>9}{'gen/write':>10}"
    )
    print(header)
    for name in scenarios:
        scn = load_scenario(name)
        work = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        try:
            with PeakMemory() as memory:
                started = time.perf_counter()
                write_world(scn, work / "world", workers=args.workers)
                wall = time.perf_counter() - started
            write, rows = parquet_write_seconds(work / "world", work / "rewrite")
            person_months = scn.population.persons * scn.months
            print(
                f"{name:<10}{scn.population.persons:>11,}{scn.months:>7}{args.workers:>8}"
                f"{wall:>9.1f}{person_months / wall:>17,.0f}{memory.peak / GIB:>10.2f}"
                f"{rows:>13,}{write:>9.1f}{wall / write:>10.2f}"
            )
        finally:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
