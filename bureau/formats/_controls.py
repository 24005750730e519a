"""Control characters in fields: a reader rejects the records holding one, a writer refuses one.

Every codec treats them alike, so a file one codec writes is one it can read back.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from bureau.formats._bytes import STRING, array_buffers
from bureau.formats._results import clip_raw, no_rejects, rejects_frame
from bureau.formats.base import FeedError
from bureau.formats.schema import RECORDS

# C0 control characters other than tab: never content of a field, and a NUL or an escape
# in an account number would make another account of it.
_CONTROL_PATTERN = "[\x00-\x08\x0a-\x1f]"
_TAB = 0x09


def _has_control(arr: pa.Array | pa.ChunkedArray) -> bool:
    """Whether any value holds a control character, from the bytes (no regex, no copy)."""
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    for chunk in chunks:
        values, _ = array_buffers(chunk.cast(STRING))
        if values.size and bool(np.any((values < 0x20) & (values != _TAB))):
            return True
    return False


def control_fields(
    names: list[str], columns: dict[str, pa.Array | pa.ChunkedArray]
) -> tuple[np.ndarray, np.ndarray]:
    """Which records hold a C0 control character other than tab, and in which field.

    Parameters
    ----------
    names
        The fields to look at, in the order a record's first offending field is named.
    columns
        Text per field, one value per record.

    Returns
    -------
    tuple of numpy.ndarray
        A mask of the records concerned, and the name of the first such field of each
        (None elsewhere).
    """
    n = len(columns[names[0]]) if names else 0
    hit = np.zeros(n, np.bool_)
    where = np.full(n, None, dtype=object)
    for name in names:
        column = columns[name]
        if not _has_control(column):
            continue
        found = pc.match_substring_regex(column, _CONTROL_PATTERN).fill_null(False)
        mask = np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool) & ~hit
        where[mask] = name
        hit |= mask
    return hit, where


def split_controls(
    record_type: str,
    columns: dict[str, pa.Array | pa.ChunkedArray],
    line: np.ndarray,
    raw: pa.Array | pa.ChunkedArray,
    rule_id: str,
) -> tuple[
    dict[str, pa.Array | pa.ChunkedArray], np.ndarray, pa.Array | pa.ChunkedArray, pd.DataFrame
]:
    """Take the records holding a control character out of a reader's result, as rejects.

    Parameters
    ----------
    record_type
        A key of ``RECORDS``.
    columns
        Canonical text per field.
    line, raw
        Each record's line number and raw text.
    rule_id
        The codec's rule id for a control character in a field.

    Returns
    -------
    tuple
        The columns, lines and raw texts of the other records, and the rejects (columns
        :data:`REJECT_COLUMNS`, ``field`` the first offending field).
    """
    names = [spec.name for spec in RECORDS[record_type]]
    hit, where = control_fields(names, columns)
    if not hit.any():
        return columns, line, raw, no_rejects()
    keep = pa.array(~hit)
    bad = np.flatnonzero(hit)
    messages = []
    for index in bad.tolist():
        value = columns[where[index]][index].as_py()
        code = ord(next(c for c in value if ord(c) < 0x20 and ord(c) != _TAB))
        messages.append(f"control character U+{code:04X} in {where[index]}")
    rejects = rejects_frame(
        line[hit],
        [rule_id] * bad.size,
        where[hit].tolist(),
        messages,
        clip_raw(raw.filter(pa.array(hit))),
    )
    kept = {name: column.filter(keep) for name, column in columns.items()}
    return kept, line[~hit], raw.filter(keep), rejects


def refuse_controls(path: object, column: pa.Array, name: str, what: str) -> None:
    """Raise :class:`FeedError` naming the first value with a control character (writers).

    A reader rejects such a value, so a writer that wrote it could not read its own file.
    """
    if _has_control(column):
        found = pc.match_substring_regex(column, _CONTROL_PATTERN).fill_null(False)
        row = int(np.flatnonzero(found.to_numpy(zero_copy_only=False))[0]) + 1
        message = f"a control character cannot be written in {what}"
        raise FeedError(message, path=path, row=row, field=name)
