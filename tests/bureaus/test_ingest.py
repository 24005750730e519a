"""Ingestion: loads that are whole or absent, reruns that change nothing, bad files handled."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

from bureau import load_scenario
from bureau.bureaus import ingest as ingest_module
from bureau.bureaus.features import read_file
from bureau.bureaus.ingest import ingest_bureau
from bureau.formats.schema import label_months
from bureau.layout import RunLayout
from bureau.store.credit_file import (
    Consumer,
    LoadedFile,
    PublicRecord,
    Reject,
    Signal,
    Tradeline,
    TradelineMonth,
)
from bureau.store.reports import monthly_reports

CORPUS = Path(__file__).parents[1] / "formats" / "corpus"
TABLES = (Consumer, Tradeline, TradelineMonth, Signal, LoadedFile, Reject)


def counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.__tablename__: conn.execute(select(func.count()).select_from(t)).scalar()
            for t in TABLES
        }


@pytest.mark.slow
def test_second_ingest_changes_nothing(small_run) -> None:
    engine = RunLayout(small_run.path).bureau_engine("sesame")
    before = counts(engine)
    assert before["tradelines"] > 0 and before["signals"] > 0
    report = ingest_bureau(small_run.scenario, small_run.path / "feeds", "sesame", engine)
    assert report.files_loaded == 0 and report.files_skipped == before["loaded_files"]
    assert counts(engine) == before


@pytest.mark.slow
def test_payment_history_reflects_the_monthly_reports(small_run) -> None:
    engine = RunLayout(small_run.path).bureau_engine("chengxin")
    with engine.connect() as conn:
        lines = pd.read_sql(
            select(
                Tradeline.tradeline_id,
                Tradeline.status,
                Tradeline.last_month,
                Tradeline.payment_history,
            ),
            conn,
        )
        months = pd.read_sql(
            select(TradelineMonth.tradeline_id, TradelineMonth.month, TradelineMonth.status), conn
        )
    assert (lines["payment_history"].str.len() == 24).all()
    # The last character is the latest month's status, which the tradeline shows.
    assert (lines["payment_history"].str[-1] == lines["status"]).all()
    latest = (
        months.sort_values("month")
        .drop_duplicates("tradeline_id", keep="last")
        .set_index("tradeline_id")
    )
    assert (
        latest.loc[lines["tradeline_id"], "month"].to_numpy() == lines["last_month"].to_numpy()
    ).all()


def _copy_feeds(small_run, tmp_path: Path, bureau: str) -> Path:
    feeds = tmp_path / "feeds"
    shutil.copytree(small_run.path / "feeds" / bureau, feeds / bureau)
    return feeds


@pytest.mark.slow
def test_a_load_interrupted_mid_month_leaves_no_trace_and_a_rerun_completes(
    small_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bureau = "qianhai"
    feeds = _copy_feeds(small_run, tmp_path, bureau)
    engine = RunLayout(tmp_path).bureau_engine(bureau)
    real = ingest_module.record_file
    calls = {"n": 0}

    def crash_on_fifth(conn, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            # The records of this file's month are inserted by now; the crash must undo them.
            raise KeyboardInterrupt
        return real(conn, **kwargs)

    monkeypatch.setattr(ingest_module, "record_file", crash_on_fifth)
    with pytest.raises(KeyboardInterrupt):
        ingest_bureau(small_run.scenario, feeds, bureau, engine)
    with engine.connect() as conn:
        loaded = set(conn.execute(select(LoadedFile.file)).scalars())
        sources = set(conn.execute(select(Tradeline.source_file)).scalars())
    months = {path.split("/")[0] for path in loaded}
    on_disk = {p.relative_to(feeds / bureau).as_posix() for p in (feeds / bureau).glob("*/*.csv")}
    # Whole months are in, and nothing of the interrupted one.
    assert 0 < len(loaded) < 5
    assert loaded == {path for path in on_disk if path.split("/")[0] in months}
    assert sources <= loaded
    monkeypatch.setattr(ingest_module, "record_file", real)
    ingest_bureau(small_run.scenario, feeds, bureau, engine)
    assert counts(engine) == counts(RunLayout(small_run.path).bureau_engine(bureau))


@pytest.mark.parametrize(
    ("bureau", "codec"),
    [("sesame", "jsonl"), ("qianhai", "csv_gb18030"), ("pengyuan", "fixed_width")],
)
def test_broken_files_are_handled_file_by_file(tmp_path: Path, bureau: str, codec: str) -> None:
    scn = load_scenario("small")
    assert scn.bureaus[bureau].intake_format == codec
    month_dir = tmp_path / "feeds" / bureau / "2018-09"
    month_dir.mkdir(parents=True)
    for file in sorted((CORPUS / codec).iterdir()):
        if file.suffix != ".md":
            shutil.copy(file, month_dir / file.name)
    engine = RunLayout(tmp_path).bureau_engine(bureau)
    report = ingest_bureau(scn, tmp_path / "feeds", bureau, engine)
    failed = dict(report.failed)
    assert any(name.endswith(("empty.jsonl", "empty.csv", "empty.dat")) for name in failed)
    assert all(reason for reason in failed.values())
    assert report.files_loaded + len(failed) == len(list(month_dir.iterdir()))
    with engine.connect() as conn:
        rejects = pd.read_sql(select(Reject.file, Reject.line, Reject.rule_id, Reject.action), conn)
        loaded = set(conn.execute(select(LoadedFile.file)).scalars())
    assert not loaded & set(failed)
    # Every record read either loaded or was rejected under a rule id.
    refused = rejects[rejects["action"] == "rejected"][["file", "line"]].drop_duplicates()
    assert report.rows_read == report.rows_loaded + len(refused)
    assert rejects["rule_id"].str.fullmatch(r"[PCFV]\d{3}").all()


@pytest.mark.slow
def test_valid_records_load_and_each_broken_one_is_rejected_by_its_rule(
    small_run, tmp_path: Path
) -> None:
    bureau = "sesame"
    source = sorted((small_run.path / "feeds" / bureau).glob("*/ant.tradeline.jsonl"))[-1]
    lines = source.read_text(encoding="utf-8").splitlines()
    assert len(lines) > 10
    broken = list(lines)
    broken[1] = re.sub(r'"balance":"[^"]+"', '"balance":"-5.00"', broken[1])
    broken[2] = re.sub(r'"report_month":"[^"]+"', '"report_month":"2018-13"', broken[2])
    broken[3] = re.sub(r'"account_ref":"[^"]+"', '"account_ref":"' + "X" * 40 + '"', broken[3])
    broken[4] = re.sub(r'"status":"[^"]+"', '"status":"Z"', broken[4])
    broken.append(broken[0])  # the same account and month again
    broken.append("{ this is not json")
    month_dir = tmp_path / "feeds" / bureau / source.parent.name
    month_dir.mkdir(parents=True)
    (month_dir / source.name).write_text("\n".join(broken) + "\n", encoding="utf-8")
    engine = RunLayout(tmp_path).bureau_engine(bureau)
    report = ingest_bureau(small_run.scenario, tmp_path / "feeds", bureau, engine)
    with engine.connect() as conn:
        rejects = pd.read_sql(select(Reject.line, Reject.rule_id), conn).set_index("line")[
            "rule_id"
        ]
    expected = {
        2: "V004",
        3: "V002",
        4: "V007",
        5: "V008",
        len(lines) + 1: "V015",
        len(lines) + 2: "P001",
    }
    assert rejects.to_dict() == expected
    assert report.rows_loaded == len(lines) - 4


@pytest.mark.slow
def test_a_copy_of_a_loaded_file_in_the_same_month_is_skipped(small_run, tmp_path: Path) -> None:
    bureau = "qianhai"
    feeds = _copy_feeds(small_run, tmp_path, bureau)
    original = sorted(feeds.rglob("*.csv"))[0]
    shutil.copy(original, original.with_name("zz_copy" + original.suffix))
    engine = RunLayout(tmp_path).bureau_engine(bureau)
    report = ingest_bureau(small_run.scenario, feeds, bureau, engine)
    assert report.files_skipped == 1 and not report.failed
    assert counts(engine) == {
        **counts(RunLayout(small_run.path).bureau_engine(bureau)),
    }


@pytest.mark.slow
def test_an_int_wider_than_its_field_is_rejected(small_run, tmp_path: Path) -> None:
    bureau = "sesame"
    source = sorted((small_run.path / "feeds" / bureau).glob("*/taobao.signal.jsonl"))[-1]
    lines = source.read_text(encoding="utf-8").splitlines()
    lines[0] = re.sub(r'"ecommerce_returns":\d+', '"ecommerce_returns":99999999999', lines[0])
    month_dir = tmp_path / "feeds" / bureau / source.parent.name
    month_dir.mkdir(parents=True)
    (month_dir / source.name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    engine = RunLayout(tmp_path).bureau_engine(bureau)
    ingest_bureau(small_run.scenario, tmp_path / "feeds", bureau, engine)
    with engine.connect() as conn:
        rules = set(pd.read_sql(select(Reject.rule_id), conn)["rule_id"])
    assert "V016" in rules


def _copy_months(small_run, tmp_path: Path, bureau: str, months: list[str]) -> Path:
    """A feed tree of some of a bureau's months."""
    feeds = tmp_path / "feeds"
    for month in months:
        shutil.copytree(small_run.path / "feeds" / bureau / month, feeds / bureau / month)
    return feeds


