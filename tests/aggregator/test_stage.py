from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bureau.aggregator.linkage import link, use_linkage_backend
from bureau.aggregator.linkage_store import latest_of, person_links, submitted_identities
from bureau.aggregator.stage import reconcile_all
from bureau.aggregator.submission import receive
from bureau.cli.main import app
from bureau.layout import RunLayout
from bureau.pipeline import STAGES, StageContext, run_stages
from bureau.store.aggregator import (
    AggregatorBase,
    ConsolidatedTradeline,
    SubmittedIdentity,
    SubmittedPublicRecord,
    SubmittedScore,
    SubmittedTradeline,
)
from bureau.store.bulk import read_frame
from bureau.store.engines import database_engine

pytestmark = pytest.mark.slow

RULES = {"agreed", "single", "furnisher_of_record", "most_recent", "majority", "tiebreak"}


def test_linkage_is_measured_for_both_methods(small_run) -> None:
    linkage = pd.read_csv(small_run.path / "report" / "linkage.csv").set_index("method")
    assert set(linkage.index) == {"exact", "splink"}
    assert linkage.loc["splink", "f1"] > linkage.loc["exact", "f1"]
    assert linkage.loc["splink", "f1"] >= 0.99
    assert linkage.loc["exact", "precision"] == 1.0
    assert (linkage["files"] == linkage.loc["splink", "files"]).all()


def test_consolidated_fields_name_their_bureau_and_rule(small_run) -> None:
    engine = RunLayout(small_run.path).aggregator_engine()
    with engine.connect() as conn:
        lines = read_frame(conn, select(ConsolidatedTradeline.__table__))
    engine.dispose()
    assert len(lines) > 0
    for field in ("status", "balance", "last_month", "person_key"):
        assert lines[f"{field}_bureau"].notna().all()
        assert set(lines[f"{field}_rule"]) <= RULES
    several = lines[lines["bureaus"].str.contains("+", regex=False)]
    assert len(several) > 0
    assert (several["status_bureau"].apply(len) > 0).all()
    discrepancies = pd.read_parquet(small_run.path / "report" / "discrepancies.parquet")
    assert len(discrepancies) > 0
    summary = pd.read_csv(small_run.path / "report" / "discrepancies_by_rule.csv")
    assert summary["discrepancies"].sum() == len(discrepancies)
    assert set(discrepancies["rule"]) <= RULES - {"agreed", "single"}
    assert set(discrepancies["kind"]) <= {"stale", "conflict"}


def test_the_aggregator_sees_more_than_any_bureau(small_run) -> None:
    views = pd.read_csv(small_run.path / "report" / "coverage_accuracy.csv").set_index("view")
    bureaus = views.drop(index="aggregator")
    assert views.loc["aggregator", "coverage"] >= bureaus["coverage"].max()
    assert views.loc["aggregator", "defaults_seen_share"] > bureaus["defaults_seen_share"].max()
    consensus = pd.read_csv(small_run.path / "report" / "consensus.csv").set_index("view")
    assert consensus.loc["aggregator", "auc"] > 0.6
    model = json.loads((small_run.path / "report" / "consensus_model.json").read_text())
    assert model["rows"] > 0 and len(model["coef"]) == len(model["features"])


def test_each_bureau_is_judged_from_its_scores_as_training_judged_it(
    small_run, tmp_path: Path
) -> None:
    """The consensus table's bureau rows come from scores/, never from report/."""
    run = tmp_path / "run"
    shutil.copytree(small_run.path, run)
    for suffix in ("parquet", "csv"):
        (run / "report" / f"model_performance.{suffix}").unlink()
    STAGES["reconcile"].run(StageContext(small_run.scenario, RunLayout(run), workers=1))
    for name in ("consensus.parquet", "coverage_accuracy.parquet", "linkage.parquet"):
        assert (run / "report" / name).read_bytes() == (
            small_run.path / "report" / name
        ).read_bytes()
    consensus = pd.read_parquet(run / "report" / "consensus.parquet").set_index("view")
    performance = pd.read_parquet(small_run.path / "report" / "model_performance.parquet")
    metrics = ["rows", "bad_rate", "auc", "gini", "ks"]
    expected = performance.set_index("bureau")[[f"out_of_time_truth_{m}" for m in metrics]]
    expected.columns = metrics
    judged = consensus.loc[expected.index, metrics]
    pd.testing.assert_frame_equal(judged, expected.round(6), check_names=False)


