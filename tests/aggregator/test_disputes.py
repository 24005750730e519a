from __future__ import annotations

import json

import pandas as pd
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bureau.bureaus.disputes import record_disputes
from bureau.bureaus.features import snapshot_features
from bureau.cli.main import app
from bureau.layout import RunLayout
from bureau.pipeline import run_stages
from bureau.store.aggregator import SubmittedTradeline
from bureau.store.bulk import read_frame
from bureau.store.credit_file import Correction, Dispute

pytestmark = pytest.mark.slow


def all_disputes(small_run) -> pd.DataFrame:
    frames = []
    for bureau in small_run.scenario.active_bureaus:
        engine = RunLayout(small_run.path).bureau_engine(bureau)
        with engine.connect() as conn:
            frame = read_frame(conn, select(Dispute.__table__))
            fixes = read_frame(conn, select(Correction.__table__))
        engine.dispose()
        frames.append(frame.merge(fixes, on="dispute_ref", how="left").assign(bureau=bureau))
    return pd.concat(frames, ignore_index=True)


def test_severe_errors_are_disputed_more_and_upheld_ones_corrected(small_run) -> None:
    by = pd.read_csv(small_run.path / "report" / "disputes_by_severity.csv")
    totals = by.groupby("severity")[["errors", "disputed"]].sum()
    share = totals["disputed"] / totals["errors"]
    assert share["severe"] > share["moderate"] > share["favourable"]
    disputes = all_disputes(small_run)
    assert len(disputes) > 0
    upheld = disputes[disputes["outcome"] == "corrected"]
    assert upheld["action"].notna().all()
    assert (upheld["effective"] == upheld["resolved"]).all()
    assert disputes.loc[disputes["outcome"] == "rejected", "action"].isna().all()
    table = pd.read_csv(small_run.path / "report" / "disputes.csv")
    assert table["corrected"].sum() == len(upheld)
    assert (table["still_present"] <= table["errors"]).all()


def test_a_correction_reaches_the_next_submission_only(small_run) -> None:
    disputes = all_disputes(small_run)
    fix = disputes[disputes["action"] == "status"].iloc[0]
    development, evaluation = small_run.scenario.snapshots
    engine = RunLayout(small_run.path).aggregator_engine()
    with engine.connect() as conn:
        lines = read_frame(
            conn,
            select(SubmittedTradeline.snapshot, SubmittedTradeline.history).where(
                SubmittedTradeline.bureau == fix["bureau"],
                SubmittedTradeline.furnisher == fix["furnisher"],
                SubmittedTradeline.account_ref == fix["ref"],
            ),
        ).set_index("snapshot")["history"]
    engine.dispose()
    month = int(fix["month_x"])
    assert lines[development][month - (development - 23)] == fix["shown"]
    assert lines[evaluation][month - (evaluation - 23)] == fix["claimed"]


def test_corrections_leave_earlier_views_as_they_were(small_run) -> None:
    disputes = all_disputes(small_run)
    bureau = disputes.loc[disputes["outcome"] == "corrected", "bureau"].iloc[0]
    engine = RunLayout(small_run.path).bureau_engine(bureau)
    groups = small_run.scenario.bureaus[bureau].feature_groups
    start = small_run.scenario.start_date
    development, evaluation = small_run.scenario.snapshots
    pd.testing.assert_frame_equal(
        snapshot_features(engine, development, groups, start),
        snapshot_features(engine, development, groups, start, corrected=False),
    )
    later = snapshot_features(engine, evaluation, groups, start)
    furnished = snapshot_features(engine, evaluation, groups, start, corrected=False)
    assert not later.equals(furnished)
    engine.dispose()


def test_recording_the_same_disputes_again_adds_nothing(small_run) -> None:
    disputes = all_disputes(small_run)
    bureau = disputes["bureau"].iloc[0]
    mine = disputes[disputes["bureau"] == bureau].rename(columns={"month_x": "month"})
    columns = [
        *("dispute_ref", "consumer_id", "item", "furnisher", "ref", "month", "shown"),
        *("claimed", "severity", "filed", "resolved", "outcome"),
    ]
    engine = RunLayout(small_run.path).bureau_engine(bureau)
    assert record_disputes(engine, mine[columns].fillna({"month": -1})) == 0
    engine.dispose()
    assert run_stages(small_run.path, stages=["disputes"]).outcome("disputes").skipped


def test_disputes_command_prints_the_statistics(small_run) -> None:
    runner = CliRunner()
    shown = runner.invoke(app, ["disputes", str(small_run.path), "--json"])
    assert shown.exit_code == 0, shown.output
    payload = json.loads(shown.stdout)
    assert payload["skipped"] and len(payload["bureaus"]) == len(small_run.scenario.active_bureaus)
    readable = runner.invoke(app, ["disputes", str(small_run.path)])
    assert readable.exit_code == 0 and "by severity" in readable.stdout


def test_rescoring_with_every_error_corrected_moves_only_files_with_errors(small_run) -> None:
    table = pd.read_parquet(small_run.path / "report" / "correction_rescoring.parquet")
    models = pd.read_parquet(small_run.path / "report" / "model_performance.parquet")
    trained = set(models.loc[models["status"] == "trained", "bureau"])
    assert set(table["bureau"]) == trained
    assert (table["snapshot"] == small_run.scenario.scoring.evaluation_snapshot).all()
    # A score can change only on a file with an error, and a tier only with the score.
    assert (table["score_changed"] <= table["with_errors"]).all()
    assert (table["tier_changed"] <= table["score_changed"]).all()
    assert (table["with_errors"] <= table["scored"]).all()
    assert table["score_changed"].sum() > 0
    shares = table["score_changed"] / table["scored"]
    assert (shares - table["score_changed_share"]).abs().max() < 1e-6
    comparison = pd.read_parquet(small_run.path / "report" / "comparison.parquet")
    row = comparison.set_index("bureau").loc[sorted(trained)[0]]
    mine = table.set_index("bureau").loc[sorted(trained)[0]]
    assert row["corrected_tier_changed_share"] == mine["tier_changed_share"]
