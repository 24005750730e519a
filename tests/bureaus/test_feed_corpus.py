"""Bad feed trees and files, as ``bureau ingest`` meets them: a standing corpus.

Each case takes a few good months of one bureau's feeds, adds or breaks one thing, and runs
``bureau ingest`` on it. It must exit 0 with one warning line naming the culprit (a bad file
or entry among good ones), or with the bad record rejected under its rule id, or exit 2 with a
one-line error (a user error); every good file must load exactly as it does alone, and a second
ingestion must change nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from bureau import load_scenario
from bureau.cli.main import app
from bureau.formats.fixed_width_layout import layout
from bureau.layout import RunLayout
from bureau.pipeline import run_stages
from bureau.store.credit_file import (
    Consumer,
    Inquiry,
    LoadedFile,
    PublicRecord,
    Reject,
    Signal,
    Tradeline,
    TradelineMonth,
)

runner = CliRunner()
# One bureau of each intake format, and the good months each case starts from.
FORMATS = {"jsonl": "sesame", "csv_gb18030": "qianhai", "fixed_width": "pengyuan"}
MONTHS = ["2017-07", "2017-08", "2017-09"]
SUFFIX = {"jsonl": ".jsonl", "csv_gb18030": ".csv", "fixed_width": ".dat"}
TABLES = (Consumer, Tradeline, TradelineMonth, Inquiry, PublicRecord, Signal, LoadedFile, Reject)


@dataclass(frozen=True)
class Case:
    """One bad input: what to do to the good feeds, and what ``bureau ingest`` must say."""

    name: str
    bureau: str
    build: Callable[[Path], None]
    #: The exit code of ``bureau ingest``.
    code: int = 0
    #: What the one warning (exit 0) or error (exit 2) line must match, if any.
    message: str | None = None
    #: The one record rejected: (file, line, rule id).
    reject: tuple[str, int, str] | None = None
    #: Whether to load the good feeds first (the case is about a second delivery).
    loaded_first: bool = False


# ------------------------------------------------------------------------------ the runs


@pytest.fixture(scope="module")
def base_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A run of 300 persons (world and feeds) per bureau of :data:`FORMATS`, that one alone."""
    runs = {}
    for bureau in FORMATS.values():
        off = {f"bureaus.{b}.enabled": False for b in load_scenario("small").bureaus if b != bureau}
        # No copies sent twice: each case's file rejects only what the case put in it.
        clean = {f"bureaus.{bureau}.defects.duplicate": 0.0}
        scn = load_scenario(
            "small", {"population.persons": 300, "population.chunk_size": 300, **off, **clean}
        )
        out = tmp_path_factory.mktemp("feed_corpus") / bureau
        run_stages(out, scn, stages=["world", "furnish"], workers=1)
        feeds = out / "feeds" / bureau
        for month in sorted(p.name for p in feeds.iterdir()):
            if month not in MONTHS:
                shutil.rmtree(feeds / month)
        runs[bureau] = out
    return runs


def _copy_run(base: Path, to: Path) -> Path:
    shutil.copytree(base, to, ignore=shutil.ignore_patterns("db", "report"))
    return to


def _ingest(run: Path, bureau: str) -> tuple[int, str, dict]:
    result = runner.invoke(app, ["ingest", str(run), "--bureau", bureau, "--json", "-w", "1"])
    payload = json.loads(result.stdout) if result.exit_code == 0 else {}
    return result.exit_code, result.stderr, payload