def test_reconciling_again_is_a_no_op_and_another_method_reruns(small_run, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(small_run.path, run)
    before = pd.read_csv(run / "report" / "consensus.csv").set_index("view")
    assert run_stages(run, stages=["reconcile"]).outcome("reconcile").skipped
    engine = RunLayout(run).aggregator_engine()
    scn = small_run.scenario
    again = reconcile_all(
        engine,
        method="splink",
        threshold=scn.aggregator.match_threshold,
        rules=list(scn.aggregator.rules),
        bureaus=scn.active_bureaus,
        snapshots=scn.snapshots,
    )
    assert again.unchanged
    exact = run_stages(run, stages=["reconcile"], method="exact").outcome("reconcile")
    assert not exact.skipped
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["stages"]["reconcile"]["method"] == "exact"
    after = pd.read_csv(run / "report" / "consensus.csv").set_index("view")
    # The exact baseline splits persons: the aggregator scores more person keys.
    assert after.loc["aggregator", "rows"] > before.loc["aggregator", "rows"]
    engine.dispose()


def test_a_bureau_that_did_not_submit_is_reported(small_run, tmp_path: Path) -> None:
    source = RunLayout(small_run.path).aggregator_engine()
    target = database_engine(tmp_path, "aggregator", AggregatorBase)
    scn = small_run.scenario
    tables = {
        "identities": SubmittedIdentity,
        "tradelines": SubmittedTradeline,
        "public_records": SubmittedPublicRecord,
        "scores": SubmittedScore,
    }
    with source.connect() as conn:
        for snapshot in scn.snapshots:
            for bureau in ("kaola", "sesame"):
                parts = {}
                for name, table in tables.items():
                    frame = read_frame(
                        conn,
                        select(table.__table__).where(
                            table.snapshot == snapshot, table.bureau == bureau
                        ),
                    )
                    parts[name] = frame.drop(columns=["snapshot", "bureau"])
                receive(target, bureau, snapshot, parts)
    summary = reconcile_all(
        target,
        method="exact",
        threshold=scn.aggregator.match_threshold,
        rules=list(scn.aggregator.rules),
        bureaus=scn.active_bureaus,
        snapshots=scn.snapshots,
    )
    assert len(summary.missing) == 2 * (len(scn.active_bureaus) - 2)
    assert ("11", "tencent") not in summary.missing and (11, "tencent") in summary.missing
    assert summary.tradelines[scn.snapshots[-1]] > 0
    source.dispose()
    target.dispose()


def test_report_command_prints_a_consolidated_report(small_run) -> None:
    engine = RunLayout(small_run.path).aggregator_engine()
    with engine.connect() as conn:
        lines = read_frame(
            conn,
            select(ConsolidatedTradeline.person_key, ConsolidatedTradeline.bureaus),
        )
        identities = read_frame(conn, select(SubmittedIdentity.__table__))
    engine.dispose()
    runner = CliRunner()
    shared = lines[lines["bureaus"].str.contains("+", regex=False)]["person_key"].iloc[0]
    mapping = person_links(RunLayout(small_run.path).aggregator_engine(), "splink")
    files = mapping[mapping["person_key"] == shared].merge(identities, on=["bureau", "consumer_id"])
    number = files["national_id"].dropna().iloc[0]
    shown = runner.invoke(
        app, ["consolidated", str(small_run.path), "--national-id", number, "--json"]
    )
    assert shown.exit_code == 0, shown.output
    report = json.loads(shown.stdout)
    person = next(p for p in report["persons"] if p["person_key"] == shared)
    assert person["tradelines"] and person["consensus_pd"] is not None
    field = person["tradelines"][0]["fields"]["status"]
    assert field["bureau"] and field["rule"] in RULES
    readable = runner.invoke(app, ["consolidated", str(small_run.path), "--national-id", number])
    assert readable.exit_code == 0 and "Consolidated file" in readable.stdout
    nobody = runner.invoke(
        app, ["consolidated", str(small_run.path), "--national-id", "110105199001011232"]
    )
    assert nobody.exit_code == 2 and "no submitted file" in nobody.stderr


@pytest.mark.slow
def test_splink_on_spark_gives_the_links_of_duckdb(small_run) -> None:
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java")
    with RunLayout(small_run.path).aggregator_database() as engine, engine.connect() as conn:
        identities = latest_of(submitted_identities(conn))
    stored = person_links(RunLayout(small_run.path).aggregator_engine(), "splink")
    with use_linkage_backend("spark"):
        on_spark = link(identities, "splink")
    on_duckdb = link(identities, "splink")
    assert on_spark.links == on_duckdb.links > 0
    assert on_spark.keys.equals(on_duckdb.keys)
    # The run's own reconciliation (DuckDB) stored the same persons.
    mine = stored.merge(on_spark.keys, on=["bureau", "consumer_id"], suffixes=("", "_spark"))
    assert len(mine) == len(stored) == len(on_spark.keys)
    pairs = mine[["person_key", "person_key_spark"]].drop_duplicates()
    assert len(pairs) == pairs["person_key"].nunique() == pairs["person_key_spark"].nunique()
