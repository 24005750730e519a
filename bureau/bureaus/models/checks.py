"""The JSON files of a model directory, read strictly and checked field by field.

A model card and a scorecard are JSON that a person can open and edit, so loading one checks
every field the scoring relies on and names the one at fault as a path (``score_scale.score_min``,
``features[3].values``) instead of failing later inside numpy with a value of the wrong type.
A scorecard's numbers must be finite: JSON as Python reads it accepts ``NaN`` and ``Infinity``
(a card's metrics may be undefined), which in a scorecard would score every consumer as NaN.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from pathlib import Path
from typing import Any

from bureau.bureaus.feature_catalog import FEATURE_GROUPS
from bureau.errors import ModelError

_SHA256 = re.compile(r"[0-9a-f]{64}")
SCALE_KEYS = ("base_odds", "base_score", "points_to_double_odds", "score_max", "score_min")
SCORECARD_KEYS = ("features", "inputs", "intercept", "kind")
TABLE_KEYS = ("closed", "missing", "name", "splits", "values")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {key!r} given twice")
        out[key] = value
    return out


def read_json(raw: bytes, path: Path) -> Any:
    """Parse a JSON file's bytes strictly: UTF-8, and no key given twice.

    Parameters
    ----------
    raw
        The file's bytes.
    path
        The file, to name in errors.

    Returns
    -------
    object
        The parsed document.

    Raises
    ------
    bureau.errors.ModelError
        If the bytes are not UTF-8 JSON, naming the line.
    """
    if not raw.strip():
        raise ModelError("empty file: not JSON", path=path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ModelError("not UTF-8 text (binary or damaged?)", path=path, row=line) from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise ModelError(f"not valid JSON ({exc.msg})", path=path, row=exc.lineno) from None
    except ValueError as exc:
        raise ModelError(f"not valid JSON ({exc})", path=path) from None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _object(value: Any, keys: tuple[str, ...], field: str, path: Path) -> dict[str, Any]:
    """A JSON object with exactly these keys."""
    if not isinstance(value, dict):
        raise ModelError("not a JSON object", path=path, field=field)
    missing = [k for k in keys if k not in value]
    extra = sorted(set(value) - set(keys))
    if missing or extra:
        said = [f"missing {', '.join(missing)}"] if missing else []
        said += [f"unknown {', '.join(extra)}"] if extra else []
        raise ModelError("; ".join(said), path=path, field=field)
    return value


def finite(value: Any, field: str, path: Path) -> float:
    """A finite JSON number."""
    if not _is_number(value) or not math.isfinite(value):
        raise ModelError(f"{value!r} is not a finite number", path=path, field=field)
    return float(value)


def _numbers(value: Any, field: str, path: Path) -> list[float]:
    if not isinstance(value, list):
        raise ModelError("not a list of numbers", path=path, field=field)
    return [finite(v, field, path) for v in value]


def _names(value: Any, field: str, path: Path) -> list[str]:
    """A non-empty list of distinct names (no spaces: LightGBM splits its names on them)."""
    if not isinstance(value, list) or not value:
        raise ModelError("not a non-empty list of names", path=path, field=field)
    for name in value:
        if not isinstance(name, str) or not name or any(c.isspace() for c in name):
            raise ModelError(f"{name!r} is not a feature name", path=path, field=field)
    if len(set(value)) != len(value):
        raise ModelError("a name is given twice", path=path, field=field)
    return list(value)


def check_card(card: Any, path: Path, model_files: dict[str, str]) -> None:
    """Check the fields of a model card that loading and scoring rely on.

    Parameters
    ----------
    card
        The parsed card.
    path
        The card's file, to name in errors.
    model_files
        Model family -> the model file's name.

    Raises
    ------
    bureau.errors.ModelError
        Naming the field at fault.
    """
    family = card.get("model_family")
    if family not in model_files:
        known = ", ".join(model_files)
        raise ModelError(
            f"unknown model family {family!r} (families: {known})", path=path, field="model_family"
        )
    if card.get("model_file") != model_files[family]:
        raise ModelError(
            f"must be {model_files[family]!r} for a {family} model", path=path, field="model_file"
        )
    if not isinstance(card.get("model_sha256"), str) or not _SHA256.fullmatch(card["model_sha256"]):
        raise ModelError("not a SHA-256 in hexadecimal", path=path, field="model_sha256")
    _names(card.get("features"), "features", path)
    scale = _object(card.get("score_scale"), SCALE_KEYS, "score_scale", path)
    for key in ("score_min", "score_max"):
        if not isinstance(scale[key], int) or isinstance(scale[key], bool):
            raise ModelError("not a whole number", path=path, field=f"score_scale.{key}")
    if scale["score_min"] >= scale["score_max"]:
        raise ModelError("not below score_max", path=path, field="score_scale.score_min")
    finite(scale["base_score"], "score_scale.base_score", path)
    for key in ("points_to_double_odds", "base_odds"):
        if finite(scale[key], f"score_scale.{key}", path) <= 0:
            raise ModelError("not positive", path=path, field=f"score_scale.{key}")
    groups = card.get("feature_groups", [])
    if not isinstance(groups, list) or not set(groups) <= set(FEATURE_GROUPS):
        known = ", ".join(FEATURE_GROUPS)
        raise ModelError(
            f"not a list of feature groups ({known})", path=path, field="feature_groups"
        )


def check_scorecard(data: Any, inputs: list[str], path: Path) -> None:
    """Check a scorecard file's JSON against the schema :meth:`WOEScorecard.to_dict` writes.

    Parameters
    ----------
    data
        The parsed scorecard.
    inputs
        Its card's features, which the scorecard's ``inputs`` must be.
    path
        The scorecard's file, to name in errors.

    Raises
    ------
    bureau.errors.ModelError
        Naming the field at fault, as a path (``features[2].splits``).
    """
    _object(data, SCORECARD_KEYS, "scorecard", path)
    if data["kind"] != "woe_scorecard":
        raise ModelError(f"{data['kind']!r} is not 'woe_scorecard'", path=path, field="kind")
    if _names(data["inputs"], "inputs", path) != inputs:
        raise ModelError(
            "not the card's features (names or order differ)", path=path, field="inputs"
        )
    finite(data["intercept"], "intercept", path)
    if not isinstance(data["features"], list) or not data["features"]:
        raise ModelError("not a non-empty list of feature tables", path=path, field="features")
    seen: set[str] = set()
    for i, table in enumerate(data["features"]):
        where = f"features[{i}]"
        _object(table, TABLE_KEYS, where, path)
        name = table["name"]
        if name not in inputs or name in seen:
            raise ModelError(
                f"{name!r} is not one of the inputs, or has a second table",
                path=path,
                field=f"{where}.name",
            )
        seen.add(name)
        splits = _numbers(table["splits"], f"{where}.splits", path)
        if any(b <= a for a, b in itertools.pairwise(splits)):
            raise ModelError("the cut points do not increase", path=path, field=f"{where}.splits")
        values = _numbers(table["values"], f"{where}.values", path)
        if len(values) != len(splits) + 1:
            raise ModelError(
                f"{len(values)} values for {len(splits)} cut points (one more is needed)",
                path=path,
                field=f"{where}.values",
            )
        finite(table["missing"], f"{where}.missing", path)
        if table["closed"] not in ("left", "right"):
            raise ModelError("must be 'left' or 'right'", path=path, field=f"{where}.closed")
