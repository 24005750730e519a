"""Kills: a run killed outright at any point leaves nothing half-written and resumes to the bytes
of a run never killed, and no worker process outlives the process that started it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from bureau import load_scenario
from bureau.pipeline import run_stages
from tests.cli.test_bad_input import TINY, run_outputs
from tests.processes import all_gone

pytestmark = pytest.mark.slow

#: Where the chain is killed, in order: (stage, the progress count at which it dies).
KILLS = [
    ("world", 1),
    ("furnish", 0),
    ("furnish", 1),
    ("ingest", 0),
    ("ingest", 1),
    ("accuracy", 1),
    ("train", 1),
    ("disputes", 1),
    ("submit", 1),
    ("reconcile", 0),
    ("compare", 1),
]

_KILLED_RUN = """
import os, signal, sys
from bureau import load_scenario
from bureau.pipeline import run_stages
stage, at = sys.argv[2], int(sys.argv[3])
def progress(name, done, total):
    if name == stage and done >= at:
        os.kill(os.getpid(), signal.SIGKILL)
run_stages(sys.argv[1], load_scenario("small", {settings!r}), workers=2, progress=progress)
"""


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny run made once, never killed."""
    out = tmp_path_factory.mktemp("reference") / "run"
    run_stages(out, load_scenario("small", TINY), workers=2)
    return out


def test_a_run_killed_at_every_stage_resumes_to_the_same_bytes(
    reference: Path, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    script = _KILLED_RUN.format(settings=TINY)
    for stage, at in KILLS:
        marker = f"kill-{uuid.uuid4().hex}"
        env = {**os.environ, "BUREAU_TEST_MARK": marker}
        proc = subprocess.run(
            [sys.executable, "-c", script, str(runs / "r"), stage, str(at)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert proc.returncode == -signal.SIGKILL, (stage, at, proc.stderr)
        # Nothing under the run's name; what was done waits in one staging directory.
        assert not (runs / "r").exists(), (stage, at)
        assert len(list(runs.glob(".r.*.partial"))) == 1, (stage, at)
        assert all_gone(marker), (stage, at, "worker processes outlived their parent")
    resumed = run_stages(runs / "r", load_scenario("small", TINY), workers=1)
    assert sorted(p.name for p in runs.iterdir()) == ["r"]
    assert not list((runs / "r").rglob(".*.tmp")) and not list((runs / "r").glob(".furnish.*"))
    assert run_outputs(runs / "r") == run_outputs(reference)
    assert all(s.skipped for s in run_stages(runs / "r", load_scenario("small", TINY)).stages)
    assert resumed.manifest["files"] == _read_manifest(reference)["files"]


def _read_manifest(run: Path) -> dict:
    import json

    return json.loads((run / "manifest.json").read_text())


_KILLED_STAGE = """
import os, signal, sys
from bureau.pipeline import run_stages
stage, at = sys.argv[2], int(sys.argv[3])
def progress(name, done, total):
    if name == stage and done >= at:
        os.kill(os.getpid(), signal.SIGKILL)
run_stages(sys.argv[1], stages=[stage], workers=2, progress=progress).outcome(stage)
"""


@pytest.mark.parametrize(("stage", "at"), [("ingest", 1), ("train", 1), ("compare", 1)])
def test_a_stage_killed_alone_is_done_again_to_the_same_bytes(
    reference: Path, tmp_path: Path, stage: str, at: int
) -> None:
    import json
    import shutil

    from bureau.pipeline import STAGES, run_stages

    run = tmp_path / "run"
    shutil.copytree(reference, run)
    later = list(STAGES)[list(STAGES).index(stage) :]
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["stages"] = {k: v for k, v in manifest["stages"].items() if k not in later}
    (run / "manifest.json").write_text(json.dumps(manifest))
    if stage == "ingest":
        shutil.rmtree(run / "db")
    marker = f"kill-{uuid.uuid4().hex}"
    proc = subprocess.run(
        [sys.executable, "-c", _KILLED_STAGE, str(run), stage, str(at)],
        capture_output=True,
        text=True,
        env={**os.environ, "BUREAU_TEST_MARK": marker},
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert all_gone(marker)
    for name in later:
        run_stages(run, stages=[name], workers=1).outcome(name)
    assert run_outputs(run) == run_outputs(reference)
    assert not list(run.rglob(".*.tmp"))
