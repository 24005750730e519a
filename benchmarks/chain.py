"""The whole chain: `bureau run` of a scenario end to end, the time of every stage, peak memory.

Usage: python benchmarks/chain.py [--scenario baseline] [--workers 2] [--market both|on|off]
       [--keep DIR] [--scheduler ADDRESS|local]

Runs every stage (world to compare) into a fresh temporary run directory, as `make run` does,
and prints each stage's wall time from the run's manifest, the total, and the peak memory of
the whole process tree (the worker processes included), sampled every 50 ms: as proportional
set size, the physical memory taken, and as summed RSS, which counts pages a forked worker
shares with its parent once per process. Each stage's peak PSS is counted from its first
progress report to the next stage's, and so is its CPU time (user and system, every process),
which is steadier than the wall time on a shared machine and shows how busy a stage keeps the
cores.
With `--market both` (the default) the scenario runs twice, with its credit market on and off,
and the ratio of the two times is printed: the market's rounds may cost at most 1.5 times the
chain without them.
With `--scheduler`, the scenario runs with the market as given (`on` for `both`) on the local
process pool and then on that Dask cluster (`local`: a `LocalCluster` of `--workers`
processes, started before the clock starts), and the ratio of the two times is printed: on
one machine the cluster may cost at most 1.3 times the pool. The CPU time of a cluster's
workers is not counted (they are not this process's children until they end).
Targets on a 2-core machine: `baseline.toml` in at most 3 minutes and 4 GiB, `large.toml`
(market on, siloed) in at most 15 minutes and 8 GiB.
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

from bureau import __version__, load_scenario, use_scheduler
from bureau.pipeline import run_stages

GIB = 1024**3
#: Scenario -> (seconds, GiB) that the whole chain may take on a 2-core machine.
TARGETS = {"baseline": (180, 4), "large": (900, 8)}


def cpu_time() -> float:
    """User and system time of this process and of every child process it has waited for."""
    return sum(
        usage.ru_utime + usage.ru_stime
        for usage in (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
    )


def measure(scn, target: Path, workers: int) -> dict:
    """Run the chain into ``target`` and print its figures; return them.

    The figures: ``wall`` and ``cpu`` seconds, ``peak_pss`` and ``peak_rss`` bytes, and per
    stage its ``seconds``, ``cpu`` and ``peak_pss``.
    """
    stage_cpu: dict[str, float] = {}
    before = cpu_time()

    def entered(stage: str, done: int, total: int) -> None:
        if stage != memory.phase:
            # A stage's pools are joined before the next stage reports: their time is counted.
            now = cpu_time()
            if memory.phase:
                stage_cpu[memory.phase] = now - stage_cpu.get("_since", before)
            stage_cpu["_since"] = now
            memory.phase = stage

    with PeakMemory() as memory:
        started = time.perf_counter()
        result = run_stages(target, scn, workers=workers, progress=entered)
        wall = time.perf_counter() - started
    cpu = cpu_time() - before
    if memory.phase:
        stage_cpu[memory.phase] = cpu + before - stage_cpu.get("_since", before)
    market = "on" if scn.market_rounds else "off"
    print(f"\n{scn.name}: {scn.population.persons:,} persons, {workers} workers, market {market}")
    stages = {}
    for stage in result.stages:
        peak = memory.phase_pss.get(stage.name, 0) / GIB
        used = stage_cpu.get(stage.name, 0.0)
        stages[stage.name] = {"seconds": stage.seconds, "cpu": used, "peak_pss": peak * GIB}
        print(
            f"  {stage.name:<10} {stage.seconds:8.1f} s   CPU {used:6.1f} s   "
            f"peak PSS {peak:.2f} GiB"
        )
    seconds, gib = TARGETS.get(scn.name, (None, None))
    aim = f"   (target {seconds} s)" if seconds else ""
    print(f"  {'total':<10} {wall:8.1f} s{aim}")
    busy = cpu / wall
    print(f"  CPU time of the process tree {cpu:.1f} s ({busy:.2f} cores busy on average)")
    pss = memory.peak_pss / GIB
    aim = f" (target {gib} GiB)" if gib else ""
    print(f"  peak memory of the process tree (PSS) {pss:.2f} GiB{aim}")
    print(f"  peak summed RSS, shared pages once per process {memory.peak / GIB:.2f} GiB")
    return {
        "wall": wall,
        "cpu": cpu,
        "peak_pss": memory.peak_pss,
        "peak_rss": memory.peak,
        "stages": stages,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="baseline")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--market", choices=["both", "on", "off"], default="both")
    parser.add_argument(
        "--keep",
        type=Path,
        help="write the run here and keep it (to set its outputs against another run's with "
        "benchmarks/same_bytes.py); a temporary directory, removed, by default; with "
        "--market both, the run with the market on",
    )
    parser.add_argument(
        "--scheduler", help="also run on this Dask scheduler ('local': a LocalCluster)"
    )
    args = parser.parse_args()
    print(f"bureau {__version__} | Python {platform.python_version()} | {platform.machine()}")
    work = Path(tempfile.mkdtemp(prefix="bench-chain-"))
    if args.scheduler:
        try:
            pool_against_cluster(args, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return
    settings = ["on", "off"] if args.market == "both" else [args.market]
    figures = {}
    try:
        for setting in settings:
            scn = load_scenario(args.scenario, {"market.enabled": setting == "on"})
            keep = args.keep if args.keep is not None and setting == settings[0] else None
            figures[setting] = measure(scn, keep or work / setting, args.workers)
        if len(figures) == 2:
            on, off = figures["on"], figures["off"]
            print(
                f"\nmarket on / off: wall {on['wall'] / off['wall']:.2f}, "
                f"CPU {on['cpu'] / off['cpu']:.2f} (target at most 1.5)"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def pool_against_cluster(args: argparse.Namespace, work: Path) -> None:
    """The chain on the local pool, then on a Dask cluster; print the ratio of their times."""
    scn = load_scenario(args.scenario, {"market.enabled": args.market != "off"})
    pool = measure(scn, work / "pool", args.workers)["wall"]
    with use_scheduler(args.scheduler, args.workers):
        print(f"\non the Dask scheduler {args.scheduler!r}:")
        cluster = measure(scn, args.keep or work / "cluster", args.workers)["wall"]
    print(f"\nDask / local pool: wall {cluster / pool:.2f} (target at most 1.3)")


if __name__ == "__main__":
    main()
