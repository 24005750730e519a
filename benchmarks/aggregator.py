"""The aggregator: linkage plus reconciliation time and F1, and linkage against Splink alone.

Usage: python benchmarks/aggregator.py [--run RUN ...]

For each run (by default runs/baseline and runs/large, made with ``bureau run`` if missing):

1. Splink alone: the same identity records and settings, through Splink's own API (train the
   prior, u by random sampling and m by EM, predict, cluster), timed.
2. Our linkage step (``link``, the Splink method): preparing the records, the same Splink
   work, numbering the person keys. The ratio is ours / Splink alone (overhead).
3. The whole of ``reconcile_all`` on a copy of the aggregator's database: both linkages with
   their person keys written, reconciliation of every snapshot with the consolidated tables
   and discrepancies written, and the consensus score fitted and written (target: 1,000,000
   persons in at most 3 minutes).
4. Pairwise precision, recall and F1 of both linkages against the truth (target: F1 at least
   0.995), and the peak resident memory of the process.
"""

from __future__ import annotations

import argparse
import logging
import platform
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bureau import __version__, load_scenario
from bureau.aggregator.linkage import link, prepared_identities, splink_linker
from bureau.aggregator.linkage_store import latest_of, submitted_identities
from bureau.aggregator.stage import reconcile_all
from bureau.analysis.aggregation import linkage_quality
from bureau.layout import RunLayout
from bureau.pipeline import run_stages
from bureau.pipeline.comparison import trace_owners
from bureau.rundir import RESOLVED_SCENARIO
from bureau.store.aggregator import AggregatorBase
from bureau.store.engines import database_engine

DERIVED = (
    "linkages",
    "person_links",
    "reconciliations",
    "consolidated_tradelines",
    "consolidated_public_records",
    "discrepancies",
    "consensus_scores",
)


def splink_alone(identities: pd.DataFrame, threshold: float) -> float:
    """Splink's own calls on the same records: train, predict, cluster."""
    frame = prepared_identities(identities)
    records = frame[["name", "national_id", "phone", "birth_month"]].assign(
        record=np.arange(len(frame), dtype=np.int64)
    )
    started = time.perf_counter()
    linker = splink_linker(records)
    pairs = linker.inference.predict(threshold_match_probability=threshold)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        pairs, threshold_match_probability=threshold
    )
    clusters.as_pandas_dataframe()
    return time.perf_counter() - started


def owners_of(run: Path, bureaus: list[str]) -> pd.DataFrame:
    layout = RunLayout(run)
    with layout.bureau_databases(bureaus, create=False) as engines:
        traced = trace_owners(layout, engines)
    frames = [
        owners.rename_axis("consumer_id")
        .reset_index()
        .assign(bureau=bureau)[["bureau", "consumer_id", "person_id"]]
        for bureau, owners in traced.items()
    ]
    return pd.concat(frames, ignore_index=True)


def measure(run: Path) -> None:
    scn = load_scenario(run / RESOLVED_SCENARIO)
    settings = scn.aggregator
    source = RunLayout(run).aggregator_engine()
    with source.connect() as conn:
        identities = latest_of(submitted_identities(conn))
    source.dispose()
    print(f"\n{run}: {scn.population.persons:,} persons, {len(identities):,} submitted files")

    # The first linkage in a process imports Splink and DuckDB and warms them up: not counted.
    link(identities.sample(20_000, random_state=0), "splink", threshold=settings.match_threshold)
    alone = splink_alone(identities, settings.match_threshold)
    started = time.perf_counter()
    ours = link(identities, "splink", threshold=settings.match_threshold)
    linking = time.perf_counter() - started
    print(f"  Splink alone            {alone:8.1f} s")
    print(
        f"  our linkage step        {linking:8.1f} s   ratio to Splink alone {linking / alone:.2f}"
    )

    with tempfile.TemporaryDirectory(dir=run.parent) as scratch:
        copy = Path(scratch)
        (copy / "db").mkdir()
        shutil.copy(run / "db" / "aggregator.db", copy / "db" / "aggregator.db")
        with sqlite3.connect(copy / "db" / "aggregator.db") as raw:
            # Keep the submissions only: everything reconciliation makes is made again (in
            # today's tables).
            for table in DERIVED:
                raw.execute(f"DROP TABLE IF EXISTS {table}")
        engine = database_engine(copy, "aggregator", AggregatorBase)
        started = time.perf_counter()
        summary = reconcile_all(
            engine,
            method=settings.linkage,
            threshold=settings.match_threshold,
            rules=list(settings.rules),
            bureaus=scn.active_bureaus,
            snapshots=scn.snapshots,
        )
        whole = time.perf_counter() - started
        engine.dispose()
    consolidated = sum(summary.tradelines.values())
    conflicts = sum(summary.discrepancies.values())
    print(
        f"  linkage + reconciliation {whole:7.1f} s   (both linkages, {len(scn.snapshots)} "
        f"snapshots: {consolidated:,} consolidated accounts, {conflicts:,} discrepancies, "
        "consensus)"
    )
    owners = owners_of(run, scn.active_bureaus)
    exact = link(identities, "exact")
    for result in (ours, exact):
        q = linkage_quality(result.keys, owners)
        print(
            f"  {result.method:<7} precision {q['precision']:.5f}  recall {q['recall']:.5f}  "
            f"F1 {q['f1']:.5f}  persons split {q['persons_split']:,}  keys merged "
            f"{q['keys_merged']:,}"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"  peak resident memory    {peak:8.2f} GiB")


def main() -> None:
    import splink.internals.linker  # noqa: F401  (sets up Splink's loggers, quieted below)

    for name in [n for n in logging.root.manager.loggerDict if n.startswith("splink")]:
        logging.getLogger(name).setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, action="append", help="an existing run directory")
    args = parser.parse_args()
    runs = args.run or [Path("runs/baseline"), Path("runs/large")]
    print(f"bureau {__version__}, Python {sys.version.split()[0]}, {platform.platform()}")
    for run in runs:
        if not (run / "db" / "aggregator.db").exists():
            name = run.name if run.name in ("baseline", "large") else "baseline"
            print(f"making {run} (bureau run {name}) ...", flush=True)
            run_stages(run, load_scenario(name), workers=2, force=run.exists())
        measure(run)


if __name__ == "__main__":
    main()
