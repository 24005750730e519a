"""The whole chain: `bureau run` of a scenario end to end, the time of every stage, peak memory.

Usage: python benchmarks/chain.py [--scenario baseline] [--workers 2] [--keep DIR]

Runs every stage (world to compare) into a fresh temporary run directory, as `make run` does,
and prints each stage's wall time from the run's manifest, the total, and the peak memory of
the whole process tree (the worker processes included), sampled every 50 ms: as proportional
set size, the physical memory taken, and as summed RSS, which counts pages a forked worker
shares with its parent once per process. Each stage's peak PSS is counted from its first
progress report to the next stage's, and so is its CPU time (user and system, every process),
which is steadier than the wall time on a shared machine and shows how busy a stage keeps the
cores.
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
from bureau.pipeline import run_stages

GIB = 1024**3


def cpu_time() -> float:
    """User and system time of this process and of every child process it has waited for."""
    return sum(
        usage.ru_utime + usage.ru_stime
        for usage in (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="baseline")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--keep",
        type=Path,
        help="write the run here and keep it (to set its outputs against another run's with "
        "benchmarks/same_bytes.py); a temporary directory, removed, by default",
    )
    args = parser.parse_args()
    print(f"bureau {__version__} | Python {platform.python_version()} | {platform.machine()}")
    scn = load_scenario(args.scenario)
    work = Path(tempfile.mkdtemp(prefix="bench-chain-"))
    target = work / "run" if args.keep is None else args.keep
    stage_cpu: dict[str, float] = {}

    def entered(stage: str, done: int, total: int) -> None:
        if stage != memory.phase:
            # A stage's pools are joined before the next stage reports: their time is counted.
            now = cpu_time()
            if memory.phase:
                stage_cpu[memory.phase] = now - stage_cpu.get("_since", 0.0)
            stage_cpu["_since"] = now
            memory.phase = stage

    try:
        with PeakMemory() as memory:
            started = time.perf_counter()
            result = run_stages(target, scn, workers=args.workers, progress=entered)
            wall = time.perf_counter() - started
        cpu = cpu_time()
        if memory.phase:
            stage_cpu[memory.phase] = cpu - stage_cpu.get("_since", 0.0)
        print(f"\n{args.scenario}: {scn.population.persons:,} persons, {args.workers} workers")
        for stage in result.stages:
            peak = memory.phase_pss.get(stage.name, 0) / GIB
            used = stage_cpu.get(stage.name, 0.0)
            print(
                f"  {stage.name:<10} {stage.seconds:8.1f} s   CPU {used:6.1f} s   "
                f"peak PSS {peak:.2f} GiB"
            )
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
