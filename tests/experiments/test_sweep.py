from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import bureau
from bureau.cli.main import app
from bureau.config.market import AGGREGATOR
from bureau.experiments import SweepError, grid, parse_settings, split_values

# Two bureaus of 500 persons: the smallest world in which every stage, training and Splink
# linkage included, still has something to work on, so that the sweeps fit in the test time.
BASE = {
    "population.persons": 500,
    "population.chunk_size": 250,
    **{
        f"bureaus.{b}.enabled": False
        for b in ("tencent", "kaola", "pengyuan", "chengxin", "zhongzhicheng", "huadao")
    },
}
SETTINGS = {"sharing": ["siloed", "shared"]}
SEEDS = 2
OUTPUTS = ("sweep.parquet", "sweep.csv", "sweep.json", "sweep.png")
#: The views of the market's figures (the others are the bureaus and the aggregator).
MARKET_VIEWS = ("lending", "access")


@pytest.fixture(scope="module")
def scenario() -> bureau.Scenario:
    return bureau.load_scenario("small", BASE)


@pytest.fixture(scope="module")
def swept(scenario, tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    out = tmp_path_factory.mktemp("sweeps") / "sharing"
    return out, bureau.sweep(scenario, SETTINGS, SEEDS, out, workers=2)


@pytest.mark.slow
def test_the_table_has_a_row_per_cell_view_and_metric(swept) -> None:
    out, table = swept
    assert list(table.columns) == [
        "cell",
        "sharing",
        "view",
        "metric",
        "seeds",
        "mean",
        "std",
        "ci_low",
        "ci_high",
    ]
    assert list(dict.fromkeys(table["cell"])) == ["sharing=siloed", "sharing=shared"]
    assert not table.duplicated(["cell", "view", "metric"]).any()
    assert (table["sharing"] == table["cell"].str.removeprefix("sharing=")).all()
    assert table["seeds"].between(0, SEEDS).all()
    comparison = pd.read_parquet(
        out / "cells" / "sharing=siloed" / "seed-0" / "report" / "comparison.parquet"
    )
    numeric = list(comparison.select_dtypes(include="number").columns)
    extra = ["linkage_f1_exact", "linkage_f1_splink", "visible_coverage"]
    for _, cell in table.groupby("cell"):
        aggregator = cell[cell["view"] == "aggregator"]
        # Where the regime offers its consensus, the aggregator sells in the market too.
        aggregator = aggregator[aggregator["metric"] != "market_share"]
        assert list(aggregator["metric"]) == [*numeric, *extra]
        assert (aggregator.set_index("metric").loc[["truth_auc", *extra], "seeds"] == SEEDS).all()
        for view, rows in cell.groupby("view"):
            if view in MARKET_VIEWS:
                continue
            expected = [*numeric, *extra] if view == "aggregator" else numeric
            # A bureau some lender buys from has its share of the market's inquiries too.
            assert [m for m in rows["metric"] if m != "market_share"] == expected
        lending = set(cell.loc[cell["view"] == "lending", "metric"])
        assert {"approval_rate", "default_rate_approved", "margin"} <= lending
        assert cell.loc[cell["view"] == "access", "metric"].str.startswith("approval_rate:").any()
    for name in OUTPUTS:
        assert (out / name).stat().st_size > 0
    assert (out / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pd.read_parquet(out / "sweep.parquet").equals(table)


@pytest.mark.slow
def test_the_mean_is_that_of_the_runs_and_lies_within_its_interval(swept) -> None:
    out, table = swept
    runs = [
        pd.read_parquet(path / "report" / "comparison.parquet").set_index("bureau")
        for path in sorted((out / "cells" / "sharing=shared").glob("seed-*"))
    ]
    assert len(runs) == SEEDS
    row = table.set_index(["cell", "view", "metric"]).loc[
        ("sharing=shared", "aggregator", "truth_auc")
    ]
    values = [run.loc["aggregator", "truth_auc"] for run in runs]
    assert row["mean"] == pytest.approx(np.mean(values))
    assert row["std"] == pytest.approx(np.std(values, ddof=1))
    with_interval = table.dropna(subset=["ci_low"])
    assert len(with_interval) > 0
    assert (with_interval["ci_low"] <= with_interval["mean"] + 1e-12).all()
    assert (with_interval["mean"] <= with_interval["ci_high"] + 1e-12).all()
    # One seed (or none) with a value: no interval.
    assert table.loc[table["seeds"] < 2, ["ci_low", "ci_high"]].isna().all().all()


@pytest.mark.slow
def test_a_rerun_skips_every_run_and_writes_the_same_bytes(swept, scenario) -> None:
    out, table = swept
    before = {name: (out / name).read_bytes() for name in OUTPUTS}
    manifests = sorted(out.glob("cells/*/seed-*/manifest.json"))
    assert len(manifests) == 2 * SEEDS
    stamps = [path.stat().st_mtime_ns for path in manifests]
    again = bureau.sweep(scenario, SETTINGS, SEEDS, out, workers=2)
    assert [run.skipped for run in again.attrs["runs"]] == [True] * 2 * SEEDS
    assert [path.stat().st_mtime_ns for path in manifests] == stamps
    assert {name: (out / name).read_bytes() for name in OUTPUTS} == before
    assert again.equals(table)


@pytest.mark.slow
def test_one_worker_gives_the_same_bytes_as_two(swept, scenario, tmp_path) -> None:
    out, _ = swept
    alone = tmp_path / "sharing"
    # One run is made again in this process, the rest taken over: that run's bytes, and the
    # summary over it and the others, are what one worker could change.
    shutil.copytree(out / "cells", alone / "cells")
    shutil.rmtree(alone / "cells" / "sharing=siloed" / "seed-1")
    table = bureau.sweep(scenario, SETTINGS, SEEDS, alone, workers=1)
    assert [run.skipped for run in table.attrs["runs"]] == [True, False, True, True]
    run = Path("cells") / "sharing=siloed" / "seed-1"
    made, first = (json.loads((root / run / "manifest.json").read_text()) for root in (alone, out))
    assert made["files"] == first["files"]
    for name in OUTPUTS:
        assert (alone / name).read_bytes() == (out / name).read_bytes(), name


@pytest.mark.slow
def test_the_command_line_resumes_a_sweep(swept, tmp_path) -> None:
    out, _ = swept
    copy = tmp_path / "copy"
    shutil.copytree(out / "cells", copy / "cells")
    fixed = [arg for key, value in BASE.items() for arg in ("--set", f"{key}={value}".lower())]
    args = ["sweep", "small", "--out", str(copy), "--set", "sharing=siloed,shared", *fixed]
    result = CliRunner().invoke(app, [*args, "--seeds", str(SEEDS), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "4 runs (4 already done" in result.output
    table = pd.read_parquet(copy / "sweep.parquet")
    assert table["population.persons"].eq(500).all()
    assert set(table["cell"]) == {"sharing=siloed", "sharing=shared"}
    result = CliRunner().invoke(app, [*args, "--seeds", str(SEEDS), "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert [run["skipped"] for run in printed["runs"]] == [True] * 2 * SEEDS
    assert len(printed["summary"]) == len(table)


def test_values_are_read_with_the_scenario_types(scenario) -> None:
    assert split_values("siloed, shared,licensed_only") == ["siloed", "shared", "licensed_only"]
    assert split_values("[1, 2],[3,4],'a,b'") == ["[1, 2]", "[3,4]", "'a,b'"]
    cells = grid(scenario, {"population.persons": ["600", "700"], "sharing": ["shared"]})
    assert [cell.id for cell, _ in cells] == ["population.persons=600", "population.persons=700"]
    assert [cell.settings["population.persons"] for cell, _ in cells] == [600, 700]
    assert [scn.population.persons for _, scn in cells] == [600, 700]
    assert {scn.sharing for _, scn in cells} == {"shared"}
    cells = grid(scenario, {"aggregator.match_threshold": ["0.3", "0.5"]})
    assert [scn.aggregator.match_threshold for _, scn in cells] == [0.3, 0.5]


@pytest.mark.parametrize(
    ("settings", "error", "key"),
    [
        ({"population.persns": [1, 2]}, bureau.ScenarioError, "population.persns"),
        ({"population.persons": ["many"]}, SweepError, "population.persons"),
        ({"population.persons": [-5, 10]}, bureau.ScenarioError, "population.persons"),
        ({"sharing": ["siloed", "everyone"]}, bureau.ScenarioError, "sharing"),
        ({"sharing": []}, SweepError, "sharing"),
    ],
)
def test_a_bad_key_or_value_is_a_typed_error_naming_the_key(
    scenario, tmp_path, settings, error, key
) -> None:
    with pytest.raises(error, match=key.replace(".", r"\.")) as raised:
        bureau.sweep(scenario, settings, 1, tmp_path / "bad")
    assert isinstance(raised.value, bureau.BureauError)
    assert not (tmp_path / "bad").exists()


def test_the_command_line_names_a_bad_key_in_one_line(tmp_path) -> None:
    result = CliRunner().invoke(
        app, ["sweep", "small", "--out", str(tmp_path / "bad"), "--set", "population.persns=1,2"]
    )
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "population.persns" in lines[0], result.output


@pytest.mark.parametrize(
    ("settings", "seeds", "field"),
    [
        ({"population.persns": [1, 2]}, 1, "settings population.persns"),
        ({"population.persons": ["many"]}, 1, "settings population.persons"),
        ({"sharing": []}, 1, "settings sharing"),
        ({"sharing": ["shared", "shared"]}, 1, "settings sharing"),
        ({"sharing": ["shared"]}, 0, "seeds"),
    ],
)
def test_library_errors_name_the_arguments_of_sweep(
    scenario, tmp_path, settings, seeds: int, field: str
) -> None:
    with pytest.raises(bureau.BureauError) as raised:
        bureau.sweep(scenario, settings, seeds, tmp_path / "bad")
    assert raised.value.field == field and "--" not in str(raised.value)
    with pytest.raises(SweepError) as raised:
        parse_settings(["population.persons"])
    assert raised.value.field == "settings" and "--" not in str(raised.value)


@pytest.mark.parametrize(
    ("args", "start"),
    [
        (["--set", "population.persns=1,2"], "error: --set population.persns: unknown key"),
        (["--set", "population.persons=many"], "error: --set population.persons: "),
        (["--set", "sharing=shared", "--set", "sharing=siloed"], "error: --set sharing: given"),
        (["--set", "sharing"], "error: --set: must be KEY=V1,V2,..."),
        (["--until", "nowhere"], "error: --until: no stage 'nowhere'"),
    ],
)
def test_the_command_line_names_its_options(tmp_path, args: list[str], start: str) -> None:
    result = CliRunner().invoke(app, ["sweep", "small", "--out", str(tmp_path / "bad"), *args])
    assert result.exit_code == 2
    assert result.output.strip().startswith(start), result.output


@pytest.mark.slow
def test_a_sweep_sets_each_regime_with_the_market_against_lenders_on_their_own(
    scenario, tmp_path
) -> None:
    regimes = ["siloed", "shared", "licensed_only"]
    settings = {"sharing": regimes, "market.enabled": ["true", "false"]}
    # The market's figures need no aggregator: each run stops after the market.
    # One seed: the grid is what is tested here; intervals over seeds are tested above.
    table = bureau.sweep(scenario, settings, 1, tmp_path / "market", workers=2, until="market")
    runs = tmp_path / "market" / "cells"
    assert set(table["view"]) <= {"lending", "access", AGGREGATOR, *scenario.active_bureaus}
    assert not (runs / "sharing=siloed__market.enabled=true" / "seed-0" / "models").exists()
    cells = table.set_index(["cell", "view", "metric"])
    for regime in regimes:
        on = f"sharing={regime}__market.enabled=true"
        off = f"sharing={regime}__market.enabled=false"
        for cell in (on, off):
            assert cells.loc[(cell, "lending", "approval_rate"), "seeds"] == 1
        # Bureaus sell scores only in a market; the aggregator sells only where lenders
        # can reach it.
        shares = table[(table["metric"] == "market_share") & (table["cell"] == on)]
        assert shares["mean"].sum() == pytest.approx(1.0)
        assert (AGGREGATOR in set(shares["view"])) == (regime != "siloed")
        assert not ((table["metric"] == "market_share") & (table["cell"] == off)).any()
        with_market = pd.read_parquet(runs / on / "seed-0" / "world" / "applications")
        without = pd.read_parquet(runs / off / "seed-0" / "world" / "applications")
        assert (without["decided_by"] == "own_judgment").all()
        assert (with_market["decided_by"] != "own_judgment").any()
    # Without a market, the regime changes what the bureaus hold, never who borrows.
    lending = table[(table["view"] == "lending") & table["cell"].str.endswith("=false")]
    for _, rows in lending.groupby("metric"):
        np.testing.assert_array_equal(rows["mean"], rows["mean"].iloc[0])
