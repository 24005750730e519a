"""Training and batch scoring: time per bureau, rows per second, ratio to LightGBM, memory.

Usage: python benchmarks/scoring.py [--run RUN] [--rows 10000000] [--feature-rows 2000000]

1. A baseline run through ingestion (or --run, an existing one with credit files), then each
   bureau's training (features, fit, out-of-time scoring) timed alone, in one process.
2. Feature tables: a LightGBM bureau's features at the evaluation snapshot, repeated to
   --feature-rows rows, scored from Parquet (and CSV) by ``score_feature_table`` (reading,
   validation, scoring, reason codes, writing), against a raw ``Booster.predict`` of the same
   matrix already in memory. The ratio is ours / raw rows per second (target: at least 0.8).
   From Parquet also with --workers processes checking and scoring the chunks.
3. Identity inputs: --rows applicants (CSV, drawn from the world's persons with repeats),
   matched, scored and written by ``score_file`` end to end, including the per-month score
   book and the inquiries (target: 200,000 rows/s), each size in a fresh process whose peak
   resident memory is reported, to show that memory does not grow with the input.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from bureau import __version__, load_scenario
from bureau.bureaus.batch_features import score_feature_table
from bureau.bureaus.features import snapshot_features
from bureau.bureaus.models.artifacts import load_model
from bureau.bureaus.train import train_bureau
from bureau.layout import RunLayout
from bureau.pipeline import run_stages
from bureau.rundir import RESOLVED_SCENARIO
from bureau.store.parquet import read_table


def training_times(run: Path) -> None:
    scn = load_scenario(run / RESOLVED_SCENARIO)
    print(f"\n{'bureau':<15}{'model':<11}{'train rows':>11}{'seconds':>9}{'OOT AUC':>9}")
    total = 0.0
    for bureau in scn.active_bureaus:
        engine = RunLayout(run).bureau_engine(bureau)
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


def feature_tables(run: Path, rows: int, work: Path, workers: int) -> None:
    scn = load_scenario(run / RESOLVED_SCENARIO)
    bureau = next(b for b in scn.active_bureaus if scn.bureaus[b].model == "lightgbm")
    model = load_model(run / "models" / bureau)
    engine = RunLayout(run).bureau_engine(bureau)
    features = snapshot_features(
        engine, scn.scoring.evaluation_snapshot, list(model.card.feature_groups), scn.start_date
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
            pacsv.write_csv(pa.Table.from_pandas(table, preserve_index=False), source)
        started = time.perf_counter()
        score_feature_table(model, source, work / f"scores.{suffix}")
        ours = rows / (time.perf_counter() - started)
        label = f"score_feature_table {suffix} -> {suffix} (+ reasons)"
        print(f"{label:<44}{ours:>12,.0f}{ours / raw:>8.2f}")
        if suffix == "parquet" and workers > 1:
            # The same, its chunks checked and scored by worker processes (started inside).
            started = time.perf_counter()
            score_feature_table(model, source, work / "spread.parquet", workers=workers)
            spread = rows / (time.perf_counter() - started)
            label = f"  the same, {workers} worker processes"
            print(f"{label:<44}{spread:>12,.0f}{spread / raw:>8.2f}")


# VmHWM is the peak of this process image alone (ru_maxrss would also count the pages the
# benchmark process held when it forked the child).
_CHILD = """
import sys, time
from pathlib import Path
from bureau.pipeline import score_file
started = time.perf_counter()
summary = score_file(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4])
seconds = time.perf_counter() - started
status = Path("/proc/self/status").read_text().splitlines()
peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(seconds, summary.matched, peak * 1024)
"""


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
        pacsv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), source)
        del frame
        # Scored in a fresh process, so that its peak memory is the scoring's own.
        child = subprocess.run(
            [sys.executable, "-c", _CHILD, str(run), bureau, str(source), str(work / "out.csv")],
            check=True,
            capture_output=True,
            text=True,
        )
        seconds, matched, peak = (float(x) for x in child.stdout.split())
        print(
            f"{n:>12,}{seconds:>9.1f}{n / seconds:>12,.0f}{matched / n:>10.1%}{peak / 2**30:>10.2f}"
        )
        source.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=None, help="an ingested run to reuse")
    parser.add_argument("--rows", type=int, default=10_000_000, help="identity rows")
    parser.add_argument("--feature-rows", type=int, default=2_000_000)
    parser.add_argument(
        "--parts", default="train,features,identity", help="which measurements, comma-separated"
    )
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"bureau {__version__} | Python {platform.python_version()} | {platform.machine()}")
    work = Path(tempfile.mkdtemp(prefix="bench-scoring-"))
    try:
        if args.run is None:
            run = work / "run"
            run_stages(
                run,
                load_scenario("baseline"),
                stages=["world", "furnish", "ingest"],
                workers=args.workers,
            )
        else:
            run = work / "run"
            shutil.copytree(args.run, run)
        parts = set(args.parts.split(","))
        if "train" in parts:
            training_times(run)
        manifest = json.loads((run / "manifest.json").read_text())
        if "train" not in manifest.get("stages", {}):
            run_stages(run, stages=["train"], workers=args.workers).outcome("train")
        if "features" in parts:
            feature_tables(run, args.feature_rows, work, args.workers)
        if "identity" in parts:
            identity_inputs(run, args.rows, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
