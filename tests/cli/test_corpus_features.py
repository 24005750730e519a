"""A standing corpus of bad feature tables, each given to ``bureau score --model --features``.

A table that cannot be read at all ends with exit status 2 and one line naming the file (and
the row or column); a table with some bad rows is scored, its bad rows going to the reject
file with their row, column and reason. Either way the input and the model are left as they
were, no temporary file stays behind, and a failure writes no output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from bureau.cli.main import app
from tests.cli.helpers import (
    BUREAU,
    MODELS,
    assert_rejects,
    feature_frame,
    files_in,
    one_line_error,
)

runner = CliRunner()
MODEL = MODELS / BUREAU
FIRST = feature_frame().columns[1]  # the model's first feature


@dataclass(frozen=True)
class Case:
    """A bad feature table, and what must come of it (see the applicants' corpus)."""

    name: str
    make: Callable[[Path, pd.DataFrame], Path]
    error: list[str] = field(default_factory=list)
    rejects: list[tuple[int, str, str]] = field(default_factory=list)
    warning: str = ""


def _csv(frame: pd.DataFrame, directory: Path, **options) -> Path:
    path = directory / "features.csv"
    frame.to_csv(path, index=False, **options)
    return path


def _parquet(frame: pd.DataFrame | pa.Table, directory: Path) -> Path:
    path = directory / "features.parquet"
    table = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame)
    pq.write_table(table, path, row_group_size=5)
    return path


def _set(rows: dict[int, object], column: str = FIRST, parquet: bool = False):
    """Features with some values of a column replaced (rows 0-based)."""

    def make(directory: Path, good: pd.DataFrame) -> Path:
        frame = good.astype({column: object})
        for row, value in rows.items():
            frame.loc[row, column] = value
        if parquet:
            return _parquet(frame.astype({column: float}), directory)
        return _csv(frame, directory)

    return make


def _damaged(at: Callable[[int], int]) -> Callable[[Path, pd.DataFrame], Path]:
    """A Parquet file with 64 bytes overwritten at ``at(size)``."""

    def make(directory: Path, good: pd.DataFrame) -> Path:
        path = directory / "features.parquet"
        good.to_parquet(path)
        data = bytearray(path.read_bytes())
        start = at(len(data))
        data[start : start + 64] = bytes(range(64))
        path.write_bytes(bytes(data))
        return path

    return make


def _bytes(directory: Path, data: bytes, name: str = "features.csv") -> Path:
    path = directory / name
    path.write_bytes(data)
    return path


