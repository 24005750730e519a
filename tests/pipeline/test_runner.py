"""The stage contract and the runner, on stages declared for the test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bureau import load_scenario
from bureau.errors import BureauError
from bureau.pipeline import (
    STAGES,
    Stage,
    StageContext,
    StageResult,
    Window,
    dependents,
    plan,
    run_stages,
)

SCENARIO = load_scenario("small")


class Recorder:
    """Stages that record how they were run and write one file each."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[str, ...] | None, str | None, Window | None]] = []
        self.changed: dict[str, bool] = {}

    def stage(self, name: str, requires: tuple[str, ...] = (), **declared: object) -> Stage:
        def run(ctx: StageContext) -> StageResult:
            self.calls.append((name, ctx.bureaus, ctx.method, ctx.window))
            (ctx.layout.root / f"{name}.txt").write_text(name, encoding="utf-8")
            rows = (
                {f"{b}.{name}": 1 for b in ctx.active_bureaus}
                if declared.get("per_bureau")
                else {name: 1}
            )
            keys = (
                {"method": ctx.method or "default"} if "method" in declared.get("keys", ()) else {}
            )
            return StageResult(rows, changed=self.changed.get(name, True), keys=keys)

        return Stage(name, requires, run, **declared)  # type: ignore[arg-type]

    def names(self) -> list[str]:
        return [call[0] for call in self.calls]


@pytest.fixture
def stages() -> tuple[Recorder, dict[str, Stage]]:
    recorder = Recorder()
    registry = {
        s.name: s
        for s in (
            recorder.stage("make"),
            recorder.stage("load", ("make",), per_bureau=True),
            recorder.stage("link", ("load",), keys=("method",)),
            recorder.stage("round", ("make",), windowed=True),
            recorder.stage("pick_up", ("make",), resumable=True),
        )
    }
    return recorder, registry


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def test_the_chain_is_declared_in_dependency_order() -> None:
    seen: set[str] = set()
    for name, stage in STAGES.items():
        assert stage.name == name and set(stage.requires) <= seen, name
        seen.add(name)
    assert plan(["compare"]) == list(STAGES)
    assert plan(["train"]) == ["world", "furnish", "ingest", "market", "train"]
    assert dependents("accuracy") == ["compare"]
    assert dependents("compare") == []


def test_a_stage_asked_for_runs_what_it_requires_first(tmp_path: Path, stages) -> None:
    recorder, registry = stages
    out = tmp_path / "run"
    result = run_stages(out, SCENARIO, stages=["link"], registry=registry)
    assert recorder.names() == ["make", "load", "link"]
    assert [o.name for o in result.stages] == ["make", "load", "link"]
    assert list(manifest(out)["stages"]) == ["make", "load", "link"]
    # Done for the same inputs: nothing is run again, whichever way it is asked.
    again = run_stages(out, SCENARIO, stages=["link"], registry=registry)
    assert all(o.skipped for o in again.stages) and recorder.names() == ["make", "load", "link"]
    assert run_stages(out, stages=["link"], registry=registry).outcome("link").skipped


def test_a_per_bureau_stage_runs_only_the_bureaus_not_done(tmp_path: Path, stages) -> None:
    recorder, registry = stages
    out = tmp_path / "run"
    run_stages(out, SCENARIO, stages=["load"], bureaus=["sesame"], registry=registry)
    assert recorder.calls[-1][1] == ("sesame",)
    run_stages(out, stages=["load"], registry=registry)
    rest = tuple(b for b in SCENARIO.active_bureaus if b != "sesame")
    assert recorder.calls[-1][1] == rest
    record = manifest(out)["stages"]["load"]
    assert record["bureaus"] == list(SCENARIO.active_bureaus)
    assert set(record["rows"]) == {f"{b}.load" for b in SCENARIO.active_bureaus}
    assert run_stages(out, stages=["load"], registry=registry).outcome("load").skipped


def test_a_keyed_stage_runs_again_when_asked_with_another_value(tmp_path: Path, stages) -> None:
    recorder, registry = stages
    out = tmp_path / "run"
    run_stages(out, SCENARIO, stages=["link"], registry=registry)
    assert manifest(out)["stages"]["link"]["method"] == "default"
    relinked = run_stages(out, stages=["link"], method="exact", registry=registry)
    assert not relinked.outcome("link").skipped and recorder.calls[-1][2] == "exact"
    assert manifest(out)["stages"]["link"]["method"] == "exact"
    # Asked with no value, what it ran with stands: it is a prerequisite, done.
    assert run_stages(out, stages=["link"], registry=registry).outcome("link").skipped


def test_a_windowed_stage_keeps_each_window_it_ran(tmp_path: Path, stages) -> None:
    recorder, registry = stages
    out = tmp_path / "run"
    for window in (Window(0, 12), Window(12, 24)):
        outcome = run_stages(out, SCENARIO, stages=["round"], window=window, registry=registry)
        assert not outcome.outcome("round").skipped
    assert manifest(out)["stages"]["round"]["windows"] == [[0, 12], [12, 24]]
    again = run_stages(out, stages=["round"], window=Window(0, 12), registry=registry)
    assert again.outcome("round").skipped
    assert [call[3] for call in recorder.calls if call[0] == "round"] == [
        Window(0, 12),
        Window(12, 24),
    ]


def test_what_a_stage_replaces_is_done_again(tmp_path: Path, stages) -> None:
    recorder, registry = stages
    out = tmp_path / "run"
    run_stages(out, SCENARIO, stages=["link", "round"], registry=registry)
    # Loading one more bureau replaces what linking was made from, not the rounds.
    record = manifest(out)
    record["stages"]["load"]["bureaus"] = ["sesame"]
    (out / "manifest.json").write_text(json.dumps(record), encoding="utf-8")
    run_stages(out, stages=["load"], registry=registry)
    assert list(manifest(out)["stages"]) == ["make", "load", "round"]
    run_stages(out, stages=["link"], registry=registry)
    assert recorder.names()[-2:] == ["load", "link"]


def test_a_resumable_stage_asked_by_name_is_entered_again(tmp_path: Path, stages) -> None:
    recorder, registry = stages
    out = tmp_path / "run"
    run_stages(out, SCENARIO, stages=["pick_up"], registry=registry)
    recorder.changed["pick_up"] = False
    run_stages(out, stages=["pick_up"], registry=registry)
    assert recorder.names() == ["make", "pick_up", "pick_up"]
    # Run again from the scenario, the same inputs, it is done.
    run_stages(out, SCENARIO, stages=["pick_up"], registry=registry)
    assert recorder.names() == ["make", "pick_up", "pick_up"]


def test_an_unknown_stage_or_bureau_is_named(tmp_path: Path, stages) -> None:
    _, registry = stages
    with pytest.raises(BureauError, match="no stage nothing") as raised:
        run_stages(tmp_path / "run", SCENARIO, stages=["nothing"], registry=registry)
    assert raised.value.field == "stages"
    with pytest.raises(BureauError, match="no bureau equifax") as raised:
        run_stages(tmp_path / "run", SCENARIO, bureaus=["equifax"], registry=registry)
    assert raised.value.field == "bureaus"
    assert not (tmp_path / "run").exists()
