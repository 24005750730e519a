"""How `bureau run` grows with the population: time per stage, CPU and peak memory by size.

Usage: python benchmarks/scale.py [--persons 100000 300000 1000000] [--sharing siloed shared]
       [--scheduler pool local] [--workers 2] [--results FILE] [--plot FILE] [--plot-only]

Runs `large.toml` (the baseline world, market on, chunks of 50,000 persons) end to end at each
population, under each sharing regime, on the local process pool and on a `LocalCluster` of
`--workers` processes (`local`), each into a fresh temporary run directory, with the figures of
`chain.py` (wall and CPU time of every stage, peak PSS of the process tree). Each run's figures
are appended to a JSON-lines file as soon as it ends, so that a long series can be run in parts
and plotted together (`--plot-only`). The summary gives, per configuration, the time per
person-month at each size against the smallest (target: within 20% from 100,000 to 1,000,000),
the slope of log time on log persons (1 is linear), the peak memory at each size, and the ratio
of `shared` to `siloed` (target at most 1.5) and of the cluster to the pool (at most 1.3).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from chain import GIB, measure

from bureau import __version__, load_scenario, use_scheduler

HERE = Path(__file__).resolve().parent


def run_one(persons: int, sharing: str, scheduler: str, workers: int, work: Path) -> dict:
    """Run the chain at one configuration; return its figures with the configuration."""
    scn = load_scenario("large", {"population.persons": persons, "sharing": sharing})
    target = work / f"{persons}-{sharing}-{scheduler}"
    address = None if scheduler == "pool" else scheduler
    try:
        with use_scheduler(address, workers):
            figures = measure(scn, target, workers)
    finally:
        shutil.rmtree(target, ignore_errors=True)
    return {
        "persons": persons,
        "months": scn.months,
        "sharing": sharing,
        "scheduler": scheduler,
        "workers": workers,
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "version": __version__,
        **figures,
    }


def load(results: Path) -> list[dict]:
    """Every run recorded in ``results``, the latest of each configuration."""
    latest: dict[tuple, dict] = {}
    for line in results.read_text().splitlines():
        if line.strip():
            run = json.loads(line)
            latest[(run["persons"], run["sharing"], run["scheduler"])] = run
    return sorted(latest.values(), key=lambda r: (r["sharing"], r["scheduler"], r["persons"]))


def summarise(runs: list[dict]) -> None:
    """Print the time per person-month, the slope and the peak memory of each configuration."""
    configurations = sorted({(r["sharing"], r["scheduler"]) for r in runs})
    for sharing, scheduler in configurations:
        series = [r for r in runs if (r["sharing"], r["scheduler"]) == (sharing, scheduler)]
        print(f"\n{sharing}, {scheduler}:")
        first = series[0]["wall"] / (series[0]["persons"] * series[0]["months"])
        for run in series:
            per = run["wall"] / (run["persons"] * run["months"])
            print(
                f"  {run['persons']:>9,} persons  {run['wall']:8.1f} s  CPU {run['cpu']:8.1f} s  "
                f"{per * 1e6:6.2f} us per person-month ({per / first:.2f} of the smallest)  "
                f"peak PSS {run['peak_pss'] / GIB:.2f} GiB"
            )
        if len(series) > 1:
            persons = np.log([r["persons"] for r in series])
            walls = np.log([r["wall"] for r in series])
            slope = np.polyfit(persons, walls, 1)[0]
            print(f"  slope of log time on log persons: {slope:.2f} (1 is linear)")
            small, large = series[0], series[-1]
            grow = large["persons"] / small["persons"]
            print(f"  each stage's time from {small['persons']:,} to {large['persons']:,}:")
            for name, figures in large["stages"].items():
                before = small["stages"].get(name, {}).get("seconds")
                after = figures["seconds"]
                if before:
                    print(
                        f"    {name:<10} {after / before:6.1f} times (population {grow:.0f} times)"
                    )
    by = {(r["persons"], r["sharing"], r["scheduler"]): r["wall"] for r in runs}
    for (persons, sharing, scheduler), wall in sorted(by.items()):
        if sharing == "shared" and (persons, "siloed", scheduler) in by:
            ratio = wall / by[persons, "siloed", scheduler]
            print(f"shared / siloed at {persons:,}, {scheduler}: {ratio:.2f} (target at most 1.5)")
        if scheduler != "pool" and (persons, sharing, "pool") in by:
            ratio = wall / by[persons, sharing, "pool"]
            print(f"cluster / pool at {persons:,}, {sharing}: {ratio:.2f} (target at most 1.3)")


def plot(runs: list[dict], path: Path) -> None:
    """Time against population, and time per person-month, for every configuration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (total, per) = plt.subplots(1, 2, figsize=(11, 4.2))
    for sharing, scheduler in sorted({(r["sharing"], r["scheduler"]) for r in runs}):
        series = [r for r in runs if (r["sharing"], r["scheduler"]) == (sharing, scheduler)]
        persons = np.array([r["persons"] for r in series], dtype=float)
        walls = np.array([r["wall"] for r in series])
        months = np.array([r["months"] for r in series])
        label = f"{sharing}, {scheduler}"
        if len(series) > 1:
            slope = np.polyfit(np.log(persons), np.log(walls), 1)[0]
            label += f" (slope {slope:.2f})"
        total.plot(persons, walls / 60, marker="o", label=label)
        per.plot(persons, walls / (persons * months) * 1e6, marker="o", label=label)
    total.set_xscale("log")
    total.set_yscale("log")
    total.set_xlabel("persons")
    total.set_ylabel("bureau run, minutes")
    total.set_title("Wall time against population (log-log)")
    total.legend(fontsize=8)
    per.set_xscale("log")
    per.set_ylim(bottom=0)
    per.set_xlabel("persons")
    per.set_ylabel("microseconds per person-month")
    per.set_title("Time per person-month (flat is linear)")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    print(f"plot in {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--sharing", nargs="+", default=["siloed", "shared"])
    parser.add_argument(
        "--scheduler", nargs="+", default=["pool", "local"], help="pool, local, or an address"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--results", type=Path, default=HERE / "scale.jsonl")
    parser.add_argument("--plot", type=Path, default=HERE.parent / "docs" / "scale.png")
    parser.add_argument(
        "--plot-only", action="store_true", help="summarise and plot the results recorded"
    )
    args = parser.parse_args()
    print(f"bureau {__version__} | Python {platform.python_version()} | {platform.machine()}")
    if not args.plot_only:
        work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
        try:
            for sharing in args.sharing:
                for scheduler in args.scheduler:
                    for persons in args.persons:
                        run = run_one(persons, sharing, scheduler, args.workers, work)
                        with args.results.open("a") as out:
                            out.write(json.dumps(run) + "\n")
        finally:
            shutil.rmtree(work, ignore_errors=True)
    runs = load(args.results)
    summarise(runs)
    plot(runs, args.plot)


if __name__ == "__main__":
    main()
