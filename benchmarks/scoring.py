"""Training and batch scoring: time per bureau, rows per second, ratio to LightGBM, memory.

Usage: python benchmarks/scoring.py [--run RUN] [--rows 2000000] [--workers 2]

1. A baseline run through ingestion (or --run, an existing one with credit files), then each
   bureau's training (features, fit, out-of-time scoring) timed alone, in one process.
2. Feature tables: a LightGBM bureau's features at the evaluation snapshot, repeated to
   --rows rows, scored from Parquet to Parquet by ``score_feature_table`` (reading,
   validation, scoring, reason codes, writing), against a raw ``Booster.predict`` of the same
   matrix already in memory. The ratio is ours / raw rows per second (target: at least 0.8).
3. Identity inputs: --rows applicants (CSV, drawn from the world's persons with repeats),
   matched, scored and written by ``score_file`` end to end, including the per-month score
   book and the inquiries (target: 200,000 rows/s), with peak memory at two input sizes to
   show that memory does not grow with the input.
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
import pandas as pd
from memory import PeakMemory

from bureau import __version__, load_scenario
from bureau.bureaus.batch import score_feature_table
from bureau.bureaus.features import snapshot_features
from bureau.bureaus.ingest import bureau_engine
from bureau.bureaus.models.artifacts import load_model
from bureau.bureaus.train import train_bureau
from bureau.pipeline import execute, run_stage, score_file
from bureau.rundir import RESOLVED_SCENARIO
from bureau.store.parquet import read_table


def training_times(run: Path) -> None:
    scn = load_scenario(run / RESOLVED_SCENARIO)
    print(f"\n{'bureau':<15}{'model':<11}{'train rows':>11}{'seconds':>9}{'OOT AUC':>9}")
    total = 0.0
    for bureau in scn.active_bureaus:
        engine = bureau_engine(run, bureau)
        started = time.perf_counter()
        result = train_bureau(engine, scn, bureau)
        seconds = time.perf_counter() - started
        total += seconds
        engine.dispose()
        m = result.metrics
        print(
            f"{bureau:<15}{result.model.family:<11}{m['development']['rows']:>11,}"
            f"{seconds:>9.1f}{m['out_of_time']['auc']:>9.3f}"
        )
    print(f"{'all, one process':<26}{'':>11}{total:>9.1f}")


def feature_tables(run: Path, rows: int, work: Path) -> None:
    scn = load_scenario(run / RESOLVED_SCENARIO)
    bureau = next(b for b in scn.active_bureaus if scn.bureaus[b].model == "lightgbm")
    model = load_model(run / "models" / bureau)
    engine = bureau_engine(run, bureau)
    features = snapshot_features(
        engine, scn.scoring.evaluation_snapshot, model.card["feature_groups"], scn.start_date
    )
    repeat = np.resize(np.arange(len(features)), rows)
    table = features.iloc[repeat].reset_index()
    source = work / "features.parquet"
    table.to_parquet(source, index=False)
    matrix = table[model.features].to_numpy(dtype=np.float64)
    started = time.perf_counter()
    model.estimator.booster_.predict(matrix)
    raw = rows / (time.perf_counter() - started)
    print(f"\nfeature table: {bureau} ({len(model.features)} features), {rows:,} rows")
    print(f"{'path':<44}{'rows/s':>12}{'/ raw':>8}")
    print(f"{'raw Booster.predict (matrix in memory)':<44}{raw:>12,.0f}{1.0:>8.2f}")
    for suffix in ("parquet", "csv"):
        if suffix == "csv":
            source = work / "features.csv"
            table.to_csv(source, index=False)
        started = time.perf_counter()
        score_feature_table(model, source, work / f"scores.{suffix}")
        ours = rows / (time.perf_counter() - started)
        label = f"score_feature_table {suffix} -> {suffix} (+ reasons)"
        print(f"{label:<44}{ours:>12,.0f}{ours / raw:>8.2f}")


def identity_inputs(run: Path, rows: int, work: Path) -> None:
    scn = load_scenario(run / RESOLVED_SCENARIO)
    persons = read_table(run / "world" / "persons")
    rng = np.random.default_rng(0)
    bureau = "sesame" if "sesame" in scn.active_bureaus else scn.active_bureaus[0]
    print(f"\nidentity inputs: {bureau}, as of the run's last month")
    print(f"{'rows':>12}{'seconds':>9}{'rows/s':>12}{'matched':>10}{'peak GiB':>10}")
    for n in (rows // 4, rows):
        pick = rng.integers(0, len(persons), n)
        frame = pd.DataFrame(
            {
                "applicant_id": np.arange(n),
                "national_id": persons["national_id"].to_numpy()[pick],
                "name": persons["name"].to_numpy()[pick],
                "birth_date": persons["birth_date"].dt.strftime("%Y-%m-%d").to_numpy()[pick],
                "phone": persons["phone"].to_numpy()[pick],
            }
        )
        source = work / f"applicants-{n}.csv"
        frame.to_csv(source, index=False)
        del frame
        with PeakMemory() as memory:
            started = time.perf_counter()
            summary = score_file(run, bureau, source, work / "scores.csv")
            seconds = time.perf_counter() - started
        print(
            f"{n:>12,}{seconds:>9.1f}{n / seconds:>12,.0f}{summary.matched / n:>10.1%}"
            f"{memory.peak / 2**30:>10.2f}"
        )
        source.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=None, help="an ingested run to reuse")
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"bureau {__version__} | Python {platform.python_version()} | {platform.machine()}")
    work = Path(tempfile.mkdtemp(prefix="bench-scoring-"))
    try:
        if args.run is None:
            run = work / "run"
            execute(
                load_scenario("baseline"),
                run,
                stages=["world", "furnish", "ingest"],
                workers=args.workers,
            )
        else:
            run = work / "run"
            shutil.copytree(args.run, run)
        training_times(run)
        manifest = json.loads((run / "manifest.json").read_text())
        if "train" not in manifest.get("stages", {}):
            run_stage(run, "train", workers=args.workers)
        feature_tables(run, args.rows, work)
        identity_inputs(run, args.rows, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
