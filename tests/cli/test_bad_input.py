"""The standing bad-input corpus of the command line, by family.

Every case asserts the exit status, that the error is one line naming the culprit (no
traceback), and that nothing valid was lost or changed: no run directory, database or lock
file appears where the command was refused, and an existing run keeps its bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bureau import load_scenario
from bureau.cli.main import app
from bureau.config import data_dir
from bureau.layout import RunLayout
from bureau.pipeline import run_stages
from bureau.run_lock import lock_path

runner = CliRunner()
SMALL = str(data_dir() / "scenarios" / "small.toml")
URL = os.environ.get("BUREAU_TEST_DATABASE_URL")
on_server = pytest.mark.skipif(not URL, reason="BUREAU_TEST_DATABASE_URL is not set")
#: One bureau of JSON Lines and one of fixed width: the cases are about runs, not formats.
KEPT = ("sesame", "pengyuan")
TINY = {
    "population.persons": 300,
    "population.chunk_size": 300,
    **{f"bureaus.{b}.enabled": False for b in load_scenario("small").bureaus if b not in KEPT},
}


def refused(args: list[str], code: int, *needles: str) -> str:
    """Run a command that must fail: its status, one line on stderr naming the culprit."""
    result = runner.invoke(app, args)
    assert result.exit_code == code, (result.exit_code, result.stderr, result.stdout)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` with its SHA-256 (databases included)."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def run_outputs(run: Path) -> dict[str, str]:
    """Every output of a run but its databases (live stores) and manifest (timings)."""
    return {k: v for k, v in tree(run).items() if not k.startswith("db/") and k != "manifest.json"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run of 300 persons and two bureaus, ingested."""
    out = tmp_path_factory.mktemp("tiny") / "run"
    run_stages(out, load_scenario("small", TINY), stages=["world", "furnish", "ingest"])
    return out


def copy_of(run: Path, where: Path, keep: tuple[str, ...] | None = None) -> Path:
    """A copy of a run, with its manifest recording only the stages ``keep`` (all if None)."""
    copy = where / "copy"
    shutil.copytree(run, copy)
    if keep is not None:
        manifest = json.loads((copy / "manifest.json").read_text())
        manifest["stages"] = {k: v for k, v in manifest["stages"].items() if k in keep}
        (copy / "manifest.json").write_text(json.dumps(manifest))
        if "ingest" not in keep:
            shutil.rmtree(copy / "db", ignore_errors=True)
    return copy


# --- the scenario -------------------------------------------------------------------------

SCENARIOS = {
    "missing": (None, "no such scenario file"),
    "invalid_toml": ("months = \n", "invalid TOML"),
    "not_utf8": (b"name = '\xff\xfe'\n", "cannot read the file"),
    "unknown_key": ('extends = "small.toml"\ncolour = "blue"\n', "colour: unknown key"),
    "unknown_nested": ('extends = "small.toml"\n[population]\nsize = 3\n', "population.size"),
    "wrong_type": ('extends = "small.toml"\nmonths = "many"\n', "months"),
    "out_of_range": ('extends = "small.toml"\nmonths = 5\n', "months"),
    "infinite": ('extends = "small.toml"\n[lenders.ant]\nshare = inf\n', "lenders.ant.share"),
    "nan": ('extends = "small.toml"\n[records]\njudgment_rate = nan\n', "records.judgment_rate"),
    "reserved_bureau": (
        'extends = "small.toml"\n[bureaus.aggregator]\nname = "X"\n',
        "'aggregator' cannot name a bureau",
    ),
    "bad_start": ('extends = "small.toml"\nstart = "2018-13"\n', "start must be a month"),
    "extends_missing": ('extends = "nowhere.toml"\n', "no such scenario file: nowhere.toml"),
    "extends_cycle": ('extends = "case.toml"\n', "nested too deeply"),
    "extends_not_text": ("extends = 3\n", "must name a scenario file"),
}


