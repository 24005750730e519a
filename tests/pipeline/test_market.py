"""The credit market in a run: rounds of decisions with bureau scores, and what they did."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bureau import load_scenario
from bureau.config.market import OWN_JUDGMENT
from bureau.formats.schema import month_labels
from bureau.layout import RunLayout
from bureau.pipeline import run_stages
from bureau.rundir import content_hashes


@pytest.mark.slow
def test_every_round_decides_with_the_scores_lenders_buy(small_run) -> None:
    scn = small_run.scenario
    run = RunLayout(small_run.path)
    apps = pd.read_parquet(run.world_table("applications"))
    before = apps[apps["month"] < scn.market_start]
    assert (before["decided_by"] == OWN_JUDGMENT).all()
    market = apps[apps["month"] >= scn.market_start]
    by_bureau = market[market["decided_by"].isin(scn.active_bureaus)]
    assert len(by_bureau) > 0.3 * len(market)
    assert by_bureau["pd"].notna().all() and before["pd"].isna().all()
    for start in scn.market_rounds:
        folder = run.market_round(start)
        assert (folder / "done").is_file()
        lenders = pd.read_parquet(folder / "lenders.parquet")
        assert set(lenders["lender"]) == set(scn.lenders)
        answers = pd.read_parquet(folder / "answers.parquet")
        assert set(answers["bureau"]) == set(scn.active_bureaus)
    # A lender decides with its own bureaus only, at its cut-off.
    decisions = pd.read_parquet(run.market_round(scn.market_rounds[0]) / "decisions.parquet")
    lenders = pd.read_parquet(run.market_round(scn.market_rounds[0]) / "lenders.parquet")
    decided = apps.merge(decisions[["application_id"]], on="application_id")
    option = lenders.set_index("lender")["option"]
    cutoff = lenders.set_index("lender")["cutoff"]
    scored = decided[decided["pd"].notna()]
    for row in scored.itertuples():
        assert row.decided_by in option[row.lender_id].split("+")
        assert row.approved == (row.pd <= cutoff[row.lender_id] + 1e-7)


@pytest.mark.slow
def test_the_bureaus_record_the_inquiries_they_answered(small_run) -> None:
    from sqlalchemy import select

    from bureau.store.credit_file import Inquiry

    scn = small_run.scenario
    run = RunLayout(small_run.path)
    apps = pd.read_parquet(run.world_table("applications"))
    recorded = 0
    for bureau in scn.active_bureaus:
        with run.bureau_database(bureau) as engine, engine.connect() as conn:
            held = pd.read_sql(
                select(Inquiry.furnisher, Inquiry.month, Inquiry.source_file, Inquiry.product),
                conn,
            )
        market = held[held["source_file"] == "market"]
        recorded += len(market)
        for start in scn.market_rounds:
            folder = run.market_round(start)
            lenders = pd.read_parquet(folder / "lenders.parquet")
            buyers = {r.lender for r in lenders.itertuples() if bureau in r.option.split("+")}
            answers = pd.read_parquet(folder / "answers.parquet")
            found = answers[(answers["bureau"] == bureau) & (answers["consumer_id"] >= 0)]
            made = apps[apps["application_id"].isin(found["application_id"])]
            # Exactly the applications its buyers made, of applicants it had a file on.
            expected = made[made["lender_id"].astype(str).isin(buyers)]
            month = market["month"].to_numpy()
            in_round = market[(month >= start) & (month < start + scn.market.round_months)]
            assert len(in_round) == len(expected), (bureau, start)
            assert set(in_round["furnisher"]) == set(expected["lender_id"].astype(str))
        # Lenders report no inquiry once the market is open (batch scoring, which other tests
        # run on this run, records its own).
        late = held[(held["source_file"] != "market") & (held["product"] != "batch_review")]
        assert (late["month"] < scn.market_start).all()
    assert recorded > 0


@pytest.mark.slow
def test_the_market_report_measures_lending_shares_access_and_selection(small_run) -> None:
    scn = small_run.scenario
    report = small_run.path / "report"
    lending = pd.read_parquet(report / "lending.parquet")
    assert set(lending["round"]) == {0, *scn.market_rounds}
    assert (lending["approvals"] <= lending["applications"]).all()
    known = lending.dropna(subset=["default_rate_approved", "counterfactual_default_rate_declined"])
    # Lenders decline the riskier applicants, on their own or with scores.
    declined = known["counterfactual_default_rate_declined"] * known["applications"]
    approved = known["default_rate_approved"] * known["applications"]
    assert declined.sum() > approved.sum()
    shares = pd.read_parquet(report / "market_share.parquet")
    total = shares.groupby("round")["share"].sum()
    assert np.allclose(total[total > 0], 1.0)
    assert (shares["revenue"] >= 0).all()
    access = pd.read_parquet(report / "credit_access.parquet")
    assert {"hukou", "gender", "age_band", "city_tier", "thin_file", "no_platform"} <= set(
        access["attribute"]
    )
    rated = access.dropna(subset=["approval_rate_low"])
    assert (rated["approval_rate_low"] <= rated["approval_rate"] + 1e-9).all()
    assert (rated["approval_rate"] <= rated["approval_rate_high"] + 1e-9).all()
    bias = pd.read_parquet(report / "selection_bias.parquet")
    assert set(bias["round"]) == set(scn.market_rounds)
    assert (bias["booked"] <= bias["scored"]).all()
    assert bias["auc_reported"].notna().any()


@pytest.mark.slow
def test_months_before_the_market_are_the_same_bytes_without_it(small_run, tmp_path: Path) -> None:
    scn = load_scenario(small_run.path / "scenario.resolved.toml", {"market.enabled": False})
    off = run_stages(tmp_path / "off", scn, stages=["furnish"], workers=2)
    opened = small_run.scenario.market_start
    first = str(month_labels(scn.start_date, np.array([opened]))[0])
    on_feeds = content_hashes(small_run.path / "feeds")
    off_feeds = content_hashes(off.path / "feeds")

    def early(hashes: dict[str, str]) -> dict[str, str]:
        return {k: v for k, v in hashes.items() if k.split("/")[1] < first}

    assert early(on_feeds) == early(off_feeds) and len(early(on_feeds)) > 50
    for table in ("account_months", "applications"):
        on = pd.read_parquet(small_run.path / "world" / table)
        without = pd.read_parquet(off.path / "world" / table)
        on = on[on["month"] < opened].reset_index(drop=True)
        without = without[without["month"] < opened].reset_index(drop=True)
        pd.testing.assert_frame_equal(on, without)


@pytest.mark.slow
def test_the_market_command_shows_the_rounds_and_is_a_no_op_when_done(small_run) -> None:
    import json

    from typer.testing import CliRunner

    from bureau.cli.main import app

    runner = CliRunner()
    report = small_run.path / "report" / "lending.parquet"
    before = report.read_bytes()
    shown = runner.invoke(app, ["market", str(small_run.path), "-w", "1"])
    assert shown.exit_code == 0, shown.stderr
    assert "share of inquiries by round" in shown.stdout and "lending by round" in shown.stdout
    # Every round done: entered again, it changes nothing, and what came after stays done.
    assert report.read_bytes() == before
    manifest = json.loads((small_run.path / "manifest.json").read_text())
    assert "compare" in manifest["stages"]
    as_json = runner.invoke(app, ["market", str(small_run.path), "--json", "-w", "1"])
    payload = json.loads(as_json.stdout)
    rounds = {row["round"] for row in payload["lending"]}
    assert rounds == {0, *small_run.scenario.market_rounds}
    assert {"bureau", "share", "revenue"} <= set(payload["market_share"][0])


@pytest.mark.slow
def test_a_market_where_no_lender_buys_runs_and_sells_nothing(tmp_path: Path) -> None:
    base = load_scenario("small")
    overrides: dict[str, object] = {
        f"lenders.{lender}.policy": "own_judgment" for lender in base.lenders
    }
    # Two bureaus are enough to sell nothing, and keep the run short.
    kept = ("qianhai", "kaola")
    overrides |= {f"bureaus.{b}.enabled": False for b in base.bureaus if b not in kept}
    overrides |= {"population.persons": 600, "population.chunk_size": 300}
    scn = load_scenario("small", overrides)
    result = run_stages(tmp_path / "run", scn, stages=["market"], workers=2)
    apps = pd.read_parquet(result.path / "world" / "applications")
    assert (apps["decided_by"] == OWN_JUDGMENT).all()
    shares = pd.read_parquet(result.path / "report" / "market_share.parquet")
    assert (shares["subscribers"] == 0).all() and (shares["revenue"] == 0).all()
    lending = pd.read_parquet(result.path / "report" / "lending.parquet")
    assert set(lending["round"]) == {0, *scn.market_rounds}


@pytest.mark.slow
def test_the_aggregator_hubs_a_shared_market_and_a_bureau_can_keep_its_model(
    tmp_path: Path,
) -> None:
    from sqlalchemy import select

    from bureau.config.market import AGGREGATOR
    from bureau.pipeline.market_round import round_model_file
    from bureau.store.credit_file import Inquiry

    scn = load_scenario(
        "small",
        {
            "population.persons": 1000,
            "population.chunk_size": 500,
            "sharing": "shared",
            # Three bureaus are enough to weigh, and keep the run short.
            **{
                f"bureaus.{b}.enabled": False
                for b in ("chengxin", "huadao", "sesame", "tencent", "zhongzhicheng")
            },
            "lenders.mashang.policy": "consensus",
            "lenders.mashang.bureaus": [],
            "bureaus.qianhai.retrain": False,
        },
    )
    result = run_stages(tmp_path / "run", scn, stages=["market"], workers=2)
    run = RunLayout(result.path)
    rounds = scn.market_rounds
    apps = pd.read_parquet(run.world_table("applications"))
    month = apps["month"].to_numpy()
    mashang = apps[(apps["lender_id"].astype(str) == "mashang") & (month >= scn.market_start)]
    scored = mashang[mashang["pd"].notna()]
    assert len(scored) and (scored["decided_by"] == AGGREGATOR).all()
    for start in rounds:
        folder = run.market_round(start)
        answers = pd.read_parquet(folder / "answers.parquet")
        assert AGGREGATOR in set(answers["bureau"])
        lenders = pd.read_parquet(folder / "lenders.parquet").set_index("lender")
        assert lenders.loc["mashang", "option"] == AGGREGATOR
        assert lenders.loc["mashang", "policy"] == "consensus"
        # The hub answers where a member bureau had a file, and only there.
        pds = answers.pivot_table(index="application_id", columns="bureau", values="pd")
        members = pds.drop(columns=AGGREGATOR).notna().any(axis=1)
        assert (pds[AGGREGATOR].notna() == members).all()
    # The hub learns its weights once enough of its earlier inquiries have gone bad or good.
    models = pd.concat(pd.read_parquet(run.market_round(s) / "models.parquet") for s in rounds)
    hub = models[models["bureau"] == AGGREGATOR]
    assert len(hub) == len(rounds) and hub["fitted"].iloc[-1]
    # Qianhai fits once and rescores with that model after; the others refit every round.
    qianhai = models[models["bureau"] == "qianhai"]
    first = qianhai[qianhai["fitted"]]["round"].min()
    assert round_model_file(run, first, "qianhai", "lightgbm").is_file()
    later = qianhai[qianhai["round"] > first]
    assert len(later) and later["fitted"].all() and not later["refitted"].any()
    assert (later["snapshot"] == qianhai.loc[qianhai["round"] == first, "snapshot"].iloc[0]).all()
    others = models[(models["bureau"] == "pengyuan") & (models["round"] > first)]
    assert others["refitted"].all()
    # Every member bureau records the inquiries the hub forwarded for its buyers.
    with run.bureau_database("kaola") as engine, engine.connect() as conn:
        held = pd.read_sql(select(Inquiry.furnisher, Inquiry.source_file), conn)
    assert ((held["source_file"] == "market") & (held["furnisher"] == "mashang")).any()
    shares = pd.read_parquet(run.report_file("market_share"))
    hub_share = shares[shares["bureau"] == AGGREGATOR]
    assert (hub_share["revenue"] > 0).any()
