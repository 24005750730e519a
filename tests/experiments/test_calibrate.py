from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import bureau
from bureau.cli.main import app
from bureau.experiments import calibrate as calibration
from bureau.experiments.targets import (
    REPORT_TABLES,
    CalibrationError,
    load_parameters,
    load_targets,
    needed_stages,
    scenario_values,
)

runner = CliRunner()

# Two bureaus of 300 persons and no market: each run goes through ingestion and the market
# stage's lending tables (the lenders on their own judgment) in a few seconds.
TINY = {
    "population.persons": 300,
    "population.chunk_size": 300,
    "market.enabled": False,
    **{
        f"bureaus.{b}.enabled": False
        for b in bureau.load_scenario("small").bureaus
        if b not in ("sesame", "pengyuan")
    },
}
TARGETS = """
[targets.approval]
statistic = "lending.approval_rate"
aggregate = "mean"
value = 0.45
tolerance = 0.05
source = "a test figure"

[targets.big_lender]
statistic = "lending.applications"
aggregate = "max"
where = { lender = ["icbc", "ccb"] }
value = 40
tolerance = 20
weight = 0.5
"""
PARAMS = """
[params]
"products.credit_card.approval_cutoff" = { low = -1.0, high = 1.0, start = 0.25 }
loan_cutoffs = { keys = ["products.consumer_loan.approval_cutoff", \
"products.mortgage.approval_cutoff"], low = -1.0, high = 1.0 }
"""


@pytest.fixture
def scenario() -> bureau.Scenario:
    return bureau.load_scenario("small", TINY)


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    targets, params = tmp_path / "targets.toml", tmp_path / "params.toml"
    targets.write_text(TARGETS)
    params.write_text(PARAMS)
    return targets, params


def test_targets_and_parameters_are_read_as_given(scenario, files) -> None:
    targets, params = files
    found = load_targets(targets)
    assert [t.name for t in found] == ["approval", "big_lender"]
    assert found[1].where == {"lender": ("icbc", "ccb")} and found[1].weight == 0.5
    assert found[0].statistic == "lending.approval_rate" and found[0].source == "a test figure"
    assert needed_stages(found) == ["market"]
    keys = load_parameters(params, scenario)
    assert [p.key for p in keys] == ["products.credit_card.approval_cutoff", "loan_cutoffs"]
    assert not keys[0].integer and (keys[0].low, keys[0].high) == (-1.0, 1.0)
    assert keys[0].start == 0.25 and keys[1].start is None
    # A named parameter moves its keys together.
    assert keys[0].moves == ("products.credit_card.approval_cutoff",)
    assert scenario_values(
        keys, {"products.credit_card.approval_cutoff": 0.1, "loan_cutoffs": 0.2}
    ) == {
        "products.credit_card.approval_cutoff": 0.1,
        "products.consumer_loan.approval_cutoff": 0.2,
        "products.mortgage.approval_cutoff": 0.2,
    }


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        (
            '[targets.a]\nstatistic = "nope.x"\nvalue = 1\ntolerance = 1',
            "targets.a.statistic",
            "nope",
        ),
        (
            '[targets.a]\nstatistic = "pairwise.same_teir"\nvalue = 1\ntolerance = 1',
            "targets.a.statistic",
            "same_teir",
        ),
        (
            '[targets.a]\nstatistic = "pairwise.same_tier"\naggregate = "mode"\nvalue = 1\n'
            "tolerance = 1",
            "targets.a.aggregate",
            "mode",
        ),
        (
            '[targets.a]\nstatistic = "pairwise.same_tier"\nvalue = 1\ntolerance = 0',
            "targets.a.tolerance",
            "above zero",
        ),
        (
            '[targets.a]\nstatistic = "pairwise.same_tier"\ntolerance = 1',
            "targets.a.value",
            "number",
        ),
        (
            '[targets.a]\nstatistic = "pairwise.same_tier"\nvalue = 1\ntolerance = 1\nwieght = 2',
            "targets.a.wieght",
            "unknown key",
        ),
        (
            '[targets.a]\nstatistic = "pairwise.same_tier"\nwhere = { pair = "x" }\nvalue = 1\n'
            "tolerance = 1",
            "targets.a.where.pair",
            "no column",
        ),
        ("title = 'no targets'", "title", "unknown key"),
    ],
)
def test_a_bad_target_is_named_before_anything_runs(tmp_path, text, field, words) -> None:
    path = tmp_path / "targets.toml"
    path.write_text(text)
    with pytest.raises(CalibrationError) as caught:
        load_targets(path)
    assert caught.value.field == field and caught.value.path == path
    assert words in caught.value.message


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[params]\n"population.persnos" = { low = 1, high = 2 }', "not a key"),
        ('[params]\n"sharing" = { low = 1, high = 2 }', "not a numeric key"),
        ('[params]\n"market.inertia" = { low = 0.5, high = 0.1 }', "below high"),
        ('[params]\n"market.inertia" = { low = 0.0, high = 0.1, log = true }', "log scale"),
        ('[params]\n"population.persons" = { low = 100.5, high = 200 }', "integer bounds"),
        ('[params]\n"population.persons" = { low = -5, high = 200 }', "refuses -5"),
        ('[params]\nx = { keys = "market.inertia", low = 0, high = 1 }', "list of distinct"),
        ('[params]\n"market.inertia" = { low = 0.0, high = 0.1, start = 0.5 }', "within"),
        ('[params]\nx = { keys = ["market.inertia", "market.nope"], low = 0, high = 1 }', "nope"),
        (
            '[params]\nx = { keys = ["market.inertia", "population.persons"], low = 1, high = 2 }',
            "mixes integer",
        ),
    ],
)
def test_a_bad_parameter_is_named_before_anything_runs(scenario, tmp_path, text, words) -> None:
    path = tmp_path / "params.toml"
    path.write_text(text)
    with pytest.raises(CalibrationError) as caught:
        load_parameters(path, scenario)
    assert caught.value.field.startswith("params.") and caught.value.path == path
    assert words in caught.value.message


