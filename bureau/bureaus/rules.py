"""Validation: a registry of rules, each with an id and a message, applied to parsed records.

Rules work on the canonical text a codec returns, column by column (no loop over records). A
rule either rejects the record (it goes to the bureau's reject table with the rule id, the file
and line, and the raw text) or drops one field and keeps the record (an invalid identity number
is better treated as missing than trusted). Rule ids starting with ``P`` are the codecs' own
(records that could not be split into fields).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from bureau.bureaus.keymap import hash_columns
from bureau.config.scenario import PRODUCTS
from bureau.formats.national_id import validate_national_ids
from bureau.formats.schema import RECORDS, STATUS_CODES, string_series

# A hundred billion yuan (10**13 fen): anything with more digits is a typing error.
_MAX_DIGITS = 13
# Each field's width (the same field name has the same width in every record type).
_WIDTHS = {f.name: f.width for specs in RECORDS.values() for f in specs}

Check = Callable[[pa.Array, str], np.ndarray]


@dataclass(frozen=True)
class Rule:
    """One validation rule.

    Attributes
    ----------
    rule_id
        Stable id, e.g. ``V004``.
    message
        What is wrong, for the reject table and summaries.
    action
        ``reject`` the record, or ``drop_field`` (blank the field, keep the record).
    check
        ``check(values, field)`` takes a field's values (an Arrow string array) and returns a
        boolean array, True where the value breaks the rule.
    kinds
        Field kinds the rule applies to (all fields of those kinds), or None with ``fields``.
    fields
        Field names the rule applies to, when not chosen by kind.
    """

    rule_id: str
    message: str
    action: Literal["reject", "drop_field"]
    check: Check
    kinds: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()


def _mask(values: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def _present(col: pa.Array) -> np.ndarray:
    return _mask(pc.greater(pc.utf8_length(col), 0))


def _full(col: pa.Array, pattern: str) -> np.ndarray:
    return _mask(pc.match_substring_regex(col, f"^(?:{pattern})$"))


def _missing(col: pa.Array, field: str) -> np.ndarray:
    return ~_present(col)


def _bad_month(col: pa.Array, field: str) -> np.ndarray:
    return _present(col) & ~_full(col, r"(19|20)\d\d-(0[1-9]|1[0-2])")


def _not_whole(col: pa.Array, field: str) -> np.ndarray:
    return _present(col) & ~_full(col, r"-?\d{1,18}")


def _negative(col: pa.Array, field: str) -> np.ndarray:
    return _full(col, r"-\d+")


def _too_large(col: pa.Array, field: str) -> np.ndarray:
    # Whole numbers of more digits than the limit has are beyond it; no parsing needed.
    return _full(col, rf"\d{{{_MAX_DIGITS + 1},}}")


def _too_many_digits(col: pa.Array, field: str) -> np.ndarray:
    return _full(col, rf"-?\d{{{_WIDTHS[field] + 1},}}")


def _bad_bool(col: pa.Array, field: str) -> np.ndarray:
    return _present(col) & ~_full(col, "[01]")


def _too_long(col: pa.Array, field: str) -> np.ndarray:
    return _mask(pc.greater(pc.utf8_length(col), _WIDTHS[field]))


def _bad_status(col: pa.Array, field: str) -> np.ndarray:
    return _present(col) & ~_mask(pc.is_in(col, value_set=pa.array(STATUS_CODES)))


def _bad_product(col: pa.Array, field: str) -> np.ndarray:
    return _present(col) & ~_mask(pc.is_in(col, value_set=pa.array(PRODUCTS)))


def _bad_term(col: pa.Array, field: str) -> np.ndarray:
    short = _full(col, r"-?\d{1,4}")
    values = pc.cast(pc.if_else(pa.array(short), col, pa.scalar(None, pa.string())), pa.int64())
    return _mask(pc.or_(pc.less(values, 0), pc.greater(values, 480)))


def _bad_national_id(col: pa.Array, field: str) -> np.ndarray:
    # A bureau checks shape, date and check character; it keeps no list of region codes.
    present = _present(col)
    valid = validate_national_ids(col, check_region=False)
    return present & ~valid


def _bad_phone(col: pa.Array, field: str) -> np.ndarray:
    return _present(col) & ~_full(col, r"1[3-9]\d{9}")


RULES: tuple[Rule, ...] = (
    Rule("V001", "required field is missing", "reject", _missing),
    Rule("V002", "not a valid month (YYYY-MM)", "reject", _bad_month, kinds=("month",)),
    Rule("V003", "not a whole number", "reject", _not_whole, kinds=("fen", "int")),
    Rule("V004", "negative amount", "reject", _negative, kinds=("fen",)),
    Rule("V005", "amount beyond any plausible value", "reject", _too_large, kinds=("fen",)),
    Rule("V006", "not a yes/no value", "reject", _bad_bool, kinds=("bool",)),
    Rule("V007", "value longer than the field allows", "reject", _too_long, kinds=("text",)),
    Rule("V008", "unknown account status code", "reject", _bad_status, fields=("status",)),
    Rule("V009", "unknown product", "reject", _bad_product, fields=("product",)),
    Rule("V010", "term outside 0-480 months", "reject", _bad_term, fields=("term_months",)),
    Rule(
        "V011",
        "invalid identity number (dropped)",
        "drop_field",
        _bad_national_id,
        fields=("national_id",),
    ),
    Rule("V012", "invalid mobile number (dropped)", "drop_field", _bad_phone, fields=("phone",)),
    Rule("V017", "invalid contact mobile number", "reject", _bad_phone, fields=("contact_phone",)),
    Rule("V016", "number wider than the field allows", "reject", _too_many_digits, kinds=("int",)),
)
# Record-level rules, applied after the field rules (see validate()).
NO_IDENTITY = Rule(
    "V013", "no usable identity (no ID number, and no phone with a name)", "reject", _missing
)
FUTURE_MONTH = Rule(
    "V014", "describes a month after the file's reporting month", "reject", _missing
)
DUPLICATE = Rule("V015", "duplicate record in the file", "reject", _missing)

# The fields that identify a record within a file (a second record with the same key is a copy).
RECORD_KEYS = {
    "tradeline": ("furnisher", "account_ref", "report_month"),
    "inquiry": ("furnisher", "inquiry_ref"),
    "public_record": ("furnisher", "record_ref", "ended"),
    "signal": ("furnisher", "month", "national_id", "phone", "name"),
    "contact": ("furnisher", "contact_phone", "national_id", "phone", "name"),
}
DATA_MONTH = {
    "tradeline": "report_month",
    "inquiry": "month",
    "public_record": "filed",
    "signal": "month",
    "contact": "month",
}

REJECT_COLUMNS = ("line", "rule_id", "field", "message", "raw", "action")


@dataclass
class Validated:
    """The outcome of validation: the records kept (blanked fields included) and the rejects."""

    records: pd.DataFrame
    rejects: pd.DataFrame


def _rule_fields(rule: Rule, record_type: str) -> list[str]:
    specs = RECORDS[record_type]
    if rule.rule_id == "V001":
        return [f.name for f in specs if f.required]
    if rule.kinds:
        return [f.name for f in specs if f.kind in rule.kinds]
    return [f.name for f in specs if f.name in rule.fields]


def validate(records: pd.DataFrame, record_type: str, file_month: str) -> Validated:
    """Apply every rule to a file's parsed records.

    Parameters
    ----------
    records
        Canonical text per field, with ``line`` and ``raw`` (a codec's output); with a
        ``_file`` column when several files are checked together (duplicates are looked for
        within each file, and rejects keep the column).
    record_type
        The file's record type.
    file_month
        The file's reporting month, ``YYYY-MM``: no record may describe a later month.

    Returns
    -------
    Validated
        The records that pass (invalid identity numbers and phones blanked; the fields,
        ``line`` and ``_file`` if given), in their order, and one reject row per broken rule
        and record (columns :data:`REJECT_COLUMNS`); a record breaking several rules is
        listed under each but rejected once.
    """
    found: list[pd.DataFrame] = []
    rejected = np.zeros(len(records), dtype=bool)
    has_file = "_file" in records
    lines = records["line"].to_numpy()
    raws = pa.chunked_array(pa.array(records["raw"], from_pandas=True))
    files = records["_file"].to_numpy() if has_file else None
    arrays = {
        f.name: pa.chunked_array(pa.array(records[f.name], from_pandas=True))
        for f in RECORDS[record_type]
    }

    def note(rule: Rule, hit: np.ndarray, field: str | None) -> None:
        if hit.any():
            frame = pd.DataFrame(
                {
                    "line": lines[hit],
                    "rule_id": rule.rule_id,
                    "field": field,
                    "message": rule.message,
                    "raw": string_series(raws.filter(pa.array(hit))),
                    "action": "rejected" if rule.action == "reject" else "field_dropped",
                }
            )
            if files is not None:
                frame["_file"] = files[hit]
            found.append(frame)

    for rule in RULES:
        for field in _rule_fields(rule, record_type):
            hit = rule.check(arrays[field], field) & ~rejected
            note(rule, hit, field)
            if rule.action == "reject":
                rejected |= hit
            elif hit.any():
                arrays[field] = pc.if_else(
                    pa.array(hit), pa.scalar(None, pa.string()), arrays[field]
                )

    usable = _present(arrays["national_id"]) | (
        _present(arrays["phone"]) & _present(arrays["name"])
    )
    hit = ~usable & ~rejected
    note(NO_IDENTITY, hit, None)
    rejected |= hit

    month_field = DATA_MONTH[record_type]
    hit = _mask(pc.greater(arrays[month_field], file_month)) & ~rejected
    note(FUTURE_MONTH, hit, month_field)
    rejected |= hit

    keys = [arrays[name] for name in RECORD_KEYS[record_type]]
    hashed = pd.Series(hash_columns([*keys, files] if has_file else keys))
    hit = hashed.duplicated(keep="first").to_numpy() & ~rejected
    note(DUPLICATE, hit, None)
    rejected |= hit

    columns = [*REJECT_COLUMNS, "_file"] if has_file else list(REJECT_COLUMNS)
    rejects = pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=columns)
    keep = ~rejected
    kept = pa.array(keep)
    out = {name: string_series(values.filter(kept)) for name, values in arrays.items()}
    out["line"] = pd.Series(lines[keep])
    if has_file:
        out["_file"] = pd.Series(files[keep])
    return Validated(records=pd.DataFrame(out), rejects=rejects)