@pytest.mark.parametrize("case", sorted(SCENARIOS))
def test_scenario_files(tmp_path: Path, case: str) -> None:
    content, message = SCENARIOS[case]
    path = tmp_path / "case.toml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    before = sorted(tmp_path.iterdir())
    line = refused(["run", str(path), "--out", str(tmp_path / "out"), "-q"], 2, message)
    assert str(path) in line  # the file is named
    assert sorted(tmp_path.iterdir()) == before  # nothing made, not even a lock


def test_a_directory_given_as_a_scenario(tmp_path: Path) -> None:
    refused(["simulate", str(tmp_path), "--out", str(tmp_path / "out")], 2, "no such scenario")
    assert list(tmp_path.iterdir()) == []


# --- --set ---------------------------------------------------------------------------------

SETTINGS = {
    "no_equals": ("population.persons", "--set: an override must be KEY=VALUE"),
    "empty_key": ("=3", "--set: an override must be KEY=VALUE"),
    "empty_part": ("population..persons=3", "--set: an override must be KEY=VALUE"),
    "unknown_key": ("population.size=3", "--set population.size: unknown key"),
    "wrong_type": ("population.persons=many", "--set population.persons"),
    "negative": ("population.persons=-3", "--set population.persons"),
    "infinite": ("lenders.ant.share=inf", "--set lenders.ant.share: must be a finite number"),
    "nan": ("population.persons=nan", "--set population.persons: must be a finite number"),
    "across_keys": (
        "scoring.evaluation_snapshot=40",
        "--set scoring.evaluation_snapshot: scoring.evaluation_snapshot must leave 12 months",
    ),
    "through_a_value": ("seed.x=1", "--set seed.x: 'seed' is not a table"),
    "reserved_bureau": ("bureaus.aggregator.enabled=true", "--set bureaus.aggregator.enabled"),
    "bad_start": ("start=2019-13", "--set start: start must be a month"),
    "unknown_regime": ("sharing=open", "--set sharing"),
}


@pytest.mark.parametrize("case", sorted(SETTINGS))
def test_set_overrides(tmp_path: Path, case: str) -> None:
    setting, message = SETTINGS[case]
    line = refused(
        ["simulate", SMALL, "--out", str(tmp_path / "out"), "--set", setting, "-q"], 2, message
    )
    # The override is to blame, not the bundled file it was applied to.
    assert "small.toml" not in line
    assert list(tmp_path.iterdir()) == []


# --- run directories -----------------------------------------------------------------------


def test_a_stage_on_a_path_that_does_not_exist(tmp_path: Path) -> None:
    refused(["ingest", str(tmp_path / "no" / "run")], 2, "not a run directory")
    assert list(tmp_path.iterdir()) == []


def test_a_stage_on_a_file(tmp_path: Path) -> None:
    (tmp_path / "run").write_text("x")
    refused(["furnish", str(tmp_path / "run")], 2, "not a run directory")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_directory_without_a_manifest(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    refused(["train", str(tmp_path / "run")], 2, "no manifest.json")
    assert list((tmp_path / "run").iterdir()) == []


@pytest.mark.slow
def test_a_manifest_that_is_not_json(tiny: Path, tmp_path: Path) -> None:
    run = copy_of(tiny, tmp_path)
    (run / "manifest.json").write_text("{ not json")
    before = tree(run)
    refused(["ingest", str(run), "-q"], 2, "manifest is not valid JSON")
    assert tree(run) == before


@pytest.mark.slow
def test_a_run_without_its_resolved_scenario(tiny: Path, tmp_path: Path) -> None:
    run = copy_of(tiny, tmp_path)
    (run / "scenario.resolved.toml").unlink()
    before = tree(run)
    refused(["ingest", str(run), "-q"], 2, "scenario.resolved.toml", "no such scenario file")
    assert tree(run) == before


@pytest.mark.slow
def test_a_truncated_world_file(tiny: Path, tmp_path: Path) -> None:
    run = copy_of(tiny, tmp_path, keep=("world",))
    shutil.rmtree(run / "feeds"), shutil.rmtree(run / "truth")
    [part] = (run / "world" / "accounts").glob("part-*.parquet")
    part.write_bytes(part.read_bytes()[:-100])
    line = refused(["furnish", str(run), "-q", "-w", "1"], 2, "damaged or truncated Parquet")
    assert "accounts/part-00000.parquet" in line
    assert not (run / "feeds").exists() and not list(run.glob(".furnish.*"))


def test_replacing_a_directory_that_is_not_a_run(tmp_path: Path) -> None:
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "thesis.tex").write_text("precious")
    args = ["run", SMALL, "--out", str(tmp_path / "keep"), "--force", "-q"]
    refused(args, 2, "exists and is not a run directory; not replacing it")
    assert (tmp_path / "keep" / "thesis.tex").read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep"]


