from __future__ import annotations

from pathlib import Path

import pytest

from bureau import ScenarioError, load_scenario
from bureau.config import data_dir, parse_override, scenario_to_toml


@pytest.mark.parametrize(
    ("name", "persons"),
    [("small", 5_000), ("baseline", 100_000), ("large", 1_000_000), ("us_2012", 20_000)],
)
def test_bundled_scenarios_load(name: str, persons: int) -> None:
    scn = load_scenario(name)
    assert scn.name == name
    assert scn.population.persons == persons
    assert scn.months == 36


def test_resolved_scenario_round_trips(tmp_path: Path) -> None:
    scn = load_scenario("small")
    path = tmp_path / "resolved.toml"
    path.write_text(scenario_to_toml(scn))
    assert load_scenario(path) == scn


def test_extends_merges_tables_key_by_key(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        f'extends = "{data_dir() / "scenarios" / "baseline.toml"}"\n'
        'name = "mine"\n[lenders.ant]\nshare = 0.9\n'
    )
    scn = load_scenario(path)
    base = load_scenario("baseline")
    assert scn.lenders["ant"].share == 0.9
    assert scn.lenders["ant"].products == base.lenders["ant"].products
    assert scn.lenders["icbc"] == base.lenders["icbc"]


def test_overrides_apply_dotted_keys() -> None:
    scn = load_scenario("small", dict([parse_override("population.persons=1234")]))
    assert scn.population.persons == 1234
    assert parse_override("sharing=siloed") == ("sharing", "siloed")
    assert parse_override('name="x"') == ("name", "x")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"population.size": 3}, "overrides population.size"),
        ({"population.persons": -3}, "overrides population.persons"),
        ({"seed.x": 1}, "overrides seed.x"),
        ({"scoring.evaluation_snapshot": 30}, "overrides scoring.evaluation_snapshot"),
    ],
)
def test_a_bad_override_names_the_argument_and_its_key(overrides, field: str) -> None:
    # A notebook user passed overrides, not a command-line option.
    with pytest.raises(ScenarioError) as info:
        load_scenario("small", overrides)
    assert info.value.field == field and "--" not in str(info.value)
    with pytest.raises(ScenarioError) as info:
        parse_override("population.persons")
    assert info.value.field == "overrides" and "--" not in str(info.value)


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(f'extends = "{data_dir() / "scenarios" / "small.toml"}"\n{body}')
    return path


@pytest.mark.parametrize(
    ("body", "key", "words"),
    [
        ("[population]\npersonz = 5\n", "population.personz", "unknown key"),
        ("[population]\npersons = -5\n", "population.persons", "greater than 0"),
        ('[population]\npersons = "many"\n', "population.persons", "integer"),
        ("[behaviour]\nhardship_rate = 1.5\n", "behaviour.hardship_rate", "less than or equal"),
        ('start = "July"\n', "start", "YYYY-MM"),
        (
            '[lenders.icbc]\nproducts = ["spaceship"]\n',
            "lenders.icbc.products.0",
            "Input should be",
        ),
        ("[shocks.pandemic]\nmonth = 99\n", None, "below months"),
        ('[lenders.icbc]\nbureaus = ["pengyuan", "sesame"]\n', None, "exactly one bureau"),
        ("[lenders.ccb]\nmax_pd = 0.05\n", None, "exactly one risk appetite"),
        ('[lenders.ccb]\nbureaus = ["nobody"]\n', None, "'nobody' is not a bureau"),
        ('[lenders.ccb]\npolicy = "consensus"\n', None, "leave bureaus empty"),
        (
            '[lenders.ccb]\npolicy = "consensus"\nbureaus = []\n',
            None,
            "'consensus' needs a central body",
        ),
        ('[lenders.ccb]\npolicy = "oracle"\n', "lenders.ccb.policy", "Input should be"),
        ("[market]\nstart = 40\n", None, "market.start must be below months"),
        ("[market]\nround_months = 0\n", "market.round_months", "greater than or equal"),
    ],
)
def test_invalid_values_name_the_key(
    tmp_path: Path, body: str, key: str | None, words: str
) -> None:
    path = _write(tmp_path, body)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert str(path) in message
    assert words in message
    if key:
        assert info.value.field == key
        assert key in message


def test_a_lender_buys_the_consensus_where_the_regime_has_a_central_body(
    tmp_path: Path,
) -> None:
    body = 'sharing = "shared"\n[lenders.ccb]\npolicy = "consensus"\nbureaus = []\n'
    scn = load_scenario(_write(tmp_path, body))
    assert scn.consensus_offered and scn.lenders["ccb"].policy == "consensus"
    assert scn.aggregator.price > 0


def test_missing_file_and_invalid_toml(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario(tmp_path / "nope.toml")
    bad = tmp_path / "broken.toml"
    bad.write_text("name = [unclosed\n")
    with pytest.raises(ScenarioError, match="invalid TOML"):
        load_scenario(bad)


def test_extends_cycle_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('extends = "b.toml"\n')
    (tmp_path / "b.toml").write_text('extends = "a.toml"\n')
    with pytest.raises(ScenarioError, match="nested too deeply"):
        load_scenario(tmp_path / "a.toml")


def test_the_market_opens_after_the_development_snapshot_in_rounds() -> None:
    scn = load_scenario("small")
    assert scn.market_start == scn.scoring.development_snapshot + 1
    assert scn.market_rounds == list(range(scn.market_start, scn.months, 6))
    later = load_scenario("small", {"market.start": 20, "market.round_months": 12})
    assert later.market_rounds == [20, 32]
    off = load_scenario("small", {"market.enabled": False})
    assert off.market_rounds == [] and off.market_start == off.months
    # A bureau switched off leaves its subscribers; one left with none decides on its own.
    alone = load_scenario("small", {"bureaus.pengyuan.enabled": False})
    assert alone.lender_bureaus("cmb") == ["qianhai"] and alone.lender_bureaus("icbc") == []