@pytest.mark.slow
def test_huge_lines_are_one_reject_each_and_later_months_load(small_run, tmp_path: Path) -> None:
    feeds = _copy_months(small_run, tmp_path, "sesame", ["2017-08", "2017-09"])
    first = feeds / "sesame" / "2017-08" / "ant.tradeline.jsonl"
    lines = first.read_bytes().split(b"\n")
    first.write_bytes(b"\n".join([lines[0], b"[" * 100_000 + b"]" * 100_000, *lines[1:]]))
    bank = _copy_months(small_run, tmp_path, "qianhai", ["2017-08"])
    csv_file = sorted((bank / "qianhai" / "2017-08").glob("*.tradeline.csv"))[0]
    rows = csv_file.read_bytes().split(b"\n")
    fields = rows[1].split(b",")
    fields[1] = b"X" * (33 << 20)
    csv_file.write_bytes(b"\n".join([*rows[:2], b",".join(fields), *rows[2:]]))
    for bureau, rule in (("sesame", "P005"), ("qianhai", "C003")):
        engine = RunLayout(tmp_path / bureau).bureau_engine(bureau)
        report = ingest_bureau(small_run.scenario, feeds, bureau, engine)
        assert not report.failed
        assert report.by_rule[rule] == 1
        with engine.connect() as conn:
            months = set(conn.execute(select(LoadedFile.file)).scalars())
            rejects = pd.read_sql(select(Reject.line, Reject.rule_id, Reject.raw), conn)
        assert {m.split("/")[0] for m in months} == (
            {"2017-08", "2017-09"} if bureau == "sesame" else {"2017-08"}
        )
        assert rejects.loc[rejects["rule_id"] == rule, "line"].tolist() == [
            2 if rule == "P005" else 3
        ]
        assert rejects["raw"].str.len().max() <= 4097


