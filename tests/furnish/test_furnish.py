"""Furnishing: who reports to whom, and every injected defect recorded in the truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bureau import load_scenario
from bureau.formats import get_codec
from bureau.formats.schema import month_labels
from bureau.furnish import channels, furnish_all
from bureau.layout import RunLayout
from bureau.rundir import content_hashes


def test_siloed_bureaus_hear_only_their_sources() -> None:
    scn = load_scenario("small")
    sesame = {c.source: c for c in channels(scn, "sesame")}
    assert set(sesame) == {"taobao", "alipay", "ant", "courts"}
    assert sesame["ant"].kind == "lender" and sesame["taobao"].kind == "platform"
    assert not any(c.central for c in sesame.values())


def test_shared_regime_adds_every_lender_through_the_central_body() -> None:
    scn = load_scenario("small", {"sharing": "shared"})
    sesame = channels(scn, "sesame")
    central = {c.source for c in sesame if c.central}
    assert central == set(scn.lenders) - {"ant"}
    lag = scn.bureaus["sesame"].reporting_lag + scn.sharing_lag
    assert all(c.lag == lag for c in sesame if c.central)


def test_licensed_only_keeps_platform_data_from_unlicensed_bureaus() -> None:
    scn = load_scenario("small", {"sharing": "licensed_only"})
    assert not any(c.kind == "platform" for c in channels(scn, "sesame"))
    licensed = load_scenario("small", {"sharing": "licensed_only", "bureaus.sesame.licensed": True})
    assert any(c.kind == "platform" for c in channels(licensed, "sesame"))


@pytest.mark.slow
def test_every_defect_is_in_the_truth_and_in_the_file(small_run) -> None:
    run: Path = small_run.path
    scn = small_run.scenario
    seen = set()
    for bureau in scn.active_bureaus:
        codec = get_codec(scn.bureaus[bureau].intake_format)
        layout = RunLayout(run)
        truth = pd.read_parquet(layout.furnished_truth(bureau))
        defects = pd.read_parquet(layout.defects_truth(bureau))
        written = sum(
            len(codec.read(f).records) for f in (run / "feeds" / bureau).rglob(f"*{codec.suffix}")
        )
        assert written == int((truth["file"] != "").sum())
        skipped = truth[truth["defect"] == "skipped_month"]
        assert (skipped["line"] == -1).all() and (skipped["record_type"] == "tradeline").all()
        seen |= set(defects["defect"]) | set(truth["defect"])
        # Check the field defects of one file against what the file says.
        for file, found in list(defects.groupby("file"))[:3]:
            parsed = codec.read(run / "feeds" / bureau / file).records.set_index("line")
            for _, d in found.iterrows():
                value = parsed.loc[d["line"], d["field"]]
                expected = d["reported_value"]
                if d["field"] in ("balance",):
                    assert int(value) == int(expected)
                elif pd.isna(expected):
                    assert pd.isna(value)
                else:
                    assert value == expected
    expected = {
        "late",
        "duplicate",
        "skipped_month",
        "status_error",
        "stale_balance",
        "name_typo",
        "id_transposed",
        "id_missing",
        "old_phone",
    }
    assert expected <= seen


@pytest.mark.slow
def test_feeds_are_the_same_bytes_with_one_and_two_workers(small_run, tmp_path: Path) -> None:
    import shutil

    for name in ("world", "scenario.resolved.toml", "manifest.json"):
        source = small_run.path / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name)
        else:
            shutil.copy(source, tmp_path / name)
    scn = small_run.scenario
    months = (0, scn.market_start)
    # The run's world is the one its market made: the months before the market furnish from it
    # as they did from the world of lenders on their own (keyed draws), in one process here
    # and in two there.
    furnish_all(scn, RunLayout(tmp_path), workers=1, months=months)
    first = str(month_labels(scn.start_date, np.array([scn.market_start]))[0])

    def before(hashes: dict[str, str]) -> dict[str, str]:
        return {
            k: v
            for k, v in hashes.items()
            if (k.startswith("feeds/") and k.split("/")[2] < first)
            or (k.startswith("truth/") and k.endswith(f"/000-{months[1]:03d}.parquet"))
        }

    ours = before(content_hashes(tmp_path))
    theirs = before(content_hashes(small_run.path))
    assert ours == theirs
    assert len(ours) > 100


@pytest.mark.slow
@pytest.mark.parametrize("bureau", ["sesame", "qianhai", "pengyuan"])
def test_each_bureau_gets_its_own_format(small_run, bureau: str) -> None:
    codec = get_codec(small_run.scenario.bureaus[bureau].intake_format)
    files = list((small_run.path / "feeds" / bureau).rglob("*"))
    data = [f for f in files if f.is_file()]
    assert data and all(f.suffix == codec.suffix for f in data)


@pytest.mark.slow
def test_wrongful_public_records_have_no_true_owner(small_run, tmp_path: Path) -> None:
    from bureau.furnish.stage import FurnishJob, furnish_bureau

    scn = load_scenario(
        small_run.path / "scenario.resolved.toml", {"bureaus.chengxin.defects.wrongful_record": 0.5}
    )
    furnish_bureau(FurnishJob(scn, "chengxin", RunLayout(small_run.path), RunLayout(tmp_path)))
    truth = pd.read_parquet(RunLayout(tmp_path).furnished_truth("chengxin"))
    records = truth[truth["record_type"] == "public_record"]
    wrongful = records[records["defect"] == "wrongful_record"]
    assert len(wrongful) > 0.2 * len(records)
    assert (wrongful["person_id"] == -1).all() and (wrongful["truth_key"] == -1).all()
