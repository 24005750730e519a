"""The whole chain: `bureau run` of a scenario end to end, the time of every stage, peak memory.

Usage: python benchmarks/chain.py [--scenario baseline] [--workers 2]

Runs every stage (world to compare) into a fresh temporary run directory, as `make run` does,
and prints each stage's wall time from the run's manifest, the total, and the peak memory of
the whole process tree (the worker processes included), sampled every 50 ms: as proportional
set size, the physical memory taken, and as summed RSS, which counts pages a forked worker
shares with its parent once per process. Each stage's peak PSS is counted from its first
progress report to the next stage's. The CPU time (user and system, every process) is steadier
than the wall time on a shared machine.
Targets for `baseline.toml` on a 2-core machine: at most 3 minutes and at most 4 GiB.
"""

from __future__ import annotations

import argparse
import platform
import resource
import shutil
import tempfile
import time
from pathlib import Path

from memory import PeakMemory

from bureau import __version__, load_scenario
from bureau.pipeline import execute

GIB = 1024**3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="baseline")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"bureau {__version__} | Python {platform.python_version()} | {platform.machine()}")
    scn = load_scenario(args.scenario)
    work = Path(tempfile.mkdtemp(prefix="bench-chain-"))
    try:
        with PeakMemory() as memory:
            started = time.perf_counter()
            result = execute(
                scn,
                work / "run",
                workers=args.workers,
                progress=lambda stage, done, total: setattr(memory, "phase", stage),
            )
            wall = time.perf_counter() - started
        # Every worker pool has been joined by now: its processes' time is in RUSAGE_CHILDREN.
        cpu = sum(
            usage.ru_utime + usage.ru_stime
            for usage in (
                resource.getrusage(resource.RUSAGE_SELF),
                resource.getrusage(resource.RUSAGE_CHILDREN),
            )
        )
        print(f"\n{args.scenario}: {scn.population.persons:,} persons, {args.workers} workers")
        for stage in result.stages:
            peak = memory.phase_pss.get(stage.name, 0) / GIB
            print(f"  {stage.name:<10} {stage.seconds:8.1f} s   peak PSS {peak:.2f} GiB")
        print(f"  {'total':<10} {wall:8.1f} s   (target 180 s)")
        busy = cpu / wall
        print(f"  CPU time of the process tree {cpu:.1f} s ({busy:.2f} cores busy on average)")
        pss = memory.peak_pss / GIB
        print(f"  peak memory of the process tree (PSS) {pss:.2f} GiB (target 4 GiB)")
        print(f"  peak summed RSS, shared pages once per process {memory.peak / GIB:.2f} GiB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
