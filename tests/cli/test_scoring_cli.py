"""``bureau score``, ``bureau file`` and ``bureau report`` refusing bad options and values."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from bureau import load_scenario
from bureau.bureaus.credit_report import credit_report
from bureau.cli.main import app
from bureau.errors import BureauError
from bureau.layout import RunLayout
from bureau.pipeline import month_of, score_file
from tests.cli.helpers import BUREAU, MODELS, feature_frame, files_in, one_line_error
from tests.tampering import seal

pytestmark = pytest.mark.slow

runner = CliRunner()


def features_file(directory: Path) -> Path:
    path = directory / "features.csv"
    feature_frame(rows=5).to_csv(path, index=False)
    return path


# Finding 2: the output must never be the input, and must be writable before anything is read.


@pytest.mark.parametrize("how", ["same path", "another path", "symlink", "hard link", "rejects"])
def test_an_output_that_is_an_input_is_refused_before_anything_is_written(
    run: Path, applicants: pd.DataFrame, tmp_path: Path, how: str
) -> None:
    source = tmp_path / "in.csv"
    applicants.to_csv(source, index=False)
    output = tmp_path / {"symlink": "link.csv", "hard link": "hard.csv"}.get(how, "in.csv")
    if how == "another path":
        output = tmp_path / ".." / tmp_path.name / "in.csv"
    if how == "symlink":
        output.symlink_to(source)
    if how == "hard link":
        os.link(source, output)
    if how == "rejects":
        # The reject file of OUTPUT is OUTPUT.rejects.csv: an input of that name is in the way.
        source = source.rename(tmp_path / "out.csv.rejects.csv")
        output = tmp_path / "out.csv"
    before = files_in(tmp_path)
    args = ["score", str(run), "-b", BUREAU, "-i", str(source), "-o", str(output), "-q"]
    line = one_line_error(runner.invoke(app, args))
    assert "input" in line and "--output" in line, line
    assert files_in(tmp_path) == before
    if how != "rejects":
        features = features_file(tmp_path)
        before = files_in(tmp_path)
        args = ["score", "--model", str(MODELS / BUREAU), "--features", str(features)]
        line = one_line_error(runner.invoke(app, [*args, "-o", str(features), "-q"]))
        assert "input" in line and "--output" in line, line
        assert files_in(tmp_path) == before


def _unwritable(tmp_path: Path) -> Path:
    """A directory this process cannot create files in."""
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        return locked
    # Permission bits do not stop root; sysfs refuses new files to everyone.
    if Path("/sys/kernel").is_dir():
        return Path("/sys")
    pytest.skip("no directory this process cannot write to")


@pytest.mark.parametrize("where", ["missing parent", "unwritable", "a directory"])
def test_an_output_that_cannot_be_written_is_refused_first(
    run: Path, applicants: pd.DataFrame, tmp_path: Path, where: str
) -> None:
    source = tmp_path / "in.csv"
    applicants.to_csv(source, index=False)
    output = {
        "missing parent": tmp_path / "no" / "such" / "out.csv",
        "unwritable": _unwritable(tmp_path) / "out.csv",
        "a directory": tmp_path / "taken.csv",
    }[where]
    if where == "a directory":
        output.mkdir()
    before = sorted(p.name for p in tmp_path.rglob("*"))
    args = ["score", str(run), "-b", BUREAU, "-i", str(source), "-o", str(output), "-q"]
    line = one_line_error(runner.invoke(app, args))
    assert "--output" in line and str(output.parent.name) in line, line
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    assert not (tmp_path / "no").exists()


# Finding 3: months are validated wherever a YYYY-MM is read.


@pytest.mark.parametrize("label", ["2019-13", "2019-00", "2019-6", "2019-06 ", "June", "19-06"])
def test_an_impossible_month_is_refused_not_rolled_over(
    run: Path, applicants: pd.DataFrame, tmp_path: Path, label: str
) -> None:
    source = tmp_path / "in.csv"
    applicants.to_csv(source, index=False)
    args = ["score", str(run), "-b", BUREAU, "-i", str(source), "-o", str(tmp_path / "o.csv")]
    line = one_line_error(runner.invoke(app, [*args, "--as-of", label, "-q"]))
    assert "--as-of" in line and "is not a month" in line and "YYYY-MM" in line, line
    assert not (tmp_path / "o.csv").exists()
    report = runner.invoke(app, ["consolidated", str(run), "-n", applicants["national_id"][0]])
    assert report.exit_code == 2  # not reconciled: the month must be refused first, though
    line = one_line_error(
        runner.invoke(
            app, ["consolidated", str(run), "-n", applicants["national_id"][0], "--as-of", label]
        )
    )
    assert "--as-of" in line and "is not a month" in line, line


def test_a_month_outside_the_run_names_the_run_s_months_as_labels(run: Path) -> None:
    scenario = load_scenario(run / "scenario.resolved.toml")
    with pytest.raises(
        BureauError, match=r"2031-01 is not a month of this run \(2017-07 to 2020-06\)"
    ):
        month_of(scenario, "2031-01")
    with pytest.raises(BureauError) as caught:
        month_of(scenario, "2019-13")
    assert caught.value.field == "as_of"
    assert month_of(scenario, "2019-12") == 29


# Finding 4: option combinations are usage errors, one line, naming the options.


@pytest.mark.parametrize(
    ("args", "named"),
    [
        ([], ["RUN", "--model"]),
        (["RUN", "--model", "MODEL", "--features", "FEATURES"], ["RUN", "--model"]),
        (["RUN"], ["--bureau", "--input"]),
        (["RUN", "-b", BUREAU], ["--input"]),
        (["--model", "MODEL"], ["--features"]),
        (["--features", "FEATURES"], ["--model"]),
        (["--model", "MODEL", "--features", "FEATURES", "-i", "IN"], ["--input"]),
        (["--model", "MODEL", "--features", "FEATURES", "-b", BUREAU], ["--bureau"]),
        (["--model", "MODEL", "--features", "FEATURES", "--as-of", "2019-06"], ["--as-of"]),
        (["--model", "MODEL", "--features", "FEATURES", "--db", "sqlite://"], ["--db"]),
        (["--model", "MODEL", "--features", "FEATURES", "--no-record-inquiries"], ["inquiries"]),
        (["RUN", "-b", BUREAU, "-i", "IN", "--features", "FEATURES"], ["--features"]),
    ],
)
def test_option_combinations_are_one_line_usage_errors(
    run: Path, applicants: pd.DataFrame, tmp_path: Path, args: list[str], named: list[str]
) -> None:
    source = tmp_path / "in.csv"
    applicants.to_csv(source, index=False)
    features = features_file(tmp_path)
    real = {"RUN": str(run), "MODEL": str(MODELS / BUREAU), "FEATURES": str(features)}
    real["IN"] = str(source)
    before = files_in(tmp_path)
    output = str(tmp_path / "scores.csv")
    result = runner.invoke(app, ["score", *(real.get(a, a) for a in args), "-o", output, "-q"])
    line = one_line_error(result)
    assert all(n in line for n in named), line
    assert files_in(tmp_path) == before


# Finding 5: an identity number given by the user that is not one says why.


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("110105199001011234", "check character"),
        ("11010519900101123", "18 characters"),
        ("11010519900101123A", "digits"),
        ("11010519901301123X", "birth date"),
        ("999999199001011238", "region"),
    ],
)
def test_an_invalid_identity_number_is_named_as_such(run: Path, value: str, problem: str) -> None:
    for command in (["file", str(run), "-b", BUREAU], ["consolidated", str(run)]):
        line = one_line_error(runner.invoke(app, [*command, "--national-id", value]))
        assert "--national-id" in line and "not a valid identity number" in line, line
        assert problem in line and "no file" not in line, line


def test_a_valid_identity_number_not_on_file_is_not_found(run: Path) -> None:
    valid = "110105199001011232"
    from bureau.formats.national_id import validate_national_ids

    assert validate_national_ids(pd.Series([valid]))[0]
    line = one_line_error(runner.invoke(app, ["file", str(run), "-b", BUREAU, "-n", valid]))
    assert "no file" in line and "--national-id" in line, line


def test_applicant_rows_with_invalid_identity_numbers_say_what_is_wrong(
    run: Path, applicants: pd.DataFrame, tmp_path: Path
) -> None:
    frame = applicants.copy()
    frame.loc[0, "national_id"] = "110105199001011234"
    frame.loc[1, "national_id"] = "1101051990"
    frame.loc[2, "national_id"] = "999999199001011238"
    frame.loc[3, "national_id"] = (
        frame.loc[3, "national_id"][:10] + "1399" + frame.loc[3, "national_id"][14:]
    )
    frame.loc[[0, 1, 2, 3], "birth_date"] = None
    source = tmp_path / "in.csv"
    frame.to_csv(source, index=False)
    out = tmp_path / "out.csv"
    score_file(run, BUREAU, source, out, record_inquiries=False)
    rejects = pd.read_csv(tmp_path / "out.csv.rejects.csv")
    assert rejects["row"].tolist()[:4] == [1, 2, 3, 4]
    assert set(rejects["column"][:4]) == {"national_id"}
    reasons = rejects["reason"].tolist()
    for reason, words in zip(
        reasons, ["check character", "18 characters", "region", "birth date"], strict=False
    ):
        assert words in reason, reasons


# Finding 6: the library names fields, the command line names its options.


def test_library_errors_name_fields_and_the_cli_names_options(
    run: Path, applicants: pd.DataFrame, tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    applicants.to_csv(source, index=False)
    with pytest.raises(BureauError) as caught:
        score_file(run, "equifax", source, tmp_path / "o.csv")
    assert caught.value.field == "bureau" and "--" not in str(caught.value)
    with pytest.raises(BureauError) as caught:
        score_file(run, BUREAU, source, tmp_path / "o.csv", as_of="2019-13")
    assert caught.value.field == "as_of" and "--" not in str(caught.value)
    with pytest.raises(BureauError) as caught:
        credit_report(RunLayout(run).bureau_engine(BUREAU), "110105199001011232")
    assert caught.value.field == "national_id" and "--" not in str(caught.value)
    args = ["score", str(run), "-b", "equifax", "-i", str(source), "-o", str(tmp_path / "o.csv")]
    assert "--bureau" in one_line_error(runner.invoke(app, args))


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda card, data: card.update(feature_groups=[]), "names no feature_groups"),
        (
            lambda card, data: (card["features"].append("colour"), data["inputs"].append("colour")),
            "features a bureau's files do not have: colour",
        ),
    ],
)
def test_a_model_that_cannot_score_the_run_s_files_says_why(
    run: Path, applicants: pd.DataFrame, tmp_path: Path, change, words: str
) -> None:
    other = tmp_path / "run"
    shutil.copytree(run, other, ignore=shutil.ignore_patterns("models"))
    model = other / "models" / BUREAU
    shutil.copytree(MODELS / "chengxin", model)
    card = json.loads((model / "model_card.json").read_text())
    data = json.loads((model / "scorecard.json").read_text())
    change(card, data)
    (model / "model_card.json").write_text(json.dumps(card))
    (model / "scorecard.json").write_text(json.dumps(data))
    seal(model)
    source = tmp_path / "in.csv"
    applicants.to_csv(source, index=False)
    args = ["score", str(other), "-b", BUREAU, "-i", str(source), "-o", str(tmp_path / "o.csv")]
    line = one_line_error(runner.invoke(app, args))
    assert "model_card.json" in line and words in line, line
    assert not (tmp_path / "o.csv").exists()