@pytest.mark.slow
def test_a_run_in_the_way_without_force(tiny: Path, tmp_path: Path) -> None:
    run = copy_of(tiny, tmp_path)
    before = tree(run)
    refused(["simulate", SMALL, "--out", str(run), "-q"], 2, "already exists", "--force")
    assert tree(run) == before


def test_a_run_directory_needs_a_name(tmp_path: Path) -> None:
    refused(["simulate", SMALL, "--out", "."], 2, "needs a name of its own")


def test_a_run_where_nothing_can_be_written() -> None:
    refused(["simulate", SMALL, "--out", "/sys/bureau-test/run", "-q"], 2, "/sys/bureau-test/run")


@pytest.mark.slow
def test_a_stage_runs_the_stages_it_needs_first(tiny: Path, tmp_path: Path) -> None:
    run = copy_of(tiny, tmp_path, keep=("world",))
    result = runner.invoke(app, ["train", str(run), "-q"])
    assert result.exit_code == 0, result.stderr
    done = json.loads((run / "manifest.json").read_text())["stages"]
    assert list(done) == ["world", "furnish", "ingest", "market", "train"]


@pytest.mark.slow
def test_reading_a_file_before_ingestion_creates_no_database(tiny: Path, tmp_path: Path) -> None:
    run = copy_of(tiny, tmp_path, keep=("world", "furnish"))
    args = ["file", str(run), "--bureau", "sesame", "--national-id", "110101199003071233"]
    refused(args, 2, "run bureau ingest first")
    assert not (run / "db").exists()


@pytest.mark.slow
def test_reading_a_report_before_submission_creates_no_database(tiny: Path, tmp_path: Path) -> None:
    run = copy_of(tiny, tmp_path)
    refused(["consolidated", str(run), "-n", "110101199003071233"], 2, "nothing submitted")
    assert not (run / "db" / "aggregator.db").exists()


@pytest.mark.slow
def test_an_unknown_bureau(tiny: Path, tmp_path: Path) -> None:
    run = copy_of(tiny, tmp_path)
    before = tree(run)
    refused(["train", str(run), "--bureau", "nobody", "-q"], 2, "--bureau", "no bureau nobody")
    assert tree(run) == before


def test_an_unknown_linkage_backend_is_one_line(tmp_path: Path) -> None:
    refused(
        ["reconcile", str(tmp_path), "--linkage-backend", "fuzzy"],
        2,
        "--linkage-backend",
        "no linkage backend 'fuzzy'",
    )


# --- database URLs -------------------------------------------------------------------------

