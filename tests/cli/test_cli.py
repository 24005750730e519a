"""The command line as a user meets it: exit codes, one-line errors, nothing half-written."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bureau import __version__
from bureau.cli.common import option_for
from bureau.cli.main import app
from bureau.config import data_dir

runner = CliRunner()
SMALL = str(data_dir() / "scenarios" / "small.toml")


def bureau(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bureau", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.stdout


def test_simulate_writes_a_run_directory(tmp_path: Path) -> None:
    out = tmp_path / "runs" / "s"
    result = runner.invoke(
        app,
        [
            "simulate",
            SMALL,
            "--out",
            str(out),
            "--workers",
            "1",
            "--set",
            "population.persons=800",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["stages"]["world"]["rows"]["persons"] == 800
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 20170701
    assert manifest["version"] == __version__
    assert manifest["stages"]["world"]["rows"]["persons"] == 800
    assert manifest["stages"]["world"]["seconds"] > 0
    assert "world/persons/part-00000.parquet" in manifest["files"]
    assert (out / "scenario.resolved.toml").is_file()
    assert [p.name for p in tmp_path.joinpath("runs").iterdir()] == ["s"]


def test_simulate_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    out = tmp_path / "r"
    args = [
        "simulate",
        SMALL,
        "--out",
        str(out),
        "-q",
        "--set",
        "population.persons=300",
        "--workers",
        "1",
    ]
    assert runner.invoke(app, args).exit_code == 0
    before = json.loads((out / "manifest.json").read_text())["files"]
    again = runner.invoke(app, args)  # the same inputs: the run is kept as it is
    assert again.exit_code == 0, again.stderr
    assert "nothing to do" in again.stdout
    assert json.loads((out / "manifest.json").read_text())["files"] == before
    other = runner.invoke(app, [*args, "--seed", "5"])
    assert other.exit_code == 2
    assert "already exists" in other.stderr and "--force" in other.stderr
    forced = runner.invoke(app, [*args, "--force", "--seed", "5"])
    assert forced.exit_code == 0
    after = json.loads((out / "manifest.json").read_text())
    assert after["seed"] == 5 and after["files"] != before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def _scenario(tmp_path: Path, body: str) -> str:
    path = tmp_path / "bad.toml"
    path.write_text(f'extends = "{SMALL}"\n{body}')
    return str(path)


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda d: str(d / "missing.toml"), "no such scenario file"),
        (lambda d: _write(d, "name = [oops\n"), "invalid TOML"),
        (lambda d: _scenario(d, "colour = 3\n"), "colour: unknown key"),
        (lambda d: _scenario(d, "[population]\npersons = -10\n"), "population.persons"),
        (lambda d: _scenario(d, "months = 'many'\n"), "months"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(tmp_path: Path, make, words: str) -> None:
    source = make(tmp_path)
    result = bureau("simulate", source, "--out", str(tmp_path / "runs" / "x"))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()


def _write(directory: Path, text: str) -> str:
    path = directory / "broken.toml"
    path.write_text(text)
    return str(path)


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    result = bureau("simulate", SMALL, "--out", str(tmp_path / "x"), "--workers", "0")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    result = bureau("simulate", SMALL, "--out", str(tmp_path / "x"), "--set", "nonsense")
    assert result.returncode == 2
    assert "KEY=VALUE" in result.stderr


def test_a_failing_stage_leaves_no_run_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bureau import pipeline

    def explode(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "world/part-00000.parquet")

    monkeypatch.setitem(pipeline.STAGES, "world", replace(pipeline.STAGES["world"], run=explode))
    result = runner.invoke(app, ["run", SMALL, "--out", str(tmp_path / "r"), "-q"])
    # A full disk is the machine's fault, not a bug: one line naming the file, status 2.
    assert result.exit_code == 2
    assert result.stderr == "error: world/part-00000.parquet: No space left on device\n"
    assert list(tmp_path.iterdir()) == []


def test_a_bug_is_one_line_and_a_log_without_personal_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bureau import pipeline

    def explode(*_args, **_kwargs):
        raise ValueError("Zhang Wei 110101199003071234 13800138000")

    monkeypatch.setitem(pipeline.STAGES, "world", replace(pipeline.STAGES["world"], run=explode))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    result = runner.invoke(app, ["run", SMALL, "--out", str(tmp_path / "r"), "-q"])
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("internal error: ValueError (a bug in bureau; details in ")
    assert "110101199003071234" not in result.stderr and "Zhang" not in result.stderr
    [log] = (tmp_path / "cache" / "bureau" / "logs").iterdir()
    assert str(log) in line and "Traceback" in log.read_text()
    assert log.stat().st_mode & 0o077 == 0
    assert not (tmp_path / "r").exists()


def _start_long_run(runs: Path, name: str) -> subprocess.Popen[str]:
    """Start a run big enough to interrupt, and wait until it is writing its world."""
    import time

    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "bureau", "run", SMALL, "--out", str(runs / name), "-q"),
            *("--set", "population.persons=400000", "--set", "population.chunk_size=20000"),
            *("--workers", "1"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not list(runs.glob(f".{name}.*.partial/world")):
        time.sleep(0.05)
    assert list(runs.glob(f".{name}.*.partial/world")), "the run never started writing"
    return proc


@pytest.mark.slow
def test_a_killed_run_leaves_no_run_directory_and_the_next_run_cleans_up(tmp_path: Path) -> None:
    import signal

    runs = tmp_path / "runs"
    proc = _start_long_run(runs, "k")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert not (runs / "k").exists()
    assert list(runs.glob(".k.*.partial"))  # SIGKILL leaves the staging directory ...
    result = bureau(
        "simulate", SMALL, "--out", str(runs / "k"), "-q", "--set", "population.persons=200"
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in runs.iterdir()) == ["k"]  # ... which the next run removes


@pytest.mark.slow
def test_a_killed_run_goes_on_from_the_stages_it_finished(tmp_path: Path) -> None:
    import signal

    from bureau import load_scenario
    from bureau.pipeline import run_stages

    runs = tmp_path / "runs"
    # One bureau of each intake format: the resume is about stages, not about every bureau.
    dropped = ("tencent", "kaola", "chengxin", "zhongzhicheng", "huadao")
    settings = {
        "population.persons": 1500,
        "population.chunk_size": 750,
        **{f"bureaus.{b}.enabled": False for b in dropped},
    }
    stages = ["world", "furnish", "ingest"]
    # The process kills itself once one bureau's feeds are written: the world finished,
    # furnishing half done, whatever the machine's speed.
    script = (
        "import os, signal\n"
        "from bureau import load_scenario\n"
        "from bureau.pipeline import run_stages\n"
        "def progress(stage, done, total):\n"
        "    if stage == 'furnish' and done == 1:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        f"scn = load_scenario({SMALL!r}, {settings!r})\n"
        f"run_stages({str(runs / 'r')!r}, scn, stages={stages!r}, workers=1, progress=progress)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert not (runs / "r").exists()
    [partial] = runs.glob(".r.*.partial")
    assert [p.name for p in partial.glob(".furnish.*/feeds/*")], "killed before any feed"
    scn = load_scenario(SMALL, settings)
    resumed = run_stages(runs / "r", scn, stages=stages, workers=1)
    assert resumed.stages[0].name == "world" and resumed.stages[0].skipped
    assert not any(s.skipped for s in resumed.stages[1:])
    assert sorted(p.name for p in runs.iterdir()) == ["r"]
    fresh = run_stages(tmp_path / "fresh", scn, stages=stages, workers=1)
    assert resumed.manifest["files"] == fresh.manifest["files"]
    assert resumed.manifest["stages"]["world"]["rows"] == fresh.manifest["stages"]["world"]["rows"]
    again = run_stages(runs / "r", scn, stages=stages, workers=2)
    assert all(s.skipped for s in again.stages)


@pytest.mark.slow
def test_sigterm_unwinds_and_removes_the_staging_directory(tmp_path: Path) -> None:
    import signal

    runs = tmp_path / "runs"
    proc = _start_long_run(runs, "t")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert list(runs.iterdir()) == []


def test_bad_override_values_are_blamed_on_the_override(tmp_path: Path) -> None:
    result = bureau(
        "simulate", "small", "--out", str(tmp_path / "x"), "--set", "population.persons=-3"
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: --set population.persons:")
    assert not (tmp_path / "x").exists()


def test_force_never_replaces_a_directory_that_is_not_a_run(tmp_path: Path) -> None:
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.txt").write_text("years of work")
    result = bureau(
        "simulate", "small", "--out", str(precious), "--force", "--set", "population.persons=100"
    )
    assert result.returncode == 2
    assert "not a run directory" in result.stderr
    assert (precious / "chapter1.txt").read_text() == "years of work"


@pytest.mark.parametrize("where", ["file", "under_file", "dot"])
def test_impossible_run_directories_exit_2(tmp_path: Path, where: str) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    out = {"file": str(a_file), "under_file": str(a_file / "run"), "dot": "."}[where]
    result = bureau(
        "simulate",
        "small",
        "--out",
        out,
        "--set",
        "population.persons=100",
        "--force",
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


@pytest.mark.slow
def test_stage_commands_and_a_credit_report(tmp_path: Path) -> None:
    run = tmp_path / "r"
    made = runner.invoke(
        app,
        [
            "simulate",
            SMALL,
            "--out",
            str(run),
            "-q",
            "--set",
            "population.persons=400",
            "--workers",
            "1",
        ],
    )
    assert made.exit_code == 0, made.output
    # A stage runs what it requires first: ingesting a run not furnished yet furnishes it.
    first = runner.invoke(app, ["ingest", str(run), "--bureau", "sesame", "--json", "-w", "2"])
    assert first.exit_code == 0, first.output
    loaded = json.loads(first.stdout)["bureaus"]["sesame"]
    assert loaded["files_loaded"] > 0 and loaded["rows_loaded"] > 0
    assert list(json.loads(first.stdout)["bureaus"]) == ["sesame"]
    again = runner.invoke(app, ["furnish", str(run)])
    assert again.exit_code == 0 and "nothing to do" in again.stdout
    second = json.loads(
        runner.invoke(app, ["ingest", str(run), "--bureau", "sesame", "--json"]).stdout
    )
    assert second["bureaus"]["sesame"]["files_loaded"] == 0
    assert second["bureaus"]["sesame"]["files_skipped"] == loaded["files_loaded"]

    import pandas as pd

    persons = pd.read_parquet(run / "world" / "persons")
    shoppers = pd.read_parquet(run / "world" / "memberships").query("platform_id == 'alipay'")
    someone = persons[persons["person_id"].isin(shoppers["person_id"])]["national_id"].iloc[0]
    shown = runner.invoke(
        app, ["file", str(run), "--bureau", "sesame", "--national-id", someone, "--json"]
    )
    assert shown.exit_code == 0, shown.output
    report = json.loads(shown.stdout)
    assert report["bureau"] == "sesame" and report["files"]
    assert any(f["national_id"] == someone for f in report["files"])
    readable = runner.invoke(
        app, ["file", str(run), "--bureau", "sesame", "--national-id", someone]
    )
    assert readable.exit_code == 0 and someone in readable.stdout
    nobody = runner.invoke(
        app, ["file", str(run), "--bureau", "sesame", "--national-id", "110105199001011232"]
    )
    assert nobody.exit_code == 2 and "no file" in nobody.stderr
    wrong = runner.invoke(app, ["file", str(run), "--bureau", "equifax", "--national-id", someone])
    assert wrong.exit_code == 2 and "no bureau" in wrong.stderr


@pytest.mark.slow
def test_a_stage_whose_inputs_changed_is_done_again(small_run, tmp_path: Path) -> None:
    import shutil

    from bureau.pipeline import run_stages

    run = tmp_path / "run"
    shutil.copytree(small_run.path, run)
    before = (run / "report" / "comparison.csv").read_bytes()
    assert run_stages(run, stages=["compare"]).outcome("compare").skipped
    relinked = run_stages(run, stages=["reconcile"], method="exact").outcome("reconcile")
    assert not relinked.skipped
    manifest = json.loads((run / "manifest.json").read_text())
    # Reconciled anew: what compare made from the old links is no longer reported as done.
    assert "compare" not in manifest["stages"]
    compared = runner.invoke(app, ["compare", str(run), "-q", "-w", "2"])
    assert compared.exit_code == 0, compared.stderr
    assert "nothing to do" not in compared.stdout
    assert (run / "report" / "comparison.csv").read_bytes() != before
    # Done again with the same inputs, it is a no-op.
    assert run_stages(run, stages=["compare"]).outcome("compare").skipped


def test_messages_show_neither_staging_paths_nor_numpy_reprs() -> None:
    from bureau.cli.common import public_text

    raw = (
        "runs/.baseline.4242.k3j_9x2a.partial/world/persons: 3 rows, np.int64(7) of np.float64(0.5)"
    )
    assert public_text(raw) == "runs/baseline/world/persons: 3 rows, 7 of 0.5"


def test_library_arguments_are_shown_as_the_options_that_carry_them() -> None:
    from bureau.cli import simulate
    from bureau.cli import sweep as sweep_command

    assert option_for(simulate.run, "overrides") == "--set"
    assert option_for(simulate.run, "overrides population.persons") == "--set population.persons"
    assert option_for(simulate.simulate, "overrides a, b") == "--set a, b"
    assert option_for(sweep_command.sweep, "settings sharing") == "--set sharing"
    assert option_for(sweep_command.sweep, "seeds") == "--seeds"
    assert option_for(simulate.run, "db_url") == "--db"
    # A field that no option carries is left as it is, spaces and all.
    assert option_for(simulate.run, "monthly income") == "monthly income"
    assert option_for(sweep_command.sweep, "--set") == "--set"
