"""The same ingestion on a real PostgreSQL server: one schema per bureau.

Runs when BUREAU_TEST_DATABASE_URL points at a server (CI sets it); skipped otherwise.
"""

from __future__ import annotations

import os

import pandas as pd
import pytest
from sqlalchemy import inspect, text

from bureau.bureaus.applicants import score_applicants
from bureau.bureaus.features import snapshot_features
from bureau.bureaus.ingest import ingest_all, ingest_bureau
from bureau.bureaus.train import train_bureau
from bureau.layout import RunLayout
from bureau.pipeline.market import record_market_inquiries
from bureau.store.engines import drop_run_schemas, run_id, schema_name
from bureau.store.parquet import read_table
from tests.bureaus.test_ingest import counts

URL = os.environ.get("BUREAU_TEST_DATABASE_URL")
pytestmark = [
    pytest.mark.skipif(not URL, reason="BUREAU_TEST_DATABASE_URL is not set"),
    pytest.mark.slow,
]
BUREAUS = ["kaola", "qianhai"]


@pytest.fixture
def fresh_schemas(small_run):
    drop_run_schemas(URL, run_id(small_run.path))
    yield
    drop_run_schemas(URL, run_id(small_run.path))


def test_postgres_holds_what_sqlite_holds(small_run, fresh_schemas) -> None:
    reports = ingest_all(
        small_run.scenario, RunLayout(small_run.path, URL), bureaus=BUREAUS, workers=2
    )
    assert [r.bureau for r in reports] == BUREAUS
    for bureau in BUREAUS:
        on_server = RunLayout(small_run.path, URL).bureau_engine(bureau)
        on_file = RunLayout(small_run.path).bureau_engine(bureau)
        assert counts(on_server) == counts(on_file)
        # A bureau's engine reaches its own schema only.
        tables = set(inspect(on_server).get_table_names(schema=schema_name(small_run.path, bureau)))
        assert {"consumers", "tradelines", "signals", "loaded_files"} <= tables
        again = ingest_bureau(small_run.scenario, small_run.path / "feeds", bureau, on_server)
        assert again.files_loaded == 0
        assert counts(on_server) == counts(on_file)


def test_features_training_and_scoring_on_postgres(small_run, fresh_schemas, tmp_path) -> None:
    """What a bureau computes from its file does not depend on where the file is."""
    bureau = "qianhai"
    ingest_all(small_run.scenario, RunLayout(small_run.path, URL), bureaus=[bureau])
    # The inquiries the bureau answered in the market are in its files, not its feeds.
    record_market_inquiries(small_run.scenario, RunLayout(small_run.path, URL), [bureau])
    on_server = RunLayout(small_run.path, URL).bureau_engine(bureau)
    on_file = RunLayout(small_run.path).bureau_engine(bureau)
    groups = small_run.scenario.bureaus[bureau].feature_groups
    start = small_run.scenario.start_date
    # The run's own files also hold the corrections of its disputes; the server's copy is
    # freshly loaded: compare the files as furnished.
    pd.testing.assert_frame_equal(
        snapshot_features(on_server, 20, groups, start, corrected=False),
        snapshot_features(on_file, 20, groups, start, corrected=False),
    )
    server = train_bureau(on_server, small_run.scenario, bureau, "lightgbm")
    local = train_bureau(on_file, small_run.scenario, bureau, "lightgbm")
    assert server.model.model_text() == local.model.model_text()

    persons = read_table(small_run.path / "world" / "persons").head(300)
    applicants = tmp_path / "applicants.csv"
    pd.DataFrame(
        {
            "national_id": persons["national_id"],
            "name": persons["name"],
            "birth_date": persons["birth_date"].dt.strftime("%Y-%m-%d"),
            "phone": persons["phone"],
        }
    ).to_csv(applicants, index=False)
    args = dict(as_of=23, start=start, as_of_year=2019)
    rules = small_run.scenario.bureaus[bureau].matching
    first = score_applicants(on_server, server.model, rules, applicants, tmp_path / "a.csv", **args)
    again = score_applicants(on_server, server.model, rules, applicants, tmp_path / "b.csv", **args)
    assert first.matched > 0 and first.inquiries == first.matched
    schema = schema_name(small_run.path, bureau)
    with on_server.connect() as conn:
        held = conn.execute(
            text(f'SELECT count(*) FROM "{schema}".inquiries WHERE furnisher = :f'), {"f": "batch"}
        ).scalar()
    assert held == first.matched == again.matched
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
