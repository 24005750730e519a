"""Batch scoring: applicants by identity, feature tables, and every kind of bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from bureau.bureaus.applicants import IdentityMatcher
from bureau.bureaus.batch import NothingScored, rejects_path
from bureau.bureaus.batch_features import score_feature_table
from bureau.bureaus.batch_io import InputError
from bureau.bureaus.features import snapshot_features
from bureau.bureaus.models.artifacts import load_model
from bureau.bureaus.resolve import identity_key_arrays
from bureau.cli.main import app
from bureau.layout import RunLayout
from bureau.pipeline import score_file
from bureau.store.credit_file import Inquiry
from tests.cli.helpers import applicant_frame

runner = CliRunner()


@pytest.fixture(scope="module")
def trained(small_run) -> str:
    table = pd.read_csv(small_run.path / "report" / "model_performance.csv")
    return str(table.loc[table["status"] == "trained", "bureau"].iloc[0])


@pytest.fixture(scope="module")
def applicants(small_run) -> pd.DataFrame:
    return applicant_frame(small_run.path, 600)


@pytest.mark.slow
def test_applicants_are_matched_scored_and_rejected_by_row(
    small_run, trained: str, applicants: pd.DataFrame, tmp_path: Path
) -> None:
    frame = applicants.copy()
    frame.loc[0, "national_id"] = "110101199001011234"  # wrong check digit
    frame.loc[1, "birth_date"] = "1990-02-30"
    frame.loc[2, "phone"] = "12345"
    frame.loc[3, ["national_id", "name", "birth_date", "phone"]] = None
    source = tmp_path / "in.csv"
    frame.to_csv(source, index=False)
    with source.open("ab") as handle:
        handle.write(b"X1,too,few\n")
        handle.write(b"X2,\xff\xfe,name,1990-01-01,13800000000\n")
    out = tmp_path / "out.csv"
    summary = score_file(small_run.path, trained, source, out, as_of="2019-06")
    assert summary.rows == 602 and summary.rejected == 6
    assert summary.scored == summary.matched > 0 and summary.no_file > 0
    scores = pd.read_csv(out)
    assert list(scores["row"]) == [r for r in range(1, 601) if r > 4]
    assert set(scores["match_status"]) <= {"matched", "no_file", "ambiguous"}
    matched = scores[scores["match_status"] == "matched"]
    assert matched["score"].notna().all() and matched["reason_1"].notna().mean() > 0.9
    # A reason names a feature that raises the risk: an applicant with none is among the safest.
    unexplained = matched[matched["reason_1"].isna()]
    assert (unexplained["pd"] < matched["pd"].median()).all()
    assert scores.loc[scores["match_status"] == "no_file", "score"].isna().all()
    rejects = pd.read_csv(rejects_path(out))
    assert list(rejects["row"]) == [1, 2, 3, 4, 601, 602]
    assert list(rejects["column"].fillna("")) == ["national_id", "birth_date", "phone", "", "", ""]
    assert "UTF-8" in rejects["reason"].iloc[-1]


@pytest.mark.slow
def test_scores_agree_with_the_file_scored_directly(
    small_run, trained: str, applicants: pd.DataFrame, tmp_path: Path
) -> None:
    source = tmp_path / "in.parquet"
    applicants.to_parquet(source)
    out = tmp_path / "out.parquet"
    score_file(small_run.path, trained, source, out, as_of="2019-06", record_inquiries=False)
    scores = pd.read_parquet(out)
    matched = scores[scores["match_status"] == "matched"]
    model = load_model(small_run.path / "models" / trained)
    engine = RunLayout(small_run.path).bureau_engine(trained)
    month = small_run.scenario.scoring.evaluation_snapshot
    features = snapshot_features(
        engine, month, list(model.card.feature_groups), small_run.scenario.start_date
    )
    direct = model.score(features.loc[matched["consumer_id"].to_numpy()])
    np.testing.assert_array_equal(matched["score"].to_numpy(), direct["score"].to_numpy())
    np.testing.assert_allclose(matched["pd"].to_numpy(), direct["pd"].to_numpy())


@pytest.mark.slow
def test_inquiries_are_recorded_once_per_file(
    small_run, trained: str, applicants: pd.DataFrame, tmp_path: Path
) -> None:
    source = tmp_path / "inquiries.csv"
    applicants.head(100).to_csv(source, index=False)
    engine = RunLayout(small_run.path).bureau_engine(trained)

    def count() -> int:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(Inquiry)).scalar()

    before = count()
    first = score_file(small_run.path, trained, source, tmp_path / "a.csv")
    assert first.inquiries == first.matched and count() == before + first.matched
    second = score_file(small_run.path, trained, source, tmp_path / "b.csv")
    assert second.inquiries == first.inquiries and count() == before + first.matched
    # A score never counts its own inquiry: the same file scores the same.
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_ambiguous_keys_are_reported_not_guessed() -> None:
    identifiers = pd.DataFrame(
        {
            "kind": ["national_id", "national_id", "national_id"],
            "value": ["A", "A", "B"],
            "consumer_id": [1, 2, 3],
        }
    )
    matcher = IdentityMatcher(identifiers, ["national_id"])
    keys = identity_key_arrays({"national_id": pa.array(["A", "B", "C"])}, ["national_id"])
    consumer, status = matcher.match(keys)
    assert status.tolist() == ["ambiguous", "matched", "no_file"]
    assert consumer.tolist() == [-1, 3, -1]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"national_id,name\n1,2\n", "missing required columns: birth_date, phone"),
        (b"\xff\xfenational_id\n", "header row is not valid UTF-8"),
    ],
)
def test_unreadable_inputs_are_input_errors(
    small_run, trained: str, tmp_path: Path, content: bytes, message: str
) -> None:
    source = tmp_path / "bad.csv"
    source.write_bytes(content)
    with pytest.raises(InputError, match=message):
        score_file(small_run.path, trained, source, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.slow
def test_nothing_scored_keeps_the_previous_output(small_run, trained: str, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    out.write_text("previous\n")
    source = tmp_path / "bad.csv"
    source.write_text("national_id,name,birth_date,phone,extra\n123,x,1990-13-01,1,y\n")
    with pytest.raises(NothingScored, match="nothing could be scored"):
        score_file(small_run.path, trained, source, out)
    assert out.read_text() == "previous\n"
    assert len(pd.read_csv(rejects_path(out))) == 1
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.slow
def test_feature_tables_score_directly_and_reject_bad_values(
    small_run, trained: str, tmp_path: Path
) -> None:
    model = load_model(small_run.path / "models" / trained)
    engine = RunLayout(small_run.path).bureau_engine(trained)
    features = snapshot_features(
        engine, 20, list(model.card.feature_groups), small_run.scenario.start_date
    )
    table = features.reset_index().head(300)
    text = table.astype(object).astype(str).replace("nan", "")
    text.loc[0, model.features[0]] = "abc"
    text.loc[1, model.features[1]] = "-5"
    source = tmp_path / "features.csv"
    text.to_csv(source, index=False)
    summary = score_feature_table(model, source, tmp_path / "scores.csv")
    assert summary.scored == 298 and summary.rejected == 2
    scores = pd.read_csv(tmp_path / "scores.csv")
    direct = model.score(features.head(300).iloc[2:])
    np.testing.assert_array_equal(scores["score"].to_numpy(), direct["score"].to_numpy())
    assert (scores["consumer_id"].to_numpy() == table["consumer_id"].to_numpy()[2:]).all()
    rejects = pd.read_csv(rejects_path(tmp_path / "scores.csv"))
    assert rejects["reason"].tolist()[0] == "not a number"
    assert rejects["reason"].tolist()[1].startswith("impossible value")
    # Chunks scored by two worker processes give the same files as one process.
    stored = tmp_path / "features.parquet"
    table.assign(
        **{model.features[1]: table[model.features[1]].where(table.index != 7, -5)}
    ).to_parquet(stored)
    alone, spread = tmp_path / "alone.csv", tmp_path / "spread.csv"
    one = score_feature_table(model, stored, alone, rows_per_chunk=64)
    two = score_feature_table(model, stored, spread, rows_per_chunk=64, workers=2)
    assert (
        (one.rows, one.scored, one.rejected)
        == (two.rows, two.scored, two.rejected)
        == (
            300,
            299,
            1,
        )
    )
    assert spread.read_bytes() == alone.read_bytes()
    assert rejects_path(spread).read_bytes() == rejects_path(alone).read_bytes()
    missing = tmp_path / "missing.csv"
    table.drop(columns=model.features[0]).to_csv(missing, index=False)
    with pytest.raises(InputError, match=f"missing required columns: {model.features[0]}"):
        score_feature_table(model, missing, tmp_path / "x.csv")


@pytest.mark.slow
def test_cli_score_reports_and_exits_2_when_nothing_scores(
    small_run, trained: str, applicants: pd.DataFrame, tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    applicants.head(50).assign(extra=1).to_csv(source, index=False)
    out = tmp_path / "out.csv"
    args = ["score", str(small_run.path), "-b", trained, "-i", str(source), "-o", str(out)]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    assert "unknown columns ignored: extra" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("national_id,name,birth_date,phone\n")
    failed = runner.invoke(app, ["score", str(small_run.path), "-b", trained, "-i", str(bad)])
    assert failed.exit_code == 2
    assert failed.output.strip().startswith("error:") and "Traceback" not in failed.output
    month = runner.invoke(app, [*args, "--as-of", "2031-01"])
    assert month.exit_code == 2 and "not a month of this run" in month.output
