"""Configuration: the scenario models, loaded from TOML and written back resolved."""

from bureau.config.loader import load_scenario, parse_override, scenario_to_dict, scenario_to_toml
from bureau.config.paths import data_dir, scenario_path
from bureau.config.scenario import PRODUCTS, Scenario

__all__ = [
    "PRODUCTS",
    "Scenario",
    "data_dir",
    "load_scenario",
    "parse_override",
    "scenario_path",
    "scenario_to_dict",
    "scenario_to_toml",
]
