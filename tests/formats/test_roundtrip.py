"""Every codec gives back exactly what it wrote, for every record type."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bureau.errors import BureauError
from bureau.formats import CODECS, RECORDS, Codec, FeedError, get_codec, to_text
from bureau.formats.base import REJECT_COLUMNS

from .strategies import frames

# Header lines before the first record: JSON Lines has none, the others one.
FIRST_LINE = {"jsonl": 1, "csv_gb18030": 2, "fixed_width": 2}
ROUND_TRIP = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _round_trip(codec: Codec, record_type: str, frame: pd.DataFrame) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"feed{codec.suffix}"
        codec.write(path, record_type, frame, sender="银行001", month="2018-07")
        first = path.read_bytes()
        parsed = codec.read(path)
        # Same frame, same bytes: no timestamps, no ordering by hash.
        codec.write(path, record_type, frame, sender="银行001", month="2018-07")
        assert path.read_bytes() == first
    names = [spec.name for spec in RECORDS[record_type]]
    assert parsed.record_type == record_type
    pd.testing.assert_frame_equal(parsed.records[names], to_text(frame, record_type))
    assert list(parsed.records.columns) == [*names, "line", "raw"]
    start = FIRST_LINE[codec.name]
    assert parsed.records["line"].tolist() == list(range(start, start + len(frame)))
    assert parsed.records["raw"].notna().all()
    assert parsed.rejects.empty
    assert list(parsed.rejects.columns) == list(REJECT_COLUMNS)


@pytest.mark.parametrize("record_type", list(RECORDS))
@ROUND_TRIP
@given(data=st.data())
def test_jsonl_round_trip(record_type: str, data: st.DataObject) -> None:
    frame = data.draw(frames(record_type, min_size=1))
    _round_trip(CODECS["jsonl"], record_type, frame)
    # One bad line sends the whole file down the line-by-line path: same records.
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "feed.jsonl"
        CODECS["jsonl"].write(path, record_type, frame, sender="B", month="2018-07")
        path.write_bytes(b"oops\n" + path.read_bytes())
        parsed = CODECS["jsonl"].read(path)
    names = [spec.name for spec in RECORDS[record_type]]
    pd.testing.assert_frame_equal(parsed.records[names], to_text(frame, record_type))
    assert parsed.records["line"].tolist() == list(range(2, len(frame) + 2))
    assert parsed.rejects[["line", "rule_id"]].to_numpy().tolist() == [[1, "P001"]]


@pytest.mark.parametrize("record_type", list(RECORDS))
@ROUND_TRIP
@given(data=st.data())
def test_csv_gb18030_round_trip(record_type: str, data: st.DataObject) -> None:
    frame = data.draw(frames(record_type))
    _round_trip(CODECS["csv_gb18030"], record_type, frame)


@pytest.mark.parametrize("record_type", list(RECORDS))
@ROUND_TRIP
@given(data=st.data())
def test_fixed_width_round_trip(record_type: str, data: st.DataObject) -> None:
    frame = data.draw(frames(record_type))
    _round_trip(CODECS["fixed_width"], record_type, frame)


def test_registry() -> None:
    assert set(CODECS) == {"jsonl", "csv_gb18030", "fixed_width"}
    for name, codec in CODECS.items():
        assert codec.name == name
        assert get_codec(name) is codec
    assert {codec.suffix for codec in CODECS.values()} == {".jsonl", ".csv", ".dat"}
    with pytest.raises(BureauError, match="unknown intake format 'xml'"):
        get_codec("xml")


def _tradelines(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "furnisher": pd.Series(["BANK01", "平台"] * (n // 2), dtype="string"),
            "account_ref": pd.Series([f"A{i:08d}" for i in range(n)], dtype="string"),
            "product": pd.Series(["消费贷"] * n, dtype="string"),
            "report_month": pd.Series(["2018-07"] * n, dtype="string"),
            "opened": pd.Series(["2017-01"] * n, dtype="string"),
            "term_months": pd.array(rng.integers(1, 360, n), "Int64"),
            "amount": pd.array(rng.integers(0, 10**12, n), "Int64"),
            "balance": pd.array(rng.integers(0, 10**12, n), "Int64"),
            "payment": pd.array(rng.integers(0, 10**6, n), "Int64"),
            "status": pd.Series(["N"] * n, dtype="string"),
            "name": pd.Series(["张三", None] * (n // 2), dtype="string"),
            "national_id": pd.Series(["11010519491231002X"] * n, dtype="string"),
            "phone": pd.Series([None] * n, dtype="string"),
        }
    )


@pytest.mark.parametrize("name", list(CODECS))
def test_many_records_round_trip(tmp_path: Path, name: str) -> None:
    # Big enough to cross pyarrow's block boundaries; the fixed-width control total of
    # 20,000 amounts below 10**12 exceeds nothing, but is summed exactly.
    codec = CODECS[name]
    frame = _tradelines(20_000)
    path = tmp_path / f"feed{codec.suffix}"
    codec.write(path, "tradeline", frame, sender="BANK01", month="2018-07")
    parsed = codec.read(path)
    pd.testing.assert_frame_equal(parsed.records[list(frame.columns)], to_text(frame, "tradeline"))
    assert parsed.rejects.empty


def test_fixed_width_header_and_control_total(tmp_path: Path) -> None:
    frame = _tradelines(4)
    path = tmp_path / "feed.dat"
    CODECS["fixed_width"].write(path, "tradeline", frame, sender="银行001", month="2018-07")
    header = CODECS["fixed_width"].read(path).header
    total = int(frame["balance"].sum())
    assert header == {
        "record_type_code": "TL",
        "sender": "银行001",
        "month": "2018-07",
        "record_count": "4",
        "control_total": str(total),
        "control_total_checked": "yes",
    }
    lines = path.read_bytes().split(b"\n")
    assert {len(line) for line in lines[:-1]} == {279}
    assert lines[-1] == b""


def test_fixed_width_control_total_is_modulo_10_18(tmp_path: Path) -> None:
    frame = _tradelines(2)
    frame["balance"] = pd.array([10**13, -1], "Int64")
    path = tmp_path / "feed.dat"
    CODECS["fixed_width"].write(path, "tradeline", frame, sender="B", month="2018-07")
    assert CODECS["fixed_width"].read(path).header["control_total"] == str(10**13 - 1)
    frame["balance"] = pd.array([-1, None], "Int64")
    CODECS["fixed_width"].write(path, "tradeline", frame, sender="B", month="2018-07")
    assert CODECS["fixed_width"].read(path).header["control_total"] == str(10**18 - 1)


def test_writers_refuse_what_their_format_cannot_hold(tmp_path: Path) -> None:
    frame = _tradelines(2)
    with pytest.raises(FeedError, match="cannot be empty") as empty:
        CODECS["jsonl"].write(
            tmp_path / "a.jsonl", "tradeline", frame.iloc[:0], sender="B", month="2018-07"
        )
    assert "a.jsonl" in str(empty.value)
    broken = frame.assign(name=pd.Series(["张\n三", "李四"], dtype="string"))
    for name in ("csv_gb18030", "fixed_width"):
        with pytest.raises(FeedError, match="line break") as error:
            CODECS[name].write(tmp_path / "b", "tradeline", broken, sender="B", month="2018-07")
        assert (error.value.row, error.value.field) == (1, "name")
    too_long = frame.assign(name=pd.Series(["张" * 21, None], dtype="string"))
    with pytest.raises(FeedError, match="does not fit in 40 bytes") as error:
        CODECS["fixed_width"].write(
            tmp_path / "c.dat", "tradeline", too_long, sender="B", month="2018-07"
        )
    assert (error.value.row, error.value.field) == (1, "name")
    with pytest.raises(FeedError, match="does not fit in 20 bytes"):
        CODECS["fixed_width"].write(
            tmp_path / "d.dat", "tradeline", frame, sender="银" * 11, month="2018-07"
        )
    with pytest.raises(FeedError, match="not YYYY-MM"):
        CODECS["fixed_width"].write(
            tmp_path / "e.dat", "tradeline", frame, sender="B", month="2018-13"
        )
    for codec in CODECS.values():
        with pytest.raises(FeedError, match="unknown record type 'loan'"):
            codec.write(tmp_path / "f", "loan", frame, sender="B", month="2018-07")


@pytest.mark.parametrize("name", list(CODECS))
def test_unusual_text_round_trips(tmp_path: Path, name: str) -> None:
    codec = CODECS[name]
    frame = _tradelines(6)
    # Four-byte GB18030 characters (emoji, CJK extension B), a tab, JSON's special characters.
    names = ["😀😀", "𠀀张", "a\tb", 'q"\\,', "€ uro", " lead"]
    if name == "jsonl":
        # A line separator is text to JSON; a control character (a line break among them) is
        # refused by every writer, since every reader rejects it.
        names[4] = "line\u2028separator"
    frame["name"] = pd.Series(names, dtype="string")
    path = tmp_path / f"feed{codec.suffix}"
    codec.write(path, "tradeline", frame, sender="B", month="2018-07")
    parsed = codec.read(path)
    assert parsed.records["name"].tolist() == names
    assert parsed.rejects.empty
