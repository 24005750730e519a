"""JSON values and canonical text, both ways: yuan strings, escaped strings, parsed values.

The JSON Lines codec writes canonical text as JSON values and reads JSON values back to
canonical text with these; amounts go between fen and yuan by string arithmetic, never through
floating point.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bureau.formats._bytes import STRING, array_buffers
from bureau.formats._canonical import canon_int, concat
from bureau.formats.schema import FieldSpec

_YUAN_PATTERN = r"^(?P<sign>-?)(?P<yuan>[0-9]+)(?:\.(?P<jiao>[0-9]{1,2}))?$"
_PLAIN_YUAN_PATTERN = r"^-?[0-9]+\.[0-9]{2}$"
_SHORT_ESCAPES = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r"}


def fen_to_yuan(fen: pa.Array) -> pa.Array:
    """Render canonical fen text (``-?digits``) as yuan with two decimals, exactly.

    Parameters
    ----------
    fen
        Canonical fen amounts as strings (nulls allowed).

    Returns
    -------
    pyarrow.Array
        ``"1234.56"`` for ``"123456"``, ``"-0.05"`` for ``"-5"``; nulls stay null.
    """
    negative = pc.starts_with(fen, "-")
    digits = pc.utf8_lpad(pc.utf8_ltrim(fen, "-"), 3, "0")
    sign = pc.if_else(negative, "-", "")
    yuan = pc.utf8_slice_codeunits(digits, 0, -2)
    jiao = pc.utf8_slice_codeunits(digits, -2)
    return concat(sign, yuan, ".", jiao)


def yuan_to_fen(yuan: pa.Array) -> pa.Array:
    """Convert yuan text (``-?digits[.d[d]]``) to canonical fen; keep anything else raw.

    Parameters
    ----------
    yuan
        Amounts in yuan as strings (nulls allowed).

    Returns
    -------
    pyarrow.Array
        Whole fen as canonical text where the conversion is exact, else the raw text.
    """
    yuan = yuan.cast(STRING)
    if pc.all(pc.match_substring_regex(yuan, _PLAIN_YUAN_PATTERN)).as_py() is not False:
        # What the writer writes (two decimals): dropping the point gives fen.
        return canon_int(pc.replace_substring(yuan, ".", ""))
    parts = pc.extract_regex(yuan, _YUAN_PATTERN)
    jiao = pc.utf8_rpad(pc.struct_field(parts, "jiao"), 2, "0")
    fen = concat(pc.struct_field(parts, "sign"), pc.struct_field(parts, "yuan"), jiao)
    return pc.if_else(pc.is_valid(parts), canon_int(fen), yuan)


def json_string(text: pa.Array) -> pa.Array:
    """Quote and escape strings as JSON string literals (nulls stay null)."""
    values, _ = array_buffers(text)
    # Escaping is rare in this data: check the bytes once rather than run every replacement.
    if np.any((values == 0x5C) | (values == 0x22)):
        text = pc.replace_substring(text, "\\", "\\\\")
        text = pc.replace_substring(text, '"', '\\"')
    if np.any(values < 0x20):
        for code in range(0x20):
            escape = _SHORT_ESCAPES.get(code, f"\\u{code:04x}")
            text = pc.replace_substring(text, chr(code), escape)
    return concat('"', text, '"')


def json_values(text: pa.Array, spec: FieldSpec) -> pa.Array:
    """Render one canonical text column as JSON values (nulls stay null)."""
    if spec.kind == "fen":
        return concat('"', fen_to_yuan(text), '"')
    if spec.kind == "int":
        return text
    if spec.kind == "bool":
        return pc.if_else(pc.equal(text, "1"), "true", "false")
    return json_string(text)


def pairs_hook(duplicates: list[str]) -> Callable[[list[tuple[str, object]]], dict]:
    """An ``object_pairs_hook`` that notes the repeated keys of the last object it builds.

    The top-level object is built last, so after parsing ``duplicates`` holds its keys.
    """

    def hook(pairs: list[tuple[str, object]]) -> dict:
        seen: set[str] = set()
        repeated = []
        for key, _ in pairs:
            if key in seen:
                repeated.append(key)
            seen.add(key)
        duplicates[:] = repeated
        return dict(pairs)

    return hook


def value_text(value: object, kind: str) -> str | None:
    """The text of one JSON value parsed with numbers kept as their source text."""
    if value is None:
        return None
    if isinstance(value, bool):
        if kind == "bool":
            return "1" if value else "0"
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def text_array(items: list[str | None]) -> pa.Array:
    """Arrow strings from Python strings, replacing lone surrogates (JSON escapes allow them)."""
    try:
        return pa.array(items, STRING)
    except (UnicodeEncodeError, pa.ArrowException):
        fixed = [None if s is None else s.encode("utf-8", "replace").decode("utf-8") for s in items]
        return pa.array(fixed, STRING)


def as_text(column: pa.Array, kind: str) -> pa.Array:
    """A column typed by pyarrow as the text that :func:`value_text` gives for it."""
    if kind == "bool":
        return pc.if_else(column, "1", "0").cast(STRING)
    return column.cast(STRING)


def canonical_text(text: pa.Array, kind: str) -> pa.Array:
    """Canonical text of a field's JSON text: fen from yuan, integers without leading zeros."""
    if kind == "fen":
        return yuan_to_fen(text)
    if kind == "int":
        return canon_int(text)
    return text