URLS = {
    "not_a_url": ("nonsense", "not a database URL"),
    "empty": ("", "not a database URL"),
    "sqlite_url": ("sqlite:///x.db", "give a PostgreSQL URL"),
    "unknown_dialect": ("nosuchdialect://u@h/db", "driver is not installed"),
    "driver_missing": ("mysql+mysqldb://u@localhost/db", "driver is not installed"),
    "unreachable": (
        "postgresql+psycopg://u:s3cret@127.0.0.1:9/x",
        "cannot open the database of pengyuan",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(URLS))
def test_database_urls(tiny: Path, tmp_path: Path, case: str) -> None:
    url, message = URLS[case]
    run = copy_of(tiny, tmp_path, keep=("world", "furnish"))
    before = tree(run)
    line = refused(["ingest", str(run), "--db", url, "-q", "-w", "1"], 2, "--db", message)
    assert "s3cret" not in line  # a password is never shown
    assert {k: v for k, v in tree(run).items() if k != ".run_id"} == before
    assert not (run / "db").exists()


@pytest.mark.slow
def test_a_sqlite_run_given_a_server_url(tiny: Path, tmp_path: Path) -> None:
    run = copy_of(tiny, tmp_path)
    before = tree(run)
    refused(["train", str(run), "--db", "postgresql+psycopg://u@h/db", "-q"], 2, "give no")
    assert tree(run) == before


@pytest.mark.slow
def test_a_damaged_credit_file(tiny: Path, tmp_path: Path) -> None:
    run = copy_of(tiny, tmp_path)
    with sqlite3.connect(run / "db" / "sesame.db") as conn:
        conn.execute("DROP TABLE inquiries")
    refused(["train", str(run), "-q", "-w", "1"], 2, "sesame.db", "table inquiries is missing")
    assert not (run / "models").exists()


@pytest.mark.slow
def test_a_credit_file_that_is_not_a_database(tiny: Path, tmp_path: Path) -> None:
    run = copy_of(tiny, tmp_path)
    (run / "db" / "sesame.db").write_bytes(b"\0garbage" * 512)
    for name in ("sesame.db-wal", "sesame.db-shm"):
        (run / "db" / name).unlink(missing_ok=True)
    refused(["train", str(run), "-q", "-w", "1"], 2, "cannot open the database of sesame")


@pytest.mark.slow
@on_server
def test_a_server_run_read_without_its_url(tiny: Path, tmp_path: Path) -> None:
    from bureau.store.engines import schema_name

    run = copy_of(tiny, tmp_path, keep=("world", "furnish"))
    assert runner.invoke(app, ["ingest", str(run), "--db", URL, "-q", "-w", "1"]).exit_code == 0
    try:
        for args in (
            ["train", str(run), "-q"],
            ["file", str(run), "-b", "sesame", "-n", "110101199003071233"],
        ):
            refused(args, 2, "give the same database URL")
        assert not (run / "db").exists()
    finally:
        _drop_schemas(URL, [schema_name(run, b) for b in KEPT])


@pytest.mark.slow
@on_server
def test_two_runs_on_one_server_keep_their_own_files(tiny: Path, tmp_path: Path) -> None:
    from sqlalchemy import func, select

    from bureau.store.credit_file import Consumer
    from bureau.store.engines import schema_name

    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    first = copy_of(tiny, tmp_path / "a", keep=("world", "furnish"))
    second = copy_of(tiny, tmp_path / "b", keep=("world", "furnish"))
    try:
        for run in (first, second):
            result = runner.invoke(app, ["ingest", str(run), "--db", URL, "-q", "-w", "1"])
            assert result.exit_code == 0, result.stderr
        counts = []
        for run in (first, second):
            engine = RunLayout(run, URL).bureau_engine("sesame", create=False)
            with engine.connect() as conn:
                counts.append(conn.execute(select(func.count()).select_from(Consumer)).scalar())
            engine.dispose()
        # The same feeds loaded twice, each into its own run's schema: no file doubled.
        with sqlite3.connect(tiny / "db" / "sesame.db") as conn:
            alone = conn.execute("SELECT count(*) FROM consumers").fetchone()[0]
        assert counts == [alone, alone]
    finally:
        names = [schema_name(run, b) for run in (first, second) for b in KEPT]
        _drop_schemas(URL, names)


def _drop_schemas(url: str, names: list[str]) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(url)
    with admin.begin() as conn:
        for name in names:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
            # Each schema's role is named as it.
            conn.execute(text(f'DROP ROLE IF EXISTS "{name}"'))
    admin.dispose()


# --- concurrent writers --------------------------------------------------------------------

_HOLD = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
os.pwrite(fd, f"{os.getpid()}\\n".encode(), 0)
print("held", flush=True)
time.sleep(120)
"""


@pytest.fixture
def held(tiny: Path, tmp_path: Path):
    """A copy of the tiny run whose directory another process is writing."""
    run = copy_of(tiny, tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(lock_path(run))], stdout=subprocess.PIPE
    )
    assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
    yield run, holder.pid
    holder.kill()
    holder.wait()


WRITERS = {
    "run": ["run", SMALL, "--out", "{run}", "-q"],
    "run_force": ["run", SMALL, "--out", "{run}", "--force", "-q"],
    "simulate": ["simulate", SMALL, "--out", "{run}", "--force", "-q"],
    "furnish": ["furnish", "{run}", "-q"],
    "ingest": ["ingest", "{run}", "-q"],
    "ingest_one": ["ingest", "{run}", "--bureau", "sesame", "-q"],
    "train": ["train", "{run}", "-q"],
    "disputes": ["disputes", "{run}", "-q"],
    "submit": ["submit", "{run}", "-q"],
    "reconcile": ["reconcile", "{run}", "-q"],
    "compare": ["compare", "{run}", "-q"],
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(WRITERS))
def test_a_second_writer_stops_at_once(held: tuple[Path, int], case: str) -> None:
    run, pid = held
    before = tree(run)
    args = [a.format(run=run) for a in WRITERS[case]]
    started = time.monotonic()
    refused(args, 2, str(run), f"another command is writing this run directory (process {pid})")
    assert time.monotonic() - started < 10
    assert tree(run) == before


@pytest.mark.slow
def test_a_reader_is_not_held_up_by_a_writer(held: tuple[Path, int]) -> None:
    run, _ = held
    result = runner.invoke(
        app, ["file", str(run), "-b", "sesame", "-n", "110101199003071233", "--json"]
    )
    assert "another command" not in result.stderr


@pytest.mark.slow
def test_two_ingestions_at_once_load_the_feeds_once(tiny: Path, tmp_path: Path) -> None:
    run = copy_of(tiny, tmp_path, keep=("world", "furnish"))
    command = [sys.executable, "-m", "bureau", "ingest", str(run), "-q", "-w", "1"]
    procs = [subprocess.Popen(command, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outcomes = sorted((p.wait(timeout=300), p.stderr.read()) for p in procs)  # type: ignore[union-attr]
    codes = [code for code, _ in outcomes]
    # Either the second started after the first had finished (a no-op), or it was refused.
    assert codes in ([0, 0], [0, 2]), outcomes
    if codes == [0, 2]:
        assert "another command is writing this run directory" in outcomes[1][1]
    for bureau in KEPT:
        with (
            sqlite3.connect(run / "db" / f"{bureau}.db") as ours,
            sqlite3.connect(tiny / "db" / f"{bureau}.db") as alone,
        ):
            for table in ("consumers", "tradelines", "tradeline_months", "loaded_files"):
                query = f"SELECT count(*) FROM {table}"
                assert ours.execute(query).fetchone() == alone.execute(query).fetchone()
    assert not lock_path(run).exists()


@pytest.mark.slow
@on_server
def test_a_server_run_replaced_with_force_leaves_no_schema_behind(tmp_path: Path) -> None:
    from sqlalchemy import create_engine, inspect

    from bureau.store.engines import run_id

    out = tmp_path / "run"
    stages = ["world", "furnish", "ingest"]
    run_stages(out, load_scenario("small", TINY), stages=stages, db_url=URL)
    first = run_id(out)
    run_stages(
        out, load_scenario("small", {**TINY, "seed": 7}), stages=stages, db_url=URL, force=True
    )
    second = run_id(out)
    admin = create_engine(URL)
    schemas = set(inspect(admin).get_schema_names())
    with admin.connect() as conn:
        roles = set(conn.exec_driver_sql("SELECT rolname FROM pg_roles").scalars())
    admin.dispose()
    try:
        assert first != second
        assert not any(s.startswith(f"r{first}_") for s in schemas)
        assert not any(r.startswith(f"r{first}_") for r in roles)
        assert {f"r{second}_{b}" for b in KEPT} <= schemas
    finally:
        _drop_schemas(URL, [f"r{second}_{b}" for b in KEPT])