def _held(run: Path, bureau: str) -> dict[str, pd.DataFrame]:
    """What a credit file holds, by natural keys (consumer numbers depend on load order)."""
    engine = RunLayout(run).bureau_engine(bureau)
    with engine.connect() as conn:
        held = {
            "files": pd.read_sql(
                select(
                    LoadedFile.file,
                    LoadedFile.sha256,
                    LoadedFile.rows_loaded,
                    LoadedFile.rows_rejected,
                ),
                conn,
            ),
            "months": pd.read_sql(
                select(
                    Tradeline.furnisher,
                    Tradeline.account_ref,
                    TradelineMonth.month,
                    TradelineMonth.arrival,
                    TradelineMonth.status,
                    TradelineMonth.balance,
                    TradelineMonth.payment,
                ).join(Tradeline, Tradeline.tradeline_id == TradelineMonth.tradeline_id),
                conn,
            ),
            "inquiries": pd.read_sql(
                select(Inquiry.furnisher, Inquiry.inquiry_ref, Inquiry.month, Inquiry.approved),
                conn,
            ),
            "records": pd.read_sql(
                select(
                    PublicRecord.furnisher,
                    PublicRecord.record_ref,
                    PublicRecord.filed,
                    PublicRecord.ended,
                ),
                conn,
            ),
            "rejects": pd.read_sql(
                select(Reject.file, Reject.line, Reject.rule_id, Reject.action, Reject.message),
                conn,
            ),
            "counts": pd.DataFrame(
                {
                    t.__tablename__: [
                        conn.execute(select(func.count()).select_from(t)).scalar_one()
                    ]
                    for t in TABLES
                }
            ),
        }
    engine.dispose()
    return held


@pytest.fixture(scope="module")
def reference(base_runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Each bureau's credit file of the good feeds alone."""
    held = {}
    for bureau, base in base_runs.items():
        run = _copy_run(base, tmp_path_factory.mktemp("reference") / bureau)
        code, err, _ = _ingest(run, bureau)
        assert code == 0 and err == "", err
        held[bureau] = _held(run, bureau)
    return held


def _contains(whole: pd.DataFrame, part: pd.DataFrame) -> bool:
    """Whether every row of ``part`` is a row of ``whole``."""
    if part.empty:
        return True
    merged = part.astype(str).merge(whole.astype(str), how="left", indicator=True)
    return bool((merged["_merge"] == "both").all())


# ------------------------------------------------------------------------------ builders


def _first(root: Path, suffix: str, kind: str = "tradeline") -> Path:
    """The first good file of a record type in the first month that has one."""
    return sorted(root.glob(f"*/*.{kind}{suffix}"))[0]


def _variant(
    suffix: str, transform: Callable[[list[bytes]], list[bytes]], name: str = "zz_case"
) -> Callable[[Path], None]:
    """Add, beside the first tradeline file, a copy of it with its lines transformed."""

    def build(root: Path) -> None:
        source = _first(root, suffix)
        lines = source.read_bytes().split(b"\n")
        target = source.with_name(f"{name}.tradeline{suffix}")
        target.write_bytes(b"\n".join(transform(lines)))

    return build


def _new_file(relative: str, content: bytes) -> Callable[[Path], None]:
    def build(root: Path) -> None:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)

    return build


def _put(index: int, value: bytes) -> Callable[[list[bytes]], list[bytes]]:
    def transform(lines: list[bytes]) -> list[bytes]:
        return [*lines[:index], value, *lines[index + 1 :]]

    return transform


def _edit(index: int, edit: Callable[[bytes], bytes]) -> Callable[[list[bytes]], list[bytes]]:
    def transform(lines: list[bytes]) -> list[bytes]:
        changed = edit(lines[index])
        assert changed != lines[index]
        return [*lines[:index], changed, *lines[index + 1 :]]

    return transform


def _sub(pattern: bytes, replacement: bytes) -> Callable[[bytes], bytes]:
    return lambda line: re.sub(pattern, replacement, line, count=1)


def _month_of_first(root: Path, suffix: str) -> str:
    return _first(root, suffix).parent.name


# ------------------------------------------------------------------------------ feed trees

TREE = "sesame"


def _copy_into(relative: str) -> Callable[[Path], None]:
    """A copy of a good file under another name or folder."""

    def build(root: Path) -> None:
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(_first(root, ".jsonl"), target)

    return build


def _in_first_month(make: Callable[[Path, Path], None]) -> Callable[[Path], None]:
    def build(root: Path) -> None:
        good = _first(root, ".jsonl")
        make(good.parent, good)

    return build


def _no_feeds(root: Path) -> None:
    shutil.rmtree(root)


def _feeds_a_file(root: Path) -> None:
    shutil.rmtree(root)
    root.write_text("not a directory\n")


