"""What training with `lightgbm.dask` (`model_partitions`) changes against one process.

Usage: python benchmarks/lightgbm_dask.py RUN [--bureau ID ...] [--partitions 2] [--workers 2]

For each LightGBM bureau of a run that has its credit files (after `bureau ingest`), trains the
bureau's model as the train stage does, once in one process and twice with `model_partitions`
on a `LocalCluster` of `--workers` single-threaded processes, and prints for each: the wall
time of the whole training job (features of both snapshots, fit, scores), the AUC and KS in
time and out of time (against the defaults the bureau saw), and whether the two distributed
fits gave the same model.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

from bureau import __version__, load_scenario, use_scheduler
from bureau.bureaus.train import train_bureau
from bureau.layout import RunLayout
from bureau.parallel import map_chunks


def train(job: tuple[Path, str, int | None]) -> tuple[float, dict, str]:
    """Train one bureau's model; return the seconds, the metrics and the model's digest."""
    run, bureau, partitions = job
    layout = RunLayout(run)
    scn = load_scenario(layout.scenario_file, {f"bureaus.{bureau}.model_partitions": partitions})
    started = time.perf_counter()
    result = train_bureau(layout.bureau_engine(bureau, create=False), scn, bureau)
    seconds = time.perf_counter() - started
    return seconds, result.metrics, result.model.card.model_sha256


def show(label: str, seconds: float, metrics: dict) -> None:
    """One line of figures."""
    dev, oot = metrics["development"], metrics["out_of_time"]
    print(
        f"  {label:<26} {seconds:6.1f} s   AUC in {dev['auc']:.4f}  out {oot['auc']:.4f}   "
        f"KS in {dev['ks']:.4f}  out {oot['ks']:.4f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--bureau", nargs="+")
    parser.add_argument("--partitions", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"bureau {__version__} | Python {platform.python_version()} | {platform.machine()}")
    run = args.run.resolve()
    scn = load_scenario(RunLayout(run).scenario_file)
    bureaus = args.bureau or sorted(
        b for b in scn.active_bureaus if scn.bureaus[b].model == "lightgbm"
    )
    for bureau in bureaus:
        print(f"\n{bureau}:")
        [(seconds, metrics, digest)] = list(map_chunks(train, [(run, bureau, None)]))
        show("one process", seconds, metrics)
        digests = []
        with use_scheduler("local", args.workers):
            for attempt in (1, 2):
                job = (run, bureau, args.partitions)
                [(seconds, metrics, made)] = list(map_chunks(train, [job], args.workers))
                show(f"lightgbm.dask, fit {attempt}", seconds, metrics)
                digests.append(made)
        same = "the same model" if digests[0] == digests[1] else "different models"
        print(f"  the two distributed fits gave {same}; one process: {digest[:12]}")


if __name__ == "__main__":
    main()
