"""A world loaded from a run directory reads each table on first use, and shows itself briefly."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

import bureau.world.world as world_module
from bureau import World, load_scenario, simulate
from bureau.config import scenario_to_toml
from bureau.errors import RunDirectoryError
from bureau.store.parquet import read_table
from bureau.world import TABLES, write_world

OVERRIDES = {"population.persons": 400, "population.chunk_size": 200}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run directory holding only a world of 400 persons, in two chunks."""
    scenario = load_scenario("small", OVERRIDES)
    out = tmp_path_factory.mktemp("run")
    write_world(scenario, out / "world")
    (out / "scenario.resolved.toml").write_text(scenario_to_toml(scenario))
    return out


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tables read from their files, in order."""
    seen: list[str] = []

    def recording(table_dir: Path, *args, **kwargs) -> pd.DataFrame:
        seen.append(table_dir.name)
        return read_table(table_dir, *args, **kwargs)

    monkeypatch.setattr(world_module, "read_table", recording)
    return seen


def test_a_loaded_world_reads_a_table_when_first_used(run: Path, reads: list[str]) -> None:
    world = World.load(run)
    assert reads == []
    persons = world.persons
    assert reads == ["persons"]
    assert world.persons is persons and reads == ["persons"]  # read once, then held
    pd.testing.assert_frame_equal(persons, read_table(run / "world" / "persons"))
    assert list(world.tables()) == list(TABLES)
    assert sorted(reads) == sorted(TABLES)


def test_tables_left_out_of_a_load_are_empty_and_never_read(run: Path, reads: list[str]) -> None:
    world = World.load(run, tables=["persons", "outcomes"])
    assert world.accounts.empty and world.signals.empty
    assert len(world.outcomes) > 0
    assert sorted(reads) == ["outcomes"]
    world.accounts = pd.DataFrame({"account_id": [1]})  # a table can still be set
    assert len(world.accounts) == 1


def test_a_table_without_files_is_found_at_load(run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    shutil.rmtree(copy / "world" / "signals")
    World.load(copy, tables=["persons"])  # not asked for: no matter
    with pytest.raises(RunDirectoryError, match="no table files here") as caught:
        World.load(copy)
    assert caught.value.path == copy / "world" / "signals"


def test_a_world_shows_its_scenario_and_rows_without_reading_a_table(
    run: Path, reads: list[str]
) -> None:
    world = World.load(run)
    text = repr(world)
    lines = text.splitlines()
    assert lines[0] == "World 'small': 400 persons, 36 months (2017-07 to 2020-06)"
    assert len(lines) == 1 + len(TABLES)
    assert all(line.endswith("(not loaded)") for line in lines[1:])
    html = world._repr_html_()
    assert reads == []
    assert html.startswith("<table>") and html.count("<tr>") == len(TABLES)
    assert "&#x27;small&#x27;" in html and "'small'" not in html  # every value escaped
    persons = world.persons
    assert f"  persons         {len(persons):,}\n" in repr(world)
    rows = {name: len(frame) for name, frame in world.tables().items()}
    assert [line.split()[1] for line in lines[1:]] == [f"{rows[name]:,}" for name in TABLES]
    left = repr(World.load(run, tables=["persons"]))
    assert "  accounts        left out of the load (empty)" in left


def test_a_world_in_memory_shows_its_rows() -> None:
    world = simulate(load_scenario("small", OVERRIDES))
    lines = repr(world).splitlines()
    assert lines[0].startswith("World 'small': 400 persons")
    assert lines[1] == f"  persons         {len(world.persons):,}"
    assert not any("not loaded" in line for line in lines)
