"""A reader's results: records and rejects as frames, and the raw text a reject keeps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from bureau.formats._bytes import STRING
from bureau.formats._canonical import concat
from bureau.formats.base import REJECT_COLUMNS, FeedError
from bureau.formats.schema import RECORDS, string_series

#: The characters of a rejected record's raw text that are kept: enough to see what it was.
RAW_CHARS = 4096


def check_record_type(record_type: str, path: object) -> None:
    """Raise :class:`FeedError` unless ``record_type`` is a key of ``RECORDS``."""
    if record_type not in RECORDS:
        known = ", ".join(RECORDS)
        raise FeedError(f"unknown record type {record_type!r} (known: {known})", path=path)


def clip_raw(arr: pa.Array | pa.ChunkedArray) -> list[str | None]:
    """A rejected record's raw text as Python strings, each cut to :data:`RAW_CHARS`.

    Parameters
    ----------
    arr
        Raw texts.

    Returns
    -------
    list of str
        The texts; one that was longer ends in ``…`` after its first :data:`RAW_CHARS`
        characters.
    """
    arr = arr.cast(STRING)
    long = pc.greater(pc.utf8_length(arr), RAW_CHARS)
    if not pc.any(long).as_py():
        return arr.to_pylist()
    cut = concat(pc.utf8_slice_codeunits(arr, 0, RAW_CHARS), "…")
    return pc.if_else(long, cut, arr).to_pylist()


def records_frame(
    record_type: str,
    columns: dict[str, pa.Array | pa.ChunkedArray],
    line: np.ndarray,
    raw: pa.Array | pa.ChunkedArray,
) -> pd.DataFrame:
    """Assemble a reader's records: one string column per field, then ``line`` and ``raw``."""
    data = {spec.name: string_series(columns[spec.name]) for spec in RECORDS[record_type]}
    data["line"] = pd.Series(np.asarray(line, np.int64))
    data["raw"] = string_series(raw)
    return pd.DataFrame(data)


def rejects_frame(
    line: object, rule_id: object, field: object, message: object, raw: object
) -> pd.DataFrame:
    """Assemble a reader's rejects (columns :data:`REJECT_COLUMNS`) from equal-length lists."""
    out = pd.DataFrame(
        {
            "line": pd.Series(np.asarray(line, np.int64)),
            "rule_id": pd.Series(rule_id, dtype="string"),
            "field": pd.Series(field, dtype="string"),
            "message": pd.Series(message, dtype="string"),
            "raw": pd.Series(raw, dtype="string"),
        }
    )
    return out[list(REJECT_COLUMNS)]


def no_rejects() -> pd.DataFrame:
    """An empty rejects frame."""
    return rejects_frame([], [], [], [], [])
