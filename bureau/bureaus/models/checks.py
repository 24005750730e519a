"""The JSON files of a model directory, read strictly and checked field by field.

A model card (:mod:`bureau.bureaus.models.card`) and a scorecard are JSON that a person can open
and edit, so loading one checks every field and names the one at fault as a path
(``score_scale.score_min``, ``features[3].values``) instead of failing later inside numpy with a
value of the wrong type.
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

from bureau.errors import ModelError

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


def names(value: Any, field: str, path: Path) -> list[str]:
    """A non-empty list of distinct names (no spaces: LightGBM splits its names on them)."""
    if not isinstance(value, list) or not value:
        raise ModelError("not a non-empty list of names", path=path, field=field)
    for name in value:
        if not isinstance(name, str) or not name or any(c.isspace() for c in name):
            raise ModelError(f"{name!r} is not a feature name", path=path, field=field)
    if len(set(value)) != len(value):
        raise ModelError("a name is given twice", path=path, field=field)
    return list(value)


class JSONObject:
    """A JSON object being read: exactly the keys expected, then each value checked by type.

    Parameters
    ----------
    value
        The parsed value.
    keys
        The keys it must have, and the only ones it may have.
    where
        Its place in the file, as a path (``training_window``; empty for the whole file).
    path
        The file, to name in errors.
    known
        What the file is, for the message naming a key it may not have.

    Raises
    ------
    bureau.errors.ModelError
        If the value is not an object, lacks a key or has another, naming that key.
    """

    def __init__(
        self,
        value: Any,
        keys: tuple[str, ...],
        where: str,
        path: Path | None,
        known: str = "a model card",
    ) -> None:
        self.where, self.path = where, path
        if not isinstance(value, dict):
            raise ModelError("not a JSON object", path=path, field=where or None)
        self.value = value
        for key in keys:
            if key not in value:
                raise ModelError("missing", path=path, field=self.name(key))
        for key in sorted(set(value) - set(keys)):
            raise ModelError(f"not a field of {known}", path=path, field=self.name(key))

    def name(self, key: str) -> str:
        """The key's path in the file (``training_window.label``)."""
        return f"{self.where}.{key}" if self.where else key

    def fail(self, key: str, message: str) -> ModelError:
        """The error naming a key."""
        return ModelError(message, path=self.path, field=self.name(key))

    def text(self, key: str, pattern: re.Pattern[str] | None = None, what: str = "text") -> str:
        """A string (matching a pattern, if given)."""
        value = self.value[key]
        if not isinstance(value, str) or (pattern is not None and not pattern.fullmatch(value)):
            raise self.fail(key, f"{value!r} is not {what}")
        return value

    def whole(self, key: str, low: int | None = 0) -> int:
        """A whole number, not below ``low`` (None: any)."""
        value = self.value[key]
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.fail(key, f"{value!r} is not a whole number")
        if low is not None and value < low:
            raise self.fail(key, f"{value} is below {low}")
        return value

    def number(self, key: str) -> float:
        """A JSON number, kept as written (NaN allowed: a metric may be undefined)."""
        value = self.value[key]
        if not _is_number(value):
            raise self.fail(key, f"{value!r} is not a number")
        return value

    def mapping(self, key: str) -> dict[str, Any]:
        """A JSON object, as it is."""
        value = self.value[key]
        if not isinstance(value, dict):
            raise self.fail(key, "not a JSON object")
        return value

    def months(self, key: str) -> tuple[int, int]:
        """A ``[first, last]`` pair of months."""
        value = self.value[key]
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not all(isinstance(m, int) and not isinstance(m, bool) and m >= 0 for m in value)
            or value[0] > value[1]
        ):
            raise self.fail(key, f"{value!r} is not a [first, last] pair of months")
        return (value[0], value[1])


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
    if names(data["inputs"], "inputs", path) != inputs:
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