def _stray_tree(small_run, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """Two good months of sesame's feeds among every kind of stray entry."""
    import os

    feeds = _copy_months(small_run, tmp_path, "sesame", ["2017-08", "2017-09"])
    root = feeds / "sesame"
    good = root / "2017-08" / "ant.inquiry.jsonl"
    for name in ("notes", "2018-13", "2018-1", "2018-00", "2031-01", "2016-01"):
        (root / name).mkdir()
        shutil.copy(good, root / name / good.name)
    (root / "README.txt").write_text("feeds of sesame\n")
    month = root / "2017-09"
    (month / "x.jsonl").mkdir()
    for name in ("a.json", "b.JSONL", "c.txt"):
        shutil.copy(good, month / name)
    (month / "link.jsonl").symlink_to(good)
    (month / "dangling.jsonl").symlink_to(tmp_path / "nowhere.jsonl")
    os.mkfifo(month / "pipe.jsonl")
    (root / "2017-10").symlink_to(root / "2017-08", target_is_directory=True)
    stray = {
        "notes": "not a month folder",
        "2018-13": "not a month folder",
        "2018-1": "not a month folder",
        "2018-00": "not a month folder",
        "2031-01": "outside the run's calendar",
        "2016-01": "outside the run's calendar",
        "README.txt": "not in a month folder",
        "2017-09/x.jsonl": "a directory",
        "2017-09/a.json": "not a .jsonl file",
        "2017-09/b.JSONL": "not a .jsonl file",
        "2017-09/c.txt": "not a .jsonl file",
        "2017-09/link.jsonl": "a symbolic link",
        "2017-09/dangling.jsonl": "a symbolic link",
        "2017-09/pipe.jsonl": "not a regular file",
        "2017-10": "a symbolic link",
    }
    return feeds, stray


@pytest.mark.slow
def test_stray_entries_of_a_feed_tree_are_named_and_nothing_else_is_read(
    small_run, tmp_path: Path
) -> None:
    feeds, stray = _stray_tree(small_run, tmp_path)
    engine = RunLayout(tmp_path).bureau_engine("sesame")
    report = ingest_bureau(small_run.scenario, feeds, "sesame", engine)
    ignored = dict(report.ignored)
    assert set(ignored) == set(stray)
    for path, reason in stray.items():
        assert reason in ignored[path], (path, ignored[path])
    with engine.connect() as conn:
        loaded = set(conn.execute(select(LoadedFile.file)).scalars())
    source = small_run.path / "feeds" / "sesame"
    expected = {p.relative_to(source).as_posix() for p in source.glob("2017-0[89]/*.jsonl")}
    assert loaded == expected
    assert report.files_loaded == len(expected) and not report.failed
    again = ingest_bureau(small_run.scenario, feeds, "sesame", engine)
    assert again.files_loaded == 0 and dict(again.ignored) == ignored


@pytest.mark.slow
def test_a_loaded_file_delivered_again_with_other_contents_is_refused(
    small_run, tmp_path: Path
) -> None:
    feeds = _copy_months(small_run, tmp_path, "sesame", ["2017-08", "2017-09"])
    engine = RunLayout(tmp_path).bureau_engine("sesame")
    ingest_bureau(small_run.scenario, feeds, "sesame", engine)
    with engine.connect() as conn:
        before = pd.read_sql(select(TradelineMonth), conn)
    path = feeds / "sesame" / "2017-08" / "ant.tradeline.jsonl"
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r'"balance":"[^"]+"', '"balance":"1.00"', text), encoding="utf-8")
    report = ingest_bureau(small_run.scenario, feeds, "sesame", engine)
    assert report.files_loaded == 0
    assert report.failed == [
        (
            "2017-08/ant.tradeline.jsonl",
            "changed since it was loaded in 2017-08: a loaded file is never replaced; "
            "a correction comes in a later month's delivery",
        )
    ]
    with engine.connect() as conn:
        after = pd.read_sql(select(TradelineMonth), conn)
    pd.testing.assert_frame_equal(after, before)