def _changed_delivery(root: Path) -> None:
    good = _first(root, ".jsonl")
    text = good.read_text(encoding="utf-8")
    good.write_text(re.sub(r'"balance":"[^"]+"', '"balance":"1.00"', text), encoding="utf-8")


TREE_CASES = [
    Case(
        "stray folder",
        TREE,
        _copy_into("notes/a.tradeline.jsonl"),
        message=r"notes: not a month folder",
    ),
    Case(
        "month folder 13",
        TREE,
        _copy_into("2018-13/a.tradeline.jsonl"),
        message=r"2018-13: not a month folder",
    ),
    Case(
        "month folder of one digit",
        TREE,
        _copy_into("2018-1/a.tradeline.jsonl"),
        message=r"2018-1: not a month folder",
    ),
    Case(
        "month folder 00",
        TREE,
        _copy_into("2018-00/a.tradeline.jsonl"),
        message=r"2018-00: not a month folder",
    ),
    Case(
        "month outside the calendar",
        TREE,
        _copy_into("2031-01/a.tradeline.jsonl"),
        message=r"2031-01: a month outside the run's calendar \(2017-07 to 2020-06\)",
    ),
    Case(
        "file outside month folders",
        TREE,
        _copy_into("a.tradeline.jsonl"),
        message=r"a\.tradeline\.jsonl: not in a month folder",
    ),
    Case(
        "directory named like a feed",
        TREE,
        _in_first_month(lambda month, good: (month / "x.tradeline.jsonl").mkdir()),
        message=r"\d{4}-\d{2}/x\.tradeline\.jsonl: a directory, not a feed file",
    ),
    Case(
        ".json for .jsonl",
        TREE,
        _in_first_month(lambda month, good: shutil.copy(good, month / "a.json")),
        message=r"\d{4}-\d{2}/a\.json: not a \.jsonl file",
    ),
    Case(
        "upper-case suffix",
        TREE,
        _in_first_month(lambda month, good: shutil.copy(good, month / "a.JSONL")),
        message=r"\d{4}-\d{2}/a\.JSONL: not a \.jsonl file",
    ),
    Case(
        ".txt",
        TREE,
        _in_first_month(lambda month, good: shutil.copy(good, month / "notes.txt")),
        message=r"\d{4}-\d{2}/notes\.txt: not a \.jsonl file",
    ),
    Case(
        "symbolic link to a feed",
        TREE,
        _in_first_month(lambda month, good: (month / "link.tradeline.jsonl").symlink_to(good)),
        message=r"\d{4}-\d{2}/link\.tradeline\.jsonl: a symbolic link: not followed",
    ),
    Case(
        "dangling symbolic link",
        TREE,
        _in_first_month(
            lambda month, good: (month / "gone.tradeline.jsonl").symlink_to(month / "nowhere")
        ),
        message=r"\d{4}-\d{2}/gone\.tradeline\.jsonl: a symbolic link: not followed",
    ),
    Case(
        "symbolic link to a month folder",
        TREE,
        lambda root: (root / "2018-01").symlink_to(root / MONTHS[1], target_is_directory=True),
        message=r"2018-01: a symbolic link: not followed",
    ),
    Case(
        "FIFO",
        TREE,
        _in_first_month(lambda month, good: os.mkfifo(month / "pipe.tradeline.jsonl")),
        message=r"\d{4}-\d{2}/pipe\.tradeline\.jsonl: not a regular file",
    ),
    Case(
        "loaded file delivered again, changed",
        TREE,
        _changed_delivery,
        message=r"\d{4}-\d{2}/ant\.tradeline\.jsonl: changed since it was loaded in \d{4}-\d{2}",
        loaded_first=True,
    ),
    Case(
        "no feeds for the bureau",
        TREE,
        _no_feeds,
        code=2,
        message=r"no feeds for sesame: run bureau furnish first",
    ),
    Case("bureau feeds are a file", TREE, _feeds_a_file, code=2, message=r"no feeds for sesame"),
]

# ------------------------------------------------------------------------------ JSON Lines

JSONL_FILE = "zz_case.tradeline.jsonl"


def _jsonl(transform: Callable[[list[bytes]], list[bytes]]) -> Callable[[Path], None]:
    return _variant(".jsonl", transform)


