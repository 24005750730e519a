"""``bureau.Run``: a run as a researcher explores it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

import bureau
from bureau.cli.main import app
from bureau.store.credit_file import Inquiry

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(small_run, tmp_path_factory: pytest.TempPathFactory) -> bureau.Run:
    # A copy: scoring and the stages run here must leave the shared run as it is.
    copy = tmp_path_factory.mktemp("runs") / "run"
    shutil.copytree(small_run.path, copy)
    return bureau.Run(copy)


def someone(run: bureau.Run, bureau_name: str) -> str:
    """The identity number of a person the bureau holds a file of."""
    holders = run.world.memberships.query("platform_id == 'alipay'")["person_id"]
    persons = run.world.persons
    if bureau_name != "sesame":
        holders = run.world.accounts["person_id"]
    return str(persons[persons["person_id"].isin(holders)]["national_id"].iloc[0])


def test_a_run_shows_itself_as_a_short_summary(run: bureau.Run) -> None:
    text = repr(run)
    assert text.startswith("bureau.Run ") and len(text.splitlines()) <= 8
    assert "10 of 10" in text and "aggregator 0." in text
    page = run._repr_html_()
    assert page.count("<tr>") == len(text.splitlines()) - 1 and "<script" not in page


def test_stages_tables_and_world(run: bureau.Run) -> None:
    stages = run.stages
    assert list(stages.columns) == ["stage", "seconds", "done"]
    assert stages["done"].all() and (stages["seconds"] >= 0).all()
    assert "comparison" in run.tables and len(run.tables) == len(list(run.tables))
    with pytest.raises(KeyError, match="no report table 'nothing'"):
        run.tables["nothing"]
    assert len(run.world.persons) == run.scenario.population.persons
    assert list(run.bureaus) == run.scenario.active_bureaus


def test_a_bureau_gives_its_model_features_and_reports(run: bureau.Run) -> None:
    sesame = run.bureaus["sesame"]
    model = sesame.model
    assert model.card.bureau == "sesame"
    features = sesame.features(run.scenario.scoring.evaluation_snapshot)
    assert features.index.name == "consumer_id" and set(model.features) <= set(features.columns)
    # A month as a label is the same month.
    label = str(pd.Timestamp(run.scenario.start_date) + pd.DateOffset(months=23))[:7]
    pd.testing.assert_frame_equal(sesame.features(label), sesame.features(23))
    report = sesame.credit_report(someone(run, "sesame"))
    assert isinstance(report, bureau.CreditReport) and len(report.files) >= 1
    assert set(report.tradelines["consumer_id"]) <= set(report.files["consumer_id"])
    assert [f["consumer_id"] for f in report.to_dict()["files"]] == list(
        report.files["consumer_id"]
    )


def test_scoring_a_frame_records_no_inquiry_unless_asked(run: bureau.Run) -> None:
    persons = run.world.persons.head(50)
    applicants = pd.DataFrame(
        {
            "national_id": persons["national_id"],
            "name": persons["name"],
            "birth_date": persons["birth_date"].dt.strftime("%Y-%m-%d"),
            "phone": persons["phone"],
        }
    )
    applicants.loc[0, "birth_date"] = "not a date"

    def inquiries() -> int:
        with run.layout.bureau_database("sesame") as engine, engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(Inquiry)).scalar())

    before = inquiries()
    scores = run.bureaus["sesame"].score(applicants)
    assert len(scores) == len(applicants) - 1 and "match_status" in scores.columns
    assert len(scores.attrs["rejects"]) == 1
    assert inquiries() == before


def test_the_aggregator_gives_a_consolidated_file_as_tables(run: bureau.Run) -> None:
    number = someone(run, "qianhai")
    found = run.aggregator.report(number)
    assert isinstance(found, bureau.ConsolidatedFile) and found.person_keys
    assert set(found.files["person_key"]) <= set(found.person_keys)
    fields = found.provenance("tradelines")
    assert list(fields.columns[-4:]) == ["field", "value", "bureau", "rule"]
    shown = CliRunner().invoke(app, ["consolidated", str(run.path), "-n", number, "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout) == json.loads(json.dumps(found.to_dict()))
    links = run.aggregator.person_links()
    assert list(links.columns) == ["bureau", "consumer_id", "person_key"]


def test_compare_gives_the_comparison_and_a_missing_run_is_named(tmp_path: Path, run) -> None:
    comparison = run.compare()
    assert comparison["bureau"].iloc[-1] == "aggregator"
    with pytest.raises(bureau.RunDirectoryError, match="not a run directory"):
        bureau.Run(tmp_path / "nowhere")


def test_retraining_a_bureau_leaves_the_run_as_it_is(run: bureau.Run) -> None:
    card = (run.layout.model_dir("sesame") / "model_card.json").read_bytes()
    result = run.bureaus["sesame"].retrain(family="scorecard", groups=["credit"])
    assert result.model.family == "scorecard" and set(result.model.card.feature_groups) == {
        "credit"
    }
    assert not result.model.table().empty
    assert (run.layout.model_dir("sesame") / "model_card.json").read_bytes() == card