def test_the_objective_is_the_weighted_squared_distance_in_tolerances(files) -> None:
    targets = load_targets(files[0])
    # 0.55 is two tolerances off, 40 is on target: (1 * 4 + 0.5 * 0) / 1.5.
    assert calibration.distance([0.55, 40.0], targets) == pytest.approx(4 / 1.5)
    assert np.isnan(calibration.distance([np.nan, 40.0], targets))


@pytest.mark.slow
def test_the_report_tables_have_the_columns_targets_may_name(small_run) -> None:
    report = small_run.path / "report"
    for name, table in REPORT_TABLES.items():
        columns = list(pd.read_parquet(report / f"{name}.parquet").columns)
        assert columns == list(table.columns), name


@pytest.mark.slow
def test_an_interrupted_calibration_resumes_to_the_same_trials(
    scenario, files, tmp_path, monkeypatch
) -> None:
    targets, params = files
    straight = bureau.calibrate(scenario, targets, params, tmp_path / "straight", trials=3, seeds=1)
    # Stopped in the middle of the second trial, as by Ctrl-C: it is left running in the study.
    real = calibration.evaluate
    calls = []

    def stopping(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(calibration, "evaluate", stopping)
    with pytest.raises(KeyboardInterrupt):
        bureau.calibrate(scenario, targets, params, tmp_path / "stopped", trials=3, seeds=1)
    monkeypatch.setattr(calibration, "evaluate", real)
    resumed = bureau.calibrate(scenario, targets, params, tmp_path / "stopped", trials=3, seeds=1)
    done = resumed.trials[resumed.trials["state"] == "complete"].reset_index(drop=True)
    assert list(resumed.trials["state"]) == ["complete", "fail", "complete", "complete"]
    pd.testing.assert_frame_equal(done.drop(columns="trial"), straight.trials.drop(columns="trial"))
    assert resumed.best == straight.best
    pd.testing.assert_frame_equal(resumed.fit, straight.fit)
    # The trials' runs are gone; the study, the tables and the figure stay.
    assert not (tmp_path / "stopped" / calibration.RUNS).exists()
    for name in ("study.db", "calibrated.toml", "fit.csv", "trials.parquet", "calibration.png"):
        assert (tmp_path / "stopped" / name).is_file(), name
    # The calibrated scenario sets the fitted keys over the scenario it extends.
    best = bureau.load_scenario(tmp_path / "straight" / "calibrated.toml")
    assert best.products["credit_card"].approval_cutoff == pytest.approx(
        straight.best["products.credit_card.approval_cutoff"]
    )
    assert best == straight.scenario
    # The first trial tries the value given; the sampler chose the other parameter's.
    first = straight.trials.iloc[0]
    assert first["products.credit_card.approval_cutoff"] == 0.25
    assert -1.0 <= first["loan_cutoffs"] <= 1.0
    # Both keys of the named parameter take its fitted value.
    tied = straight.best["products.consumer_loan.approval_cutoff"]
    assert best.products["mortgage"].approval_cutoff == pytest.approx(tied)
    assert set(straight.trials.columns) >= {"loan_cutoffs", "products.credit_card.approval_cutoff"}
    fit = straight.fit.set_index("target")
    assert list(fit.index) == ["approval", "big_lender"]
    assert (fit["within"] == ((fit["mean"] - fit["value"]).abs() <= fit["tolerance"])).all()
    # A calibration of other inputs is not mixed with the study there.
    with pytest.raises(CalibrationError, match="other inputs"):
        bureau.calibrate(scenario, targets, params, tmp_path / "straight", trials=3, seeds=2)


@pytest.mark.slow
def test_the_command_line_screens_then_calibrates(files, tmp_path) -> None:
    targets = files[0]
    # One parameter: a screening of two trajectories is then four points.
    params = tmp_path / "one.toml"
    params.write_text(PARAMS.splitlines()[1] + "\n" + PARAMS.splitlines()[2] + "\n")
    scenario = tmp_path / "tiny.toml"
    # Dotted keys at the top level of a TOML file are the same settings.
    lines = [f"{key} = {json.dumps(value)}" for key, value in TINY.items()]
    scenario.write_text('extends = "small.toml"\n' + "\n".join(lines) + "\n")
    result = runner.invoke(
        app,
        [
            "calibrate",
            str(scenario),
            "--targets",
            str(targets),
            "--params",
            str(params),
            "--out",
            str(tmp_path / "cal"),
            "--trials",
            "1",
            "--seeds",
            "1",
            "--screen",
            "--trajectories",
            "2",
            "-w",
            "1",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["trials"] == 1 and set(shown["best"]) == {"products.credit_card.approval_cutoff"}
    screening = pd.read_parquet(tmp_path / "cal" / "screening.parquet")
    # One parameter by two targets, each with its elementary effects.
    assert list(screening["target"]) == ["approval", "big_lender"]
    assert (screening["mu_star"] >= 0).all() and screening["mu_star"].notna().all()
    # The credit card's cut-off moves the approval rate.
    assert screening.loc[screening["target"] == "approval", "mu_star"].iloc[0] > 0
    text = (tmp_path / "cal" / "calibrated.toml").read_text()
    assert f'extends = "{scenario.resolve()}"' in text and "# calibrated" in text
    # A bad file is one line naming it, status 2, before anything runs.
    bad = tmp_path / "bad.toml"
    bad.write_text('[targets.a]\nstatistic = "lending.nope"\nvalue = 1\ntolerance = 1\n')
    refused = runner.invoke(
        app,
        [
            *("calibrate", str(scenario), "--targets", str(bad)),
            *("--params", str(params), "--out", str(tmp_path / "never")),
        ],
    )
    assert refused.exit_code == 2
    line = refused.stderr.strip()
    assert len(line.splitlines()) == 1 and "targets.a.statistic" in line and "'nope'" in line
    assert not (tmp_path / "never").exists()
