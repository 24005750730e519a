"""The aggregator on a real PostgreSQL server: the same results as on SQLite files.

Runs when BUREAU_TEST_DATABASE_URL points at a server (CI sets it); skipped otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from bureau.pipeline import run_stages
from bureau.store.engines import drop_run_schemas, run_id, schema_name

URL = os.environ.get("BUREAU_TEST_DATABASE_URL")
pytestmark = [
    pytest.mark.skipif(not URL, reason="BUREAU_TEST_DATABASE_URL is not set"),
    pytest.mark.slow,
]


def test_the_chain_after_ingestion_gives_the_same_results_on_a_server(
    small_run, tmp_path: Path
) -> None:
    admin = create_engine(URL)
    run = tmp_path / "run"
    shutil.copytree(
        small_run.path, run, ignore=shutil.ignore_patterns("db", "models", "scores", ".run_id")
    )
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["stages"] = {k: v for k, v in manifest["stages"].items() if k in ("world", "furnish")}
    (run / "manifest.json").write_text(json.dumps(manifest))
    for stage in ("ingest", "train", "disputes", "submit", "reconcile"):
        run_stages(run, stages=[stage], workers=2, db_url=URL).outcome(stage)
    schemas = [schema_name(run, o) for o in [*small_run.scenario.active_bureaus, "aggregator"]]
    assert "submitted_tradelines" in inspect(admin).get_table_names(schema=schemas[-1])
    admin.dispose()
    assert sorted(drop_run_schemas(URL, run_id(run))) == sorted(schemas)
    for name in ("disputes.csv", "linkage.csv", "coverage_accuracy.csv", "consensus.csv"):
        ours = (run / "report" / name).read_bytes()
        assert ours == (small_run.path / "report" / name).read_bytes(), name
    assert not (run / "db" / "aggregator.db").exists()
