"""Reading scenarios from TOML, with ``extends`` and dotted overrides, and writing them back."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import ValidationError

from bureau.config.paths import data_dir, scenario_path
from bureau.config.scenario import Scenario
from bureau.errors import ScenarioError

_MAX_EXTENDS_DEPTH = 8


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ScenarioError("no such scenario file", path=path)
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"invalid TOML: {exc}", path=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read the file: {exc}", path=path) from None


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge tables recursively; any other value (arrays included) replaces the base value."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _resolve_extends(path: Path, depth: int = 0) -> dict[str, Any]:
    data = _read_toml(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ScenarioError("must name a scenario file", path=path, field="extends")
    if depth >= _MAX_EXTENDS_DEPTH:
        raise ScenarioError("extends is nested too deeply (a cycle?)", path=path, field="extends")
    # A relative name is looked up beside the extending file first, then among the bundled.
    parent_path = path.parent / parent
    if not parent_path.is_file():
        parent_path = scenario_path(parent)
    if not parent_path.is_file():
        raise ScenarioError(f"no such scenario file: {parent}", path=path, field="extends")
    return _merge(_resolve_extends(parent_path, depth + 1), data)


def parse_override(assignment: str) -> tuple[str, Any]:
    """Parse one ``KEY=VALUE`` override.

    Parameters
    ----------
    assignment
        A dotted key and a value, for example ``population.persons=2000`` or
        ``lenders.ant.share=0.3``. The value is read as a TOML value (numbers, booleans,
        quoted strings, arrays); anything else is taken as a bare string.

    Returns
    -------
    tuple
        ``(dotted_key, value)``.

    Raises
    ------
    ScenarioError
        If there is no ``=`` or the key is empty.
    """
    key, sep, raw = assignment.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ScenarioError(f"an override must be KEY=VALUE, got {assignment!r}", field="overrides")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key, value


def _apply_overrides(data: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(data)
    for dotted, value in overrides.items():
        node = data
        parts = dotted.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ScenarioError(f"{part!r} is not a table", field=f"overrides {dotted}")
            node = child
        node[parts[-1]] = value
    return data


def _validate(
    data: dict[str, Any],
    path: Path | None,
    overrides: Mapping[str, Any],
    base: dict[str, Any] | None = None,
) -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(part) for part in error["loc"]) or None
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        elif error["type"] == "missing":
            message = "required key is missing"
        elif error["type"] == "finite_number":
            message = "must be a finite number, not inf or nan"
        more = exc.error_count() - 1
        if more:
            message += f" (and {more} more problem{'s' if more > 1 else ''})"
        # A problem with a value given on the command line is not the file's fault.
        given = [k for k in overrides if key is not None and (key == k or key.startswith(f"{k}."))]
        if not given and overrides and base is not None and _valid(base):
            # A rule across keys (a snapshot beyond the months, say) broken only once the
            # overrides are applied: they are the culprits, not the file.
            given = [k for k in overrides if key is None or k.startswith(f"{key}.") or k == key]
            given = given or list(overrides)
        if given:
            raise ScenarioError(message, field=f"overrides {', '.join(given)}") from None
        raise ScenarioError(message, path=path, field=key) from None


def _valid(data: dict[str, Any]) -> bool:
    try:
        Scenario.model_validate(data)
    except ValidationError:
        return False
    return True


def load_scenario(
    source: str | Path | Mapping[str, Any], overrides: Mapping[str, Any] | None = None
) -> Scenario:
    """Load and validate a scenario.

    Parameters
    ----------
    source
        A path to a TOML file, the name of a bundled scenario (``"small"``, ``"baseline"``,
        ``"large"``), or an already-parsed mapping. A file may name another with
        ``extends = "baseline.toml"``: its tables are merged over that one's. The bureau
        profiles of ``data/bureaus.toml`` are the base of the ``bureaus`` table.
    overrides
        Dotted keys and values applied last, for example ``{"population.persons": 2000}``.

    Returns
    -------
    Scenario
        The validated scenario.

    Raises
    ------
    ScenarioError
        If the file is missing or not TOML, or if a key is unknown, of the wrong type or out
        of range. The message names the file and the key.
    """
    path: Path | None
    if isinstance(source, Mapping):
        path, data = None, dict(source)
    else:
        path = scenario_path(source)
        data = _resolve_extends(path)
    data = _merge({"bureaus": _read_toml(data_dir() / "bureaus.toml")["bureaus"]}, data)
    base = data
    if overrides:
        data = _apply_overrides(data, overrides)
    return _validate(data, path, overrides or {}, base)


def scenario_to_dict(scenario: Scenario) -> dict[str, Any]:
    """Return the scenario as plain data.

    Parameters
    ----------
    scenario
        The scenario.

    Returns
    -------
    dict
        JSON- and TOML-ready values, with ``None`` values left out (TOML has no null).
    """
    return scenario.model_dump(mode="json", exclude_none=True)


def scenario_to_toml(scenario: Scenario) -> str:
    """Return the fully resolved scenario as TOML text.

    Parameters
    ----------
    scenario
        The scenario to write.

    Returns
    -------
    str
        TOML that :func:`load_scenario` reads back to an equal scenario.
    """
    return tomli_w.dumps(scenario_to_dict(scenario))