def _one_line(path: Path, pattern: str, replacement: str) -> str:
    """The first line of a file that ``pattern`` matches, changed."""
    lines = path.read_text(encoding="utf-8").splitlines()
    line = next(line for line in lines if re.search(pattern, line))
    return re.sub(pattern, replacement, line) + "\n"


@pytest.mark.slow
def test_a_correction_in_a_later_delivery_is_kept_beside_the_first_report(
    small_run, tmp_path: Path
) -> None:
    feeds = _copy_months(small_run, tmp_path, "sesame", ["2017-08", "2017-09", "2017-10"])
    root = feeds / "sesame"
    first = root / "2017-08" / "ant.tradeline.jsonl"
    # The furnisher corrects one account-month of 2017-07 in the 2017-10 delivery, and the
    # same delivery repeats another month's report (a copy, not a correction).
    fix = _one_line(first, r'"status":"N"', '"status":"3"')
    fix = fix.replace('"balance":"', '"balance":"1')
    (root / "2017-10" / "ant.fix.tradeline.jsonl").write_text(fix, encoding="utf-8")
    engine = RunLayout(tmp_path).bureau_engine("sesame")
    report = ingest_bureau(small_run.scenario, feeds, "sesame", engine)
    assert not report.failed
    account = re.search(r'"account_ref":"([^"]+)"', fix).group(1)
    label = re.search(r'"report_month":"([^"]+)"', fix).group(1)
    month = int(label_months(small_run.scenario.start_date, pd.Series([label]))[0])
    with engine.connect() as conn:
        tid = conn.execute(
            select(Tradeline.tradeline_id).where(Tradeline.account_ref == account)
        ).scalar_one()
        held = pd.read_sql(select(TradelineMonth).where(TradelineMonth.tradeline_id == tid), conn)
        views = {
            snapshot: monthly_reports(
                conn, snapshot, ("tradeline_id", "month", "arrival", "status")
            )
            for snapshot in (1, 2, 3)
        }
        latest = conn.execute(select(Tradeline).where(Tradeline.tradeline_id == tid)).one()
    # What was furnished first stays, with the month it arrived in (2017-08).
    first = held.loc[held["month"] == month, ["arrival", "status"]].to_numpy().tolist()
    assert first == [[1, "N"]]
    for snapshot, view in views.items():
        row = view[(view["tradeline_id"] == tid) & (view["month"] == month)]
        shown = [[1, "N"]] if snapshot < 3 else [[3, "3"]]
        assert row[["arrival", "status"]].to_numpy().tolist() == shown
    # Every reader sees the file as it stood: features at 2017-09 the first report, at
    # 2017-10 the corrected one; the latest state is brought up to date with it.
    for snapshot, status in ((2, "N"), (3, "3")):
        reports = read_file(engine, snapshot)[0]["months"]
        mine = reports[(reports["tradeline_id"] == tid) & (reports["month"] == month)]
        assert mine["status"].tolist() == [status]
    history = latest.payment_history
    assert history[len(history) - 1 - (latest.last_month - month)] == "3"
    assert ingest_bureau(small_run.scenario, feeds, "sesame", engine).files_loaded == 0