JSONL_CASES = [
    Case("empty", "sesame", _jsonl(lambda lines: []), message=rf"{JSONL_FILE}: empty file"),
    Case(
        "binary garbage",
        "sesame",
        _jsonl(lambda lines: [b"\x89PNG\r\n\x1a\n\xff\xfe\x00"]),
        message=rf"{JSONL_FILE}: no valid JSON record in the file",
    ),
    Case(
        "UTF-16 throughout",
        "sesame",
        _jsonl(lambda lines: [b"\n".join(lines).decode("utf-8").encode("utf-16")]),
        message=rf"{JSONL_FILE}: no valid JSON record in the file",
    ),
    Case(
        "nested 100,000 deep",
        "sesame",
        _jsonl(_put(1, b"[" * 100_000 + b"]" * 100_000)),
        reject=(JSONL_FILE, 2, "P005"),
    ),
    Case(
        "truncated line",
        "sesame",
        _jsonl(_edit(1, lambda ln: ln[: len(ln) // 2])),
        reject=(JSONL_FILE, 2, "P001"),
    ),
    Case(
        "another record type",
        "sesame",
        _jsonl(_edit(1, _sub(rb'"type":"tradeline"', b'"type":"loan"'))),
        reject=(JSONL_FILE, 2, "P002"),
    ),
    Case(
        "repeated key",
        "sesame",
        _jsonl(_edit(1, _sub(rb'"status":', b'"status":"N","status":'))),
        reject=(JSONL_FILE, 2, "P003"),
    ),
    Case(
        "not UTF-8",
        "sesame",
        _jsonl(_edit(1, _sub(rb'"ant"', b'"\xff\xfe"'))),
        reject=(JSONL_FILE, 2, "P004"),
    ),
    Case(
        "raw NUL",
        "sesame",
        _jsonl(_edit(1, _sub(rb'"account_ref":"', b'"account_ref":"\x00'))),
        reject=(JSONL_FILE, 2, "P001"),
    ),
    Case(
        "month 13",
        "sesame",
        _jsonl(_edit(1, _sub(rb'"report_month":"[^"]+"', b'"report_month":"2017-13"'))),
        reject=(JSONL_FILE, 2, "V002"),
    ),
    Case(
        "account number too long",
        "sesame",
        _jsonl(_edit(1, _sub(rb'"account_ref":"', b'"account_ref":"' + b"X" * 40))),
        reject=(JSONL_FILE, 2, "V007"),
    ),
    Case(
        "negative balance",
        "sesame",
        _jsonl(_edit(1, _sub(rb'"balance":"[^"]+"', b'"balance":"-5.00"'))),
        reject=(JSONL_FILE, 2, "V004"),
    ),
]

# ------------------------------------------------------------------------------ CSV in GB18030

CSV_FILE = "zz_case.tradeline.csv"


def _csv(transform: Callable[[list[bytes]], list[bytes]]) -> Callable[[Path], None]:
    return _variant(".csv", transform)


def _gb(text: str) -> bytes:
    return text.encode("gb18030")


def _field(index: int, value: bytes) -> Callable[[bytes], bytes]:
    def edit(line: bytes) -> bytes:
        fields = line.split(b",")
        fields[index] = value
        return b",".join(fields)

    return edit


def _header(edit: Callable[[str], str]) -> Callable[[list[bytes]], list[bytes]]:
    return _edit(0, lambda line: _gb(edit(line.decode("gb18030"))))


CSV_CASES = [
    Case("empty", "qianhai", _csv(lambda lines: []), message=rf"{CSV_FILE}: empty file"),
    Case(
        "UTF-8 throughout",
        "qianhai",
        _csv(lambda lines: [ln.decode("gb18030").encode("utf-8") for ln in lines]),
        message=rf"{CSV_FILE}: row 1: the file is encoded in UTF-8, not GB18030",
    ),
    Case(
        "missing column",
        "qianhai",
        _csv(lambda lines: [b",".join(ln.split(b",")[:7] + ln.split(b",")[8:]) for ln in lines]),
        message=rf"{CSV_FILE}: row 1: 余额\(分\): missing required column\(s\) of tradeline",
    ),
    Case(
        "duplicate column",
        "qianhai",
        _csv(_header(lambda h: h.replace("账户状态", "账户编号"))),
        message=rf"{CSV_FILE}: row 1: 账户编号: duplicate column '账户编号'",
    ),
    Case(
        "undecodable bytes",
        "qianhai",
        _csv(_edit(2, lambda ln: ln + b"\xff\xfe")),
        message=rf"{CSV_FILE}: row 3: not GB18030: undecodable bytes at byte offset \d+",
    ),
    Case(
        "field of 33 MB",
        "qianhai",
        _csv(_edit(1, _field(1, b"X" * (33 << 20)))),
        reject=(CSV_FILE, 2, "C003"),
    ),
    Case(
        "NUL in a field",
        "qianhai",
        _csv(_edit(1, _field(1, b"A\x001"))),
        reject=(CSV_FILE, 2, "C004"),
    ),
    Case(
        "too many fields",
        "qianhai",
        _csv(_edit(1, lambda ln: ln + b",extra")),
        reject=(CSV_FILE, 2, "C001"),
    ),
    Case(
        "unterminated quote",
        "qianhai",
        _csv(_edit(1, _field(1, b'"A1'))),
        reject=(CSV_FILE, 2, "C002"),
    ),
    Case("month 13", "qianhai", _csv(_edit(1, _field(3, b"201713"))), reject=(CSV_FILE, 2, "V002")),
    Case(
        "unknown column",
        "qianhai",
        _csv(
            lambda lines: [
                ln + (_gb(",备注") if i == 0 else b",x") if ln else ln for i, ln in enumerate(lines)
            ]
        ),
        message=rf"{CSV_FILE}: column\(s\) 备注 unknown to the format: not loaded",
    ),
    Case(
        "bad product", "qianhai", _csv(_edit(1, _field(2, b"casino"))), reject=(CSV_FILE, 2, "V009")
    ),
]

# ------------------------------------------------------------------------------ fixed width

FW_FILE = "zz_case.tradeline.dat"
SLOTS = {slot.spec.name: slot for slot in layout("tradeline")[0]}


def _fw(transform: Callable[[list[bytes]], list[bytes]]) -> Callable[[Path], None]:
    return _variant(".dat", transform)


def _trailer(edit: Callable[[bytes], bytes]) -> Callable[[list[bytes]], list[bytes]]:
    def transform(lines: list[bytes]) -> list[bytes]:
        last = max(i for i, ln in enumerate(lines) if ln.startswith(b"T"))
        return [*lines[:last], edit(lines[last]), *lines[last + 1 :]]

    return transform


def _at(offset: int, value: bytes) -> Callable[[bytes], bytes]:
    return lambda line: line[:offset] + value + line[offset + len(value) :]


def _slot(name: str, value: bytes) -> Callable[[bytes], bytes]:
    """Put ``value`` at the start of a field's slot (padded to the slot's width)."""
    slot = SLOTS[name]
    return _at(slot.offset, value.ljust(slot.size))


def _count(t: bytes) -> bytes:
    return b"T%010d" % (int(t[1:11]) + 1) + t[11:]


def _total(t: bytes) -> bytes:
    return t[:11] + b"%018d" % (int(t[11:29]) + 1) + t[29:]


FW_CASES = [
    Case("empty", "pengyuan", _fw(lambda lines: []), message=rf"{FW_FILE}: empty file"),
    Case(
        "UTF-16 throughout",
        "pengyuan",
        _fw(lambda lines: [b"\n".join(lines).decode("gb18030").encode("utf-16")]),
        message=rf"{FW_FILE}: row 1: no header record: not a fixed-width feed",
    ),
    Case(
        "no trailer",
        "pengyuan",
        _fw(lambda lines: [ln for ln in lines if not ln.startswith(b"T")]),
        message=rf"{FW_FILE}: row \d+: no trailer record: the file is truncated",
    ),
    Case(
        "trailer count off by one",
        "pengyuan",
        _fw(_trailer(_count)),
        message=rf"{FW_FILE}: row \d+: the trailer counts \d+ records, the file has \d+",
    ),
    Case(
        "control total off by one",
        "pengyuan",
        _fw(_trailer(_total)),
        message=rf"{FW_FILE}: row \d+: balance: the trailer's control total of balance is \d+",
    ),
    Case(
        "unknown record type code",
        "pengyuan",
        _fw(_edit(0, _at(1, b"XX"))),
        message=rf"{FW_FILE}: row 1: unknown record type code 'XX'",
    ),
    Case(
        "short record", "pengyuan", _fw(_edit(1, lambda ln: ln[:100])), reject=(FW_FILE, 2, "F001")
    ),
    Case(
        "record of 33 MB",
        "pengyuan",
        _fw(_edit(1, lambda ln: ln + b" " * (33 << 20))),
        reject=(FW_FILE, 2, "F001"),
    ),
    Case(
        "not a detail record",
        "pengyuan",
        _fw(_edit(1, _at(0, b"X"))),
        reject=(FW_FILE, 2, "F002"),
    ),
    Case(
        "NUL in a field",
        "pengyuan",
        _fw(_edit(1, _at(SLOTS["account_ref"].offset + SLOTS["account_ref"].size - 1, b"\x00"))),
        reject=(FW_FILE, 2, "F003"),
    ),
    Case(
        "month 13",
        "pengyuan",
        _fw(_edit(1, _slot("report_month", b"201713"))),
        reject=(FW_FILE, 2, "V002"),
    ),
    Case("status ?", "pengyuan", _fw(_edit(1, _slot("status", b"?"))), reject=(FW_FILE, 2, "V008")),
]

CASES = TREE_CASES + JSONL_CASES + CSV_CASES + FW_CASES


def _id(case: Case) -> str:
    return f"{case.bureau}-{case.name}"


def test_the_corpus_is_large_enough() -> None:
    assert len(TREE_CASES) >= 10
    assert min(len(JSONL_CASES), len(CSV_CASES), len(FW_CASES)) >= 10
    assert len({_id(c) for c in CASES}) == len(CASES)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_bad_input(case: Case, base_runs: dict[str, Path], reference: dict, tmp_path: Path) -> None:
    run = _copy_run(base_runs[case.bureau], tmp_path / "run")
    root = run / "feeds" / case.bureau
    if case.loaded_first:
        assert _ingest(run, case.bureau)[0] == 0
    case.build(root)

    code, err, payload = _ingest(run, case.bureau)
    assert code == case.code, err
    assert "Traceback" not in err and "np." not in err and ".partial" not in err
    lines = err.splitlines()
    if case.code:
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        assert re.search(case.message, lines[0]), lines[0]
        return
    report = payload["bureaus"][case.bureau]
    # Files are named relative to the bureau's feeds, never by where the run lives.
    assert str(tmp_path) not in err
    if case.message is not None:
        assert len(lines) == 1, err
        assert lines[0].startswith(f"warning: {case.bureau}: "), lines[0]
        assert re.search(case.message, lines[0]), lines[0]
        named = [f["file"] for f in report["files_failed"]] + [i["path"] for i in report["ignored"]]
        assert len(named) == 1 and named[0] in lines[0]
    else:
        assert lines == [], err

    held = _held(run, case.bureau)
    rejects = held["rejects"]
    if case.reject is not None:
        file, line, rule = case.reject
        refused = rejects[(rejects["action"] == "rejected") & rejects["file"].str.endswith(file)]
        assert refused[["line", "rule_id"]].drop_duplicates().to_numpy().tolist() == [[line, rule]]
        assert refused["message"].str.contains("\n").sum() == 0
        assert report["by_rule"].get(rule, 0) >= 1

    # Nothing valid lost or changed: every good file loaded as it does alone.
    good = reference[case.bureau]
    for name in ("files", "months", "inquiries", "records"):
        assert _contains(held[name], good[name]), name

    # A second ingestion changes nothing.
    again_code, again_err, again = _ingest(run, case.bureau)
    assert again_code == 0 and again["bureaus"][case.bureau]["files_loaded"] == 0
    # The same warnings, but for a file loaded once: its notes were given then.
    assert set(again_err.splitlines()) <= set(lines)
    pd.testing.assert_frame_equal(_held(run, case.bureau)["counts"], held["counts"])
