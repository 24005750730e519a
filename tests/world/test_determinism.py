"""Same scenario and seed: the same bytes, whatever the number of workers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bureau import World, load_scenario, simulate
from bureau.config import scenario_to_toml
from bureau.rundir import content_hashes
from bureau.world import TABLES, write_world


def test_one_and_two_workers_write_identical_bytes(tmp_path: Path) -> None:
    scn = load_scenario("small")
    one = write_world(scn, tmp_path / "one", workers=1)
    two = write_world(scn, tmp_path / "two", workers=2)
    assert one == two
    hashes_one = content_hashes(tmp_path / "one")
    hashes_two = content_hashes(tmp_path / "two")
    assert hashes_one == hashes_two
    assert {path.split("/")[0] for path in hashes_one} == set(TABLES)
    assert len(hashes_one) == len(TABLES) * scn.chunks


def test_a_different_seed_gives_a_different_world() -> None:
    a = simulate(load_scenario("small", {"population.persons": 500}))
    b = simulate(load_scenario("small", {"population.persons": 500, "seed": 7}))
    assert not a.persons["national_id"].equals(b.persons["national_id"])
    assert not a.account_months.equals(b.account_months)


def test_in_memory_world_equals_the_written_one(tmp_path: Path) -> None:
    scn = load_scenario("small", {"population.persons": 3000, "population.chunk_size": 1000})
    write_world(scn, tmp_path / "world", workers=2)
    (tmp_path / "scenario.resolved.toml").write_text(scenario_to_toml(scn))
    loaded = World.load(tmp_path)
    assert loaded.scenario == scn
    direct = simulate(scn)
    for name in TABLES:
        pd.testing.assert_frame_equal(
            getattr(loaded, name), getattr(direct, name), check_dtype=False, check_categorical=False
        )
