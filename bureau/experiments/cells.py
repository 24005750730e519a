"""The grid of a sweep: the values of each key, typed as the scenario holds them, in cells.

Each key takes a list of values (``KEY=V1,V2`` on the command line); every combination of
one value per key is a cell, named after the settings it sweeps, with its own scenario.
"""

from __future__ import annotations

import itertools
import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bureau.config import load_scenario, scenario_to_dict
from bureau.config.scenario import Scenario
from bureau.errors import BureauError, ScenarioError


class SweepError(BureauError):
    """A sweep asked for something impossible: an unknown key, a bad value, no seeds."""


@dataclass(frozen=True)
class Cell:
    """One point of the grid: its directory name and the value of each key."""

    id: str
    settings: dict[str, Any]


def split_values(text: str) -> list[str]:
    """Split ``V1,V2,...`` at the commas outside brackets and quotes.

    Parameters
    ----------
    text
        The values as typed after ``KEY=``; an array value such as ``[1, 2]`` stays whole.

    Returns
    -------
    list of str
        The values, stripped; an empty text gives one empty value.
    """
    values, depth, quote, start = [], 0, "", 0
    for i, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            values.append(text[start:i].strip())
            start = i + 1
    values.append(text[start:].strip())
    return values


def parse_settings(assignments: Sequence[str]) -> dict[str, list[str]]:
    """Parse ``KEY=V1,V2`` assignments into the values per key, still as text.

    Parameters
    ----------
    assignments
        The ``--set`` options of ``bureau sweep``.

    Returns
    -------
    dict
        The values per dotted key, in the order given; :func:`sweep` types them.

    Raises
    ------
    SweepError
        If an assignment has no ``=`` or no key, or a key is given twice.
    """
    settings: dict[str, list[str]] = {}
    for assignment in assignments:
        key, sep, raw = assignment.partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")):
            raise SweepError(f"must be KEY=V1,V2,..., got {assignment!r}", field="settings")
        if key in settings:
            raise SweepError(
                "given twice: list all its values in one assignment", field=f"settings {key}"
            )
        settings[key] = split_values(raw)
    return settings


def lookup(data: Mapping[str, Any], key: str) -> Any:
    """The value at a dotted key of a scenario's data, or None where it has none.

    Parameters
    ----------
    data
        A scenario as plain data (:func:`~bureau.config.scenario_to_dict`).
    key
        A dotted key, e.g. ``population.persons``.

    Returns
    -------
    Any
        The value, or None.
    """
    node: Any = data
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _typed(key: str, value: Any, current: Any) -> Any:
    """A value given as text read as the type the scenario holds at that key."""
    if not isinstance(value, str) or isinstance(current, str):
        return value
    text = value.strip()
    try:
        if isinstance(current, bool):
            if text.lower() not in ("true", "false"):
                raise ValueError
            return text.lower() == "true"
        if isinstance(current, int):
            return int(text.replace("_", ""))
        if isinstance(current, float):
            return float(text.replace("_", ""))
    except ValueError:
        kind = type(current).__name__
        raise SweepError(f"{value!r} is not a {kind}", field=f"settings {key}") from None
    # Arrays and tables, or a key the scenario leaves unset: read as a TOML value.
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def label(value: Any) -> str:
    """A value as written in a cell's name and the summary."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str | int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def _cell_id(settings: Mapping[str, Any], swept: Sequence[str]) -> str:
    """A directory name that reads as the cell's swept settings."""
    if not swept:
        return "base"
    text = "__".join(f"{key}={label(settings[key])}" for key in swept)
    return re.sub(r"[^A-Za-z0-9._=+-]", "-", text)


def grid(scenario: Scenario, settings: Mapping[str, Sequence[Any]]) -> list[tuple[Cell, Scenario]]:
    """Every cell of the grid with its scenario, validated.

    Parameters
    ----------
    scenario
        The scenario the settings change.
    settings
        Values per dotted key (``{"sharing": ["siloed", "shared"]}``); values given as text
        are read as the type the scenario holds at that key.

    Returns
    -------
    list of (Cell, Scenario)
        In grid order: the last key varies fastest.

    Raises
    ------
    SweepError
        If a key has no values or a value twice, or a value cannot be read as its key's type.
    bureau.ScenarioError
        If a key is unknown or a value is out of range (the message names the key).
    """
    base = scenario_to_dict(scenario)
    typed: dict[str, list[Any]] = {}
    for key, values in settings.items():
        values = list(values)
        if not values or values == [""]:
            raise SweepError("no values given", field=f"settings {key}")
        current = lookup(base, key)
        typed[key] = [_typed(key, value, current) for value in values]
        labels = [label(value) for value in typed[key]]
        if len(set(labels)) < len(labels):
            raise SweepError("a value is given twice", field=f"settings {key}")
    swept = [key for key, values in typed.items() if len(values) > 1]
    cells: list[tuple[Cell, Scenario]] = []
    for combination in itertools.product(*typed.values()):
        chosen = dict(zip(typed, combination, strict=True))
        cell = Cell(_cell_id(chosen, swept), chosen)
        try:
            scn = load_scenario(base, chosen)
        except ScenarioError as exc:
            # The values came in as this function's settings, not as load_scenario's overrides.
            field = exc.field
            if field is not None and field.partition(" ")[0] == "overrides":
                field = "settings" + field.removeprefix("overrides")
            raise ScenarioError(exc.message, path=exc.path, row=exc.row, field=field) from None
        cells.append((cell, scn))
    ids = [cell.id for cell, _ in cells]
    if len(set(ids)) < len(ids):
        raise SweepError(
            "two cells would share a directory name; use plainer values", field="settings"
        )
    return cells
