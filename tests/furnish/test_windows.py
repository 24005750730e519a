"""Furnishing by windows of arrival months gives the files and the truth of furnishing at once."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bureau import load_scenario
from bureau.furnish.stage import FurnishJob, furnish_bureau
from bureau.layout import RunLayout
from bureau.rundir import content_hashes
from bureau.world import write_world


@pytest.fixture(scope="module")
def world_run(tmp_path_factory: pytest.TempPathFactory):
    scn = load_scenario(
        "small",
        {"population.persons": 1500, "population.chunk_size": 1500, "sharing": "shared"},
    )
    root = tmp_path_factory.mktemp("windows")
    write_world(scn, root / "world")
    return scn, RunLayout(root)


@pytest.mark.parametrize("bureau", ["sesame", "qianhai", "pengyuan"])
def test_windows_of_months_add_up_to_the_whole(world_run, tmp_path: Path, bureau: str) -> None:
    scn, run = world_run
    whole = RunLayout(tmp_path / "whole")
    furnish_bureau(FurnishJob(scn, bureau, run, whole))
    parts = []
    for i, months in enumerate([(0, 13), (13, 19), (19, scn.months)]):
        out = RunLayout(tmp_path / f"part{i}")
        furnish_bureau(FurnishJob(scn, bureau, run, out, months=months))
        parts.append(out)
    whole_files = content_hashes(whole.feeds_of(bureau))
    part_files: dict[str, str] = {}
    for part in parts:
        found = content_hashes(part.feeds_of(bureau))
        # A month's folder is written by one window only, whole.
        assert not set(found) & set(part_files)
        part_files.update(found)
    assert part_files == whole_files
    assert len(whole_files) > 30

    def truth(layouts: list[RunLayout]) -> pd.DataFrame:
        frames = [pd.read_parquet(layout.furnished_truth(bureau)) for layout in layouts]
        both = pd.concat(frames, ignore_index=True)
        return both.sort_values(["file", "line", "truth_key"], ignore_index=True)

    pd.testing.assert_frame_equal(truth(parts), truth([whole]))
    whole_defects = pd.read_parquet(whole.defects_truth(bureau))
    part_defects = pd.concat([pd.read_parquet(p.defects_truth(bureau)) for p in parts])
    assert len(part_defects) == len(whole_defects) > 0