@pytest.mark.slow
def test_reports_of_one_delivery_keep_the_later_file(small_run, tmp_path: Path) -> None:
    feeds = _copy_months(small_run, tmp_path, "sesame", ["2017-08"])
    first = feeds / "sesame" / "2017-08" / "ant.tradeline.jsonl"
    fix = _one_line(first, r'"status":"N"', '"status":"2"')
    (first.parent / "zz.tradeline.jsonl").write_text(fix, encoding="utf-8")
    engine = RunLayout(tmp_path).bureau_engine("sesame")
    ingest_bureau(small_run.scenario, feeds, "sesame", engine)
    account = re.search(r'"account_ref":"([^"]+)"', fix).group(1)
    with engine.connect() as conn:
        status = conn.execute(
            select(TradelineMonth.status)
            .join(Tradeline, Tradeline.tradeline_id == TradelineMonth.tradeline_id)
            .where(Tradeline.account_ref == account)
        ).scalar_one()
        revisions = conn.exec_driver_sql("SELECT count(*) FROM tradeline_revisions").scalar()
    assert status == "2" and revisions == 0


@pytest.mark.slow
def test_later_deliveries_overwrite_no_signal_and_no_end_of_a_record(
    small_run, tmp_path: Path
) -> None:
    feeds = _copy_months(small_run, tmp_path, "sesame", ["2017-09", "2017-10", "2017-11"])
    root = feeds / "sesame"
    signal = _one_line(
        root / "2017-09" / "taobao.signal.jsonl",
        r'"ecommerce_returns":\d+',
        '"ecommerce_returns":4321',
    )
    (root / "2017-11" / "taobao.fix.signal.jsonl").write_text(signal, encoding="utf-8")
    # A record's end arrives in 2017-10; a later delivery gives it another end.
    record = _one_line(root / "2017-09" / "courts.public_record.jsonl", r',"ended":"[^"]+"', "")
    record = (
        record
        if '"ended"' in record
        else record.replace(',"amount"', ',"ended":"2017-09","amount"')
    )
    (root / "2017-10" / "courts.end.public_record.jsonl").write_text(record, encoding="utf-8")
    other = record.replace('"ended":"2017-09"', '"ended":"2017-10"')
    (root / "2017-11" / "courts.fix.public_record.jsonl").write_text(other, encoding="utf-8")
    engine = RunLayout(tmp_path).bureau_engine("sesame")
    report = ingest_bureau(small_run.scenario, feeds, "sesame", engine)
    ref = re.search(r'"record_ref":"([^"]+)"', record).group(1)
    with engine.connect() as conn:
        overwritten = conn.execute(
            select(Signal.arrival).where(Signal.ecommerce_returns == 4321)
        ).all()
        record_end = conn.execute(
            select(PublicRecord.ended).where(PublicRecord.record_ref == ref)
        ).scalar_one()
    assert overwritten == []
    assert record_end == 2  # 2017-09, the first end reported
    warned = dict(report.ignored)
    assert "2017-11/taobao.fix.signal.jsonl" in warned
    assert "2017-11/courts.fix.public_record.jsonl" in warned
    assert "2017-10/courts.end.public_record.jsonl" not in warned


@pytest.mark.slow
def test_messages_name_files_relative_to_the_feeds(
    small_run, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    staging = tmp_path / ".r.123.abc.partial"
    feeds = _copy_months(small_run, staging, "qianhai", ["2017-08"])
    month = feeds / "qianhai" / "2017-08"
    for file in sorted((CORPUS / "csv_gb18030").iterdir()):
        shutil.copy(file, month / ("zz_" + file.name))
    engine = RunLayout(tmp_path).bureau_engine("qianhai")
    with caplog.at_level(logging.INFO):
        report = ingest_bureau(small_run.scenario, feeds, "qianhai", engine)
    with engine.connect() as conn:
        stored = pd.read_sql(select(Reject.file, Reject.message), conn)
    messages = [
        *(f"{f}: {why}" for f, why in report.failed),
        *(f"{f}: {why}" for f, why in report.ignored),
        *stored["message"],
        *(record.getMessage() for record in caplog.records),
    ]
    assert report.failed and report.ignored
    assert all(f.startswith("2017-08/") for f, _ in [*report.failed, *report.ignored])
    assert set(stored["file"]) <= {
        p.relative_to(feeds / "qianhai").as_posix() for p in month.iterdir()
    }
    for message in messages:
        assert ".partial" not in message and str(tmp_path) not in message, message
        assert "np." not in message, message
