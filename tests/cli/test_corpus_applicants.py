"""A standing corpus of bad applicant files, each given to ``bureau score RUN --input``.

A file that cannot be read at all ends with exit status 2 and one line naming the file (and
the row or column); a file with some bad rows is scored, its bad rows going to the reject file
with their row, column and reason. Either way the input is left as it was, no temporary file
stays behind, and a failure writes no output and records no inquiry.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from bureau.cli.main import app
from tests.cli.helpers import BUREAU, assert_rejects, files_in, one_line_error

pytestmark = pytest.mark.slow

runner = CliRunner()


@dataclass(frozen=True)
class Case:
    """A bad input, and what must come of it.

    ``make`` writes the input into a directory from good applicants and returns its path.
    ``error`` holds the words of the one-line error (exit 2); ``rejects`` the rejected rows
    as ``(row, column, words of the reason)`` (exit 0, the other rows scored).
    """

    name: str
    make: Callable[[Path, pd.DataFrame], Path]
    error: list[str] = field(default_factory=list)
    rejects: list[tuple[int, str, str]] = field(default_factory=list)
    args: tuple[str, ...] = ()


def _csv(frame: pd.DataFrame, directory: Path, name: str = "in.csv", **options) -> Path:
    path = directory / name
    frame.to_csv(path, index=False, **options)
    return path


def _bytes(directory: Path, data: bytes, name: str = "in.csv") -> Path:
    path = directory / name
    path.write_bytes(data)
    return path


def _edit(rows: dict[int, dict[str, object]]) -> Callable[[Path, pd.DataFrame], Path]:
    """Applicants with some values replaced (rows 0-based, as the file's rows 1-based)."""

    def make(directory: Path, good: pd.DataFrame) -> Path:
        frame = good.copy()
        for row, values in rows.items():
            for column, value in values.items():
                frame.loc[row, column] = value
        return _csv(frame, directory)

    return make


def _lines(change: Callable[[list[bytes]], list[bytes]]) -> Callable[[Path, pd.DataFrame], Path]:
    """Applicants as CSV lines (header first), changed."""

    def make(directory: Path, good: pd.DataFrame) -> Path:
        lines = good.to_csv(index=False).encode("utf-8").splitlines(keepends=True)
        return _bytes(directory, b"".join(change(lines)))

    return make


def _gbk(lines: list[bytes]) -> list[bytes]:
    return [*lines[:2], lines[2].decode().encode("gb18030"), *lines[3:]]


def _parquet(frame: pd.DataFrame, directory: Path) -> Path:
    path = directory / "in.parquet"
    frame.to_parquet(path)
    return path


def _truncated_parquet(directory: Path, good: pd.DataFrame) -> Path:
    path = _parquet(good, directory)
    path.write_bytes(path.read_bytes()[:-40])
    return path


def _directory(directory: Path, good: pd.DataFrame) -> Path:
    path = directory / "in.csv"
    path.mkdir()
    return path


HEADER = b"applicant_id,national_id,name,birth_date,phone\n"

CASES = [
    Case(
        "UTF-16 file",
        lambda d, g: _bytes(d, g.to_csv(index=False).encode("utf-16")),
        error=["in.csv: row 0:", "not valid UTF-8"],
    ),
    Case("one row in GB18030", _lines(_gbk), rejects=[(2, "", "not valid UTF-8")]),
    Case(
        "missing column",
        lambda d, g: _csv(g.drop(columns="phone"), d),
        error=["in.csv: missing required columns: phone"],
    ),
    Case(
        "bad identity number",
        _edit({0: {"national_id": "110105199001011234"}}),
        rejects=[(1, "national_id", "wrong check character")],
    ),
    Case(
        "no identity number is valid",
        lambda d, g: _csv(g.assign(national_id="11010519900101"), d),
        error=["in.csv: nothing could be scored", "row 1, national_id", "not 18 characters"],
    ),
    Case(
        "impossible birth month",
        _edit({3: {"birth_date": "1990-13-01"}}),
        rejects=[(4, "birth_date", "not a possible birth date")],
    ),
    Case(
        "impossible month asked for",
        lambda d, g: _csv(g, d),
        error=["--as-of: '2019-13' is not a month"],
        args=("--as-of", "2019-13"),
    ),
    Case("empty file", lambda d, g: _bytes(d, b""), error=["in.csv: empty file"]),
    Case(
        "header only",
        lambda d, g: _bytes(d, HEADER),
        error=["in.csv: nothing could be scored: the file has no data rows"],
    ),
    Case(
        "NUL byte in the header",
        lambda d, g: _bytes(d, HEADER.replace(b"phone", b"ph\x00one") + b"A1,1,2,3,4\n"),
        error=["in.csv: row 0:", "NUL byte"],
    ),
    Case(
        "NUL byte in a value",
        _lines(lambda ls: [*ls[:5], ls[5].replace(b",", b"\x00,", 1), *ls[6:]]),
        rejects=[(5, "applicant_id", "control character")],
    ),
    Case(
        "huge value",
        _edit({1: {"name": "x" * 2_000_000}}),
        rejects=[(2, "name", "longer than 20 characters")],
    ),
    Case("duplicate rows", lambda d, g: _csv(pd.concat([g, g]), d)),
    Case(
        "semicolons",
        lambda d, g: _csv(g, d, sep=";"),
        error=["in.csv: missing required columns", "separated by ';'"],
    ),
    Case(
        "a row with too few fields",
        _lines(lambda ls: [*ls[:7], b"A7,110105199001011232\n", *ls[8:]]),
        rejects=[(7, "", "2 fields where the header has 5")],
    ),
    Case(
        "repeated column",
        lambda d, g: _bytes(d, b"national_id,national_id,name,birth_date,phone\n1,2,3,4,5\n"),
        error=["in.csv: row 0: the header row has empty or repeated column names"],
    ),
    Case(
        "truncated Parquet",
        _truncated_parquet,
        error=["in.parquet: not a readable Parquet file"],
    ),
    Case(
        "nested Parquet column",
        lambda d, g: _parquet(g.assign(name=[{"given": "x"}] * len(g)), d),
        error=["in.parquet: name: holds struct"],
    ),
    Case(
        "numbers for identity numbers",
        lambda d, g: _parquet(g.assign(national_id=range(len(g))), d),
        error=["in.parquet: nothing could be scored", "row 1, national_id"],
    ),
    Case("a directory", _directory, error=["in.csv: is a directory"]),
    Case("no such file", lambda d, g: d / "missing.csv", error=["missing.csv: no such file"]),
    Case(
        "unknown file type", lambda d, g: _bytes(d, HEADER, "in.xlsx"), error=["unknown file type"]
    ),
]


def _inquiries(run: Path) -> int:
    with sqlite3.connect(run / "db" / f"{BUREAU}.db") as conn:
        return conn.execute("SELECT count(*) FROM inquiries").fetchone()[0]


def test_the_good_file_scores(run: Path, applicants: pd.DataFrame, tmp_path: Path) -> None:
    source = _csv(applicants, tmp_path)
    out = tmp_path / "scores.csv"
    result = runner.invoke(
        app, ["score", str(run), "-b", BUREAU, "-i", str(source), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(out)
    assert len(scores) == len(applicants) and (scores["match_status"] == "matched").any()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_bad_applicant_file_is_named_and_changes_nothing(
    run: Path, applicants: pd.DataFrame, tmp_path: Path, case: Case
) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    source = case.make(inputs, applicants)
    before = files_in(inputs)
    out = tmp_path / "out"
    out.mkdir()
    output = out / "scores.csv"
    asked = _inquiries(run)
    args = ["score", str(run), "-b", BUREAU, "-i", str(source), "-o", str(output), *case.args]
    result = runner.invoke(app, args)
    assert "Traceback" not in result.output
    assert files_in(inputs) == before
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    rejects = out / "scores.csv.rejects.csv"
    if case.error:
        line = one_line_error(result)
        assert all(w in line for w in case.error), line
        assert not output.exists() and _inquiries(run) == asked
        assert rejects.exists() == ("rejects.csv" in line)
        return
    assert result.exit_code == 0, result.output
    assert output.is_file()
    if not case.rejects:
        assert not rejects.exists()
        return
    assert_rejects(rejects, case.rejects)
    scored = pd.read_csv(output)
    rejected = {row for row, _, _ in case.rejects}
    assert sorted(scored["row"]) == sorted(set(range(1, len(applicants) + 1)) - rejected)
