"""The furnished records: what a data source sends a bureau, before any intake format.

Every intake format (see the codecs in this package) writes and reads exactly these record
types and fields, so furnishing and ingestion agree whatever the wire format. Values are
canonical here: months as ``YYYY-MM`` strings, amounts as whole fen (int64), codes as strings,
missing values as None / NA.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from bureau.errors import BureauError

RecordType = Literal["tradeline", "inquiry", "public_record", "signal", "contact"]
FieldKind = Literal["text", "month", "fen", "int", "bool"]


@dataclass(frozen=True)
class FieldSpec:
    """One field of a record type.

    Attributes
    ----------
    name
        The canonical field name.
    kind
        ``text`` (a string), ``month`` (``YYYY-MM``), ``fen`` (whole fen, int64), ``int`` or
        ``bool``.
    width
        The maximum length in characters of the field's text form (the fixed-width layout
        reserves twice as many bytes for ``text`` fields, which may hold Chinese characters).
    required
        Whether a record without it is invalid.
    """

    name: str
    kind: FieldKind
    width: int
    required: bool = True


IDENTITY = (
    FieldSpec("name", "text", 20, required=False),
    FieldSpec("national_id", "text", 18, required=False),
    FieldSpec("phone", "text", 11, required=False),
)

RECORDS: dict[str, tuple[FieldSpec, ...]] = {
    "tradeline": (
        FieldSpec("furnisher", "text", 20),
        FieldSpec("account_ref", "text", 24),
        FieldSpec("product", "text", 16),
        FieldSpec("report_month", "month", 7),
        FieldSpec("opened", "month", 7),
        FieldSpec("term_months", "int", 4),
        FieldSpec("amount", "fen", 14),
        FieldSpec("balance", "fen", 14),
        FieldSpec("payment", "fen", 14),
        FieldSpec("status", "text", 1),
        *IDENTITY,
    ),
    "inquiry": (
        FieldSpec("furnisher", "text", 20),
        FieldSpec("inquiry_ref", "text", 24),
        FieldSpec("product", "text", 16),
        FieldSpec("month", "month", 7),
        FieldSpec("approved", "bool", 1),
        *IDENTITY,
    ),
    "public_record": (
        FieldSpec("furnisher", "text", 20),
        FieldSpec("record_ref", "text", 24),
        FieldSpec("kind", "text", 16),
        FieldSpec("filed", "month", 7),
        FieldSpec("ended", "month", 7, required=False),
        FieldSpec("amount", "fen", 14),
        *IDENTITY,
    ),
    "signal": (
        FieldSpec("furnisher", "text", 20),
        FieldSpec("month", "month", 7),
        FieldSpec("ecommerce_spend", "fen", 14, required=False),
        FieldSpec("ecommerce_returns", "int", 4, required=False),
        FieldSpec("payment_volume", "fen", 14, required=False),
        FieldSpec("utility_on_time", "bool", 1, required=False),
        FieldSpec("phone_bill_on_time", "bool", 1, required=False),
        FieldSpec("social_activity", "int", 6, required=False),
        FieldSpec("gaming_minutes", "int", 6, required=False),
        FieldSpec("address_changed", "bool", 1, required=False),
        *IDENTITY,
    ),
    # One entry of a member's contact list on a messaging platform: who they are in touch with.
    "contact": (
        FieldSpec("furnisher", "text", 20),
        FieldSpec("month", "month", 7),
        FieldSpec("contact_phone", "text", 11),
        *IDENTITY,
    ),
}

# Delinquency status as furnished, one character (the PBOC report's repayment-history
# alphabet, simplified): N current, 1-4 months past due (4 = 90+ days), W written off
# (charged off), C closed.
STATUS_CODES = ("N", "1", "2", "3", "4", "W", "C")
# A month label: four digits, a dash, a month number 01 to 12.
MONTH_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"


def empty_frame(record_type: str) -> pd.DataFrame:
    """Return an empty DataFrame with the canonical columns and dtypes of a record type."""
    return pd.DataFrame(
        {f.name: pd.Series(dtype=pandas_dtype(f.kind)) for f in RECORDS[record_type]}
    )


def pandas_dtype(kind: FieldKind) -> str:
    """The pandas dtype that holds a field kind, missing values included."""
    return {
        "text": "string",
        "month": "string",
        "fen": "Int64",
        "int": "Int64",
        "bool": "boolean",
    }[kind]


def string_series(arr: pa.Array | pa.ChunkedArray) -> pd.Series:
    """Wrap an Arrow string array as a pandas ``string`` column without copying values."""
    if pa.types.is_null(arr.type):
        arr = pa.nulls(len(arr), pa.large_string())
    return pd.Series(pd.arrays.ArrowStringArray(arr.cast(pa.large_string())))


def to_text(frame: pd.DataFrame, record_type: str) -> pd.DataFrame:
    """Render typed canonical records as canonical text, the form every reader returns.

    Months stay ``YYYY-MM``; fen and int fields become decimal digits (with a leading ``-``
    when negative); booleans become ``"1"``/``"0"``; missing values stay ``<NA>``.

    Parameters
    ----------
    frame
        Records with the record type's columns.
    record_type
        A key of :data:`RECORDS`.

    Returns
    -------
    pandas.DataFrame
        One ``string`` column per field, in schema order.
    """
    out = {}
    for spec in RECORDS[record_type]:
        col = frame[spec.name] if spec.name in frame else pd.Series(pd.NA, index=frame.index)
        if spec.kind in ("fen", "int"):
            text = col.astype("Int64").astype("string")
        elif spec.kind == "bool":
            text = col.astype("boolean").map({True: "1", False: "0"}).astype("string")
        else:
            text = col.astype("string")
        out[spec.name] = text
    return pd.DataFrame(out, index=frame.index)


def from_text(text: pd.DataFrame, record_type: str) -> pd.DataFrame:
    """Convert canonical text back to typed records (values already validated).

    Parameters
    ----------
    text
        One string column per field, as :func:`to_text` makes and readers return.
    record_type
        A key of :data:`RECORDS`.

    Returns
    -------
    pandas.DataFrame
        Typed columns (see :func:`pandas_dtype`), in schema order.
    """
    out = {}
    for spec in RECORDS[record_type]:
        col = _arrow_text(text[spec.name])
        if spec.kind in ("fen", "int"):
            out[spec.name] = pd.Series(pd.Int64Dtype().__from_arrow__(pc.cast(col, pa.int64())))
        elif spec.kind == "bool":
            out[spec.name] = pd.Series(pd.BooleanDtype().__from_arrow__(pc.equal(col, "1")))
        else:
            out[spec.name] = string_series(col)
    return pd.DataFrame(out).set_axis(text.index)


def _arrow_text(col: pd.Series) -> pa.ChunkedArray:
    return pa.chunked_array(pa.array(col, type=pa.large_string(), from_pandas=True))


def month_labels(start: dt.date, months: np.ndarray) -> np.ndarray:
    """Turn month numbers (0 = the scenario's first month) into ``YYYY-MM`` labels.

    Parameters
    ----------
    start
        The first day of month 0.
    months
        Integer month numbers, negative before the window.

    Returns
    -------
    numpy.ndarray
        ``YYYY-MM`` strings.
    """
    months = np.asarray(months, dtype=np.int64)
    if not months.size:
        return np.empty(0, dtype="U7")
    # A few dozen distinct months label millions of records: format each once.
    low = months.min()
    base = np.datetime64(start, "M").astype(np.int64)
    table = (np.arange(low, months.max() + 1) + base).astype("datetime64[M]").astype(str)
    return table[months - low]


def month_numbers(start: dt.date, labels: pd.Series) -> pd.Series:
    """Turn ``YYYY-MM`` labels into month numbers relative to ``start`` (``<NA>`` stays).

    Parameters
    ----------
    start
        The first day of month 0.
    labels
        ``YYYY-MM`` labels, or missing values.

    Returns
    -------
    pandas.Series
        ``Int64`` month numbers, on the index of ``labels``.

    Raises
    ------
    BureauError
        If a label is not a month (``2019-13``, ``2019-00`` and ``2019-1`` are not).
    """
    # A few dozen distinct months label millions of records: each is checked and converted
    # once, which is also faster than slicing and casting every value.
    encoded = pc.dictionary_encode(_arrow_text(labels)).combine_chunks()
    distinct = encoded.dictionary
    valid = pc.match_substring_regex(distinct, MONTH_PATTERN)
    if pc.all(valid).as_py() is False:
        bad = distinct.filter(pc.invert(valid))[0].as_py()
        raise BureauError(f"{bad!r} is not a month (YYYY-MM, the month 01 to 12)")
    year = pc.cast(pc.utf8_slice_codeunits(distinct, 0, 4), pa.int64())
    month = pc.cast(pc.utf8_slice_codeunits(distinct, 5, 7), pa.int64())
    number = pc.subtract(pc.add(pc.multiply(year, 12), month), start.year * 12 + start.month)
    numbers = pc.take(number, encoded.indices)
    return pd.Series(pd.Int64Dtype().__from_arrow__(numbers), index=labels.index)


def label_months(start: dt.date, labels: pd.Series) -> np.ndarray:
    """Turn ``YYYY-MM`` labels (none missing) into month numbers relative to ``start``.

    Parameters
    ----------
    start
        The first day of month 0.
    labels
        ``YYYY-MM`` labels.

    Returns
    -------
    numpy.ndarray
        int64 month numbers.

    Raises
    ------
    BureauError
        If a label is not a month.
    """
    return month_numbers(start, labels).to_numpy(dtype=np.int64)