CASES = [
    Case(
        "missing feature column",
        lambda d, g: _csv(g.drop(columns=FIRST), d),
        error=[f"features.csv: missing required columns: {FIRST}"],
    ),
    Case("text in a number column", _set({2: "many"}), rejects=[(3, FIRST, "not a number")]),
    Case(
        "a text column in Parquet",
        lambda d, g: _parquet(g.astype({FIRST: str}).assign(**{FIRST: "x"}), d),
        error=["features.parquet: nothing could be scored", f"row 1, {FIRST}: not a number"],
    ),
    Case(
        "a boolean column in Parquet",
        lambda d, g: _parquet(g.assign(**{FIRST: True}), d),
        error=["features.parquet: nothing could be scored", f"row 1, {FIRST}: not a number"],
    ),
    Case("infinity", _set({4: "inf"}), rejects=[(5, FIRST, "not a finite number")]),
    Case(
        "infinity in Parquet",
        _set({0: np.inf}, parquet=True),
        rejects=[(1, FIRST, "not a finite number")],
    ),
    Case("a number too large for a float", _set({6: "9" * 400}), rejects=[(7, FIRST, "finite")]),
    Case("NaN is missing", _set({1: np.nan}, parquet=True)),
    Case("'nan' is missing", _set({1: "nan"})),
    Case("impossible value", _set({5: "200"}, "age"), rejects=[(6, "age", "impossible value")]),
    Case("negative count", _set({0: "-1"}), rejects=[(1, FIRST, "impossible value")]),
    Case(
        "extra columns",
        lambda d, g: _csv(g.assign(colour="blue"), d),
        warning="unknown columns ignored: colour",
    ),
    Case("empty file", lambda d, g: _bytes(d, b""), error=["features.csv: empty file"]),
    Case(
        "header only",
        lambda d, g: _csv(g.head(0), d),
        error=["features.csv: nothing could be scored: the file has no data rows"],
    ),
    Case(
        "empty Parquet",
        lambda d, g: _parquet(g.head(0), d),
        error=["features.parquet: nothing could be scored: the file has no data rows"],
    ),
    Case(
        "truncated Parquet",
        lambda d, g: _bytes(d, _parquet(g, d).read_bytes()[:500], "features.parquet"),
        error=["features.parquet: not a readable Parquet file"],
    ),
    Case(
        "damaged Parquet data",
        _damaged(lambda size: 100),
        error=["features.parquet: damaged Parquet data"],
    ),
    Case(
        "damaged Parquet footer",
        _damaged(lambda size: size - 200),
        error=["features.parquet: not a readable Parquet file"],
    ),
    Case(
        "nested Parquet column",
        lambda d, g: _parquet(g.assign(**{FIRST: [[1.0]] * len(g)}), d),
        error=[f"features.parquet: {FIRST}: holds list"],
    ),
    Case(
        "NUL byte in an identifier",
        _set({3: "A\x003"}, "applicant_id"),
        rejects=[(4, "applicant_id", "control character")],
    ),
    Case(
        "semicolons",
        lambda d, g: _csv(g, d, sep=";"),
        error=["features.csv: missing required columns", "separated by ';'"],
    ),
    Case(
        "header not UTF-8",
        lambda d, g: _bytes(d, b"\xff\xfe" + g.to_csv(index=False).encode()),
        error=["features.csv: row 0:", "not valid UTF-8"],
    ),
    Case("unknown file type", lambda d, g: _bytes(d, b"a,b\n", "f.xlsx"), error=["unknown file"]),
]


@pytest.fixture(scope="module")
def good() -> pd.DataFrame:
    return feature_frame(rows=12)


def test_the_good_table_scores_and_nan_is_missing(good: pd.DataFrame, tmp_path: Path) -> None:
    blank = good.astype({FIRST: object})
    blank.loc[1, FIRST] = None
    source = _csv(blank, tmp_path)
    out = tmp_path / "scores.csv"
    args = ["score", "--model", str(MODEL), "--features", str(source), "-o", str(out)]
    assert runner.invoke(app, args).exit_code == 0
    missing = pd.read_csv(out)
    assert len(missing) == len(good)
    for case in ("NaN is missing", "'nan' is missing"):
        made = next(c for c in CASES if c.name == case).make(tmp_path, good)
        args = ["score", "--model", str(MODEL), "--features", str(made), "-o", str(out)]
        assert runner.invoke(app, args).exit_code == 0
        pd.testing.assert_frame_equal(pd.read_csv(out), missing)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_bad_feature_table_is_named_and_changes_nothing(
    good: pd.DataFrame, tmp_path: Path, case: Case
) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    source = case.make(inputs, good)
    before, model = files_in(inputs), files_in(MODEL)
    out = tmp_path / "out"
    out.mkdir()
    output = out / "scores.csv"
    args = ["score", "--model", str(MODEL), "--features", str(source), "-o", str(output)]
    result = runner.invoke(app, args)
    assert "Traceback" not in result.output
    assert files_in(inputs) == before and files_in(MODEL) == model
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    rejects = out / "scores.csv.rejects.csv"
    if case.error:
        line = one_line_error(result)
        assert all(w in line for w in case.error), line
        assert not output.exists()
        assert rejects.exists() == ("rejects.csv" in line)
        return
    assert result.exit_code == 0, result.output
    assert output.is_file()
    warnings = [line for line in result.stderr.splitlines() if line.strip()]
    assert warnings == ([f"warning: {source}: {case.warning}"] if case.warning else [])
    if not case.rejects:
        assert not rejects.exists()
        assert len(pd.read_csv(output)) == len(good)
        return
    assert_rejects(rejects, case.rejects)
    assert len(pd.read_csv(output)) == len(good) - len(case.rejects)
