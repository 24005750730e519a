"""Machinery shared by the codecs: byte buffers to Arrow strings, canonical text, result frames.

Everything here works on whole columns: a file is a NumPy byte buffer, its lines are arrays of
start and end offsets, and values are Arrow string arrays transformed by ``pyarrow.compute``.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from bureau.formats.base import REJECT_COLUMNS, FeedError
from bureau.formats.schema import RECORDS, string_series

LF = 10
CR = 13
STRING = pa.large_string()

# A canonical integer (fen or int field); exact conversions only ever strip leading zeros.
INT_PATTERN = r"^-?[0-9]+$"
# A month written YYYYMM; a month number outside 01..12 has no canonical form and stays raw.
COMPACT_MONTH_PATTERN = r"^[0-9]{4}(0[1-9]|1[0-2])$"
#: The longest line a delimited record can take. A record's fields hold a few hundred
#: characters at most; the bound keeps an absurd line (a field of many megabytes) from
#: reaching a parser whose blocks it would overflow.
MAX_LINE_BYTES = 1 << 16
#: The characters of a rejected record's raw text that are kept: enough to see what it was.
RAW_CHARS = 4096
# C0 control characters other than tab: never content of a field, and a NUL or an escape
# in an account number would make another account of it.
_CONTROL_PATTERN = "[\x00-\x08\x0a-\x1f]"
_TAB = 0x09


def concat(*parts: pa.Array | str, skip_nulls: bool = False) -> pa.Array:
    """Concatenate string arrays and literals element-wise.

    Parameters
    ----------
    *parts
        Large-string arrays of one length, or Python strings broadcast to it.
    skip_nulls
        Treat null parts as empty strings; otherwise a null part makes the result null.

    Returns
    -------
    pyarrow.Array
        The concatenation, as large strings.
    """
    typed = []
    for part in parts:
        if isinstance(part, str):
            typed.append(pa.scalar(part, STRING))
        else:
            part = part.cast(STRING)
            # Filling first is several times faster than the kernel's own null replacement.
            typed.append(part.fill_null("") if skip_nulls and part.null_count else part)
    return pc.binary_join_element_wise(*typed, pa.scalar("", STRING))


def check_record_type(record_type: str, path: object) -> None:
    """Raise :class:`FeedError` unless ``record_type`` is a key of ``RECORDS``."""
    if record_type not in RECORDS:
        known = ", ".join(RECORDS)
        raise FeedError(f"unknown record type {record_type!r} (known: {known})", path=path)


def line_bounds(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the start and end byte offsets of every line of a buffer.

    Parameters
    ----------
    buf
        The file's bytes as ``uint8``.

    Returns
    -------
    tuple of numpy.ndarray
        ``starts`` and ``ends`` (int64); ``ends`` excludes the LF or CRLF
        terminator. A final line without terminator counts as a line; the empty string after
        the last terminator does not.
    """
    newlines = np.flatnonzero(buf == LF)
    starts = np.concatenate(([0], newlines + 1)).astype(np.int64)
    ends = np.concatenate((newlines, [buf.size])).astype(np.int64)
    if starts[-1] == buf.size:
        starts, ends = starts[:-1], ends[:-1]
    # Only a CR right before the LF belongs to the terminator; any other CR is content.
    terminated = ends < buf.size
    has_cr = terminated & (ends > starts) & (buf[np.maximum(ends - 1, 0)] == CR)
    return starts, ends - has_cr


def count_in_lines(positions: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """How many of the sorted byte positions fall in each line ``[start, end)``."""
    return np.searchsorted(positions, ends) - np.searchsorted(positions, starts)


def gather(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate byte ranges of a buffer.

    Parameters
    ----------
    buf
        Bytes as ``uint8``.
    starts, ends
        Sorted, non-overlapping ranges ``[start, end)``.

    Returns
    -------
    tuple of numpy.ndarray
        The concatenated bytes and Arrow-style offsets (``len(starts) + 1`` int64 values).
    """
    n = starts.size
    lengths = ends - starts
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if n == 0:
        return np.empty(0, np.uint8), offsets
    # A mask over the buffer as alternating runs (gap, range, gap, ...): one byte per byte
    # of the buffer, where an index array would take eight.
    runs = np.empty(2 * n + 1, np.int64)
    runs[0:-1:2] = starts - np.concatenate(([0], ends[:-1]))
    runs[1::2] = lengths
    runs[-1] = buf.size - ends[-1]
    keep = np.zeros(2 * n + 1, np.bool_)
    keep[1::2] = True
    return buf[np.repeat(keep, runs)], offsets


def lines_array(buf: np.ndarray, starts: np.ndarray) -> pa.Array:
    """Every line of a UTF-8 buffer as Arrow strings, without their terminators.

    Parameters
    ----------
    buf
        The file's bytes as ``uint8``.
    starts
        Start offsets of the lines, from :func:`line_bounds`.

    Returns
    -------
    pyarrow.Array
        Large strings, one per line, trailing CR and LF removed.

    Raises
    ------
    pyarrow.ArrowInvalid
        If the bytes are not valid UTF-8.
    """
    # Each line with its terminator is one value of the buffer as it is (no copy); trimming
    # the terminators is then one vector operation.
    offsets = np.concatenate((starts, [buf.size])).astype(np.int64)
    values = pa.Array.from_buffers(
        pa.large_binary(), starts.size, [None, pa.py_buffer(offsets), pa.py_buffer(buf)]
    )
    return pc.utf8_rtrim(values.cast(STRING), "\r\n")


def take_sorted(arr: pa.Array, indices: np.ndarray) -> pa.Array | pa.ChunkedArray:
    """Select sorted, distinct positions of an array without copying its values.

    Consecutive positions are slices of the array, returned together as a chunked array
    (``take`` would copy every selected string).
    """
    if indices.size == 0:
        return arr.slice(0, 0)
    breaks = np.flatnonzero(np.diff(indices) != 1) + 1
    if breaks.size == 0:
        return arr.slice(int(indices[0]), int(indices.size))
    if breaks.size > 1000:
        return arr.take(pa.array(indices))
    bounds = np.concatenate(([0], breaks, [indices.size])).tolist()
    return pa.chunked_array(
        [arr.slice(int(indices[a]), b - a) for a, b in itertools.pairwise(bounds)], arr.type
    )


def array_buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The values (``uint8``) and offsets (int64, from 0) of a large binary or string array."""
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    offsets = np.frombuffer(arr.buffers()[1], np.int64)[arr.offset : arr.offset + len(arr) + 1]
    data = arr.buffers()[2]
    if data is None or len(arr) == 0:
        return np.empty(0, np.uint8), np.zeros(len(arr) + 1, np.int64)
    values = np.frombuffer(data, np.uint8)[int(offsets[0]) : int(offsets[-1])]
    return values, offsets - offsets[0]


def join_lines(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Concatenate values each followed by LF (the inverse of :func:`line_bounds`).

    Parameters
    ----------
    values
        Concatenated bytes (``uint8``).
    offsets
        Arrow-style offsets of the values.

    Returns
    -------
    numpy.ndarray
        The bytes of the lines, ``uint8``.
    """
    n = offsets.size - 1
    separators = offsets[1:] + np.arange(n)
    joined = np.empty(values.size + n, np.uint8)
    is_separator = np.zeros(joined.size, np.bool_)
    is_separator[separators] = True
    joined[separators] = LF
    joined[~is_separator] = values
    return joined


def string_array(values: np.ndarray, offsets: np.ndarray) -> pa.Array:
    """Build Arrow strings from UTF-8 bytes and offsets.

    Raises
    ------
    pyarrow.ArrowInvalid
        If the bytes are not valid UTF-8.
    """
    n = offsets.size - 1
    values = np.ascontiguousarray(values, dtype=np.uint8)
    binary = pa.Array.from_buffers(
        pa.large_binary(),
        n,
        [None, pa.py_buffer(np.ascontiguousarray(offsets, np.int64)), pa.py_buffer(values)],
    )
    return binary.cast(STRING)


def decode_gb18030(values: np.ndarray, offsets: np.ndarray) -> pa.Array:
    """Decode GB18030 values to Arrow strings; undecodable bytes become U+FFFD.

    Parameters
    ----------
    values
        The concatenated bytes (``uint8``); no value may contain LF.
    offsets
        Arrow-style offsets of the values.

    Returns
    -------
    pyarrow.Array
        Large strings, one per value.
    """
    n = offsets.size - 1
    if values.size == 0 or int(values.max()) < 0x80:
        return string_array(values, offsets)
    # One decode call for the whole column: the values joined by LF, a byte that no
    # multi-byte GB18030 sequence contains, so a successful decode respects the boundaries.
    try:
        text = join_lines(values, offsets).tobytes().decode("gb18030")
    except UnicodeDecodeError:
        # Rare (a corrupt file): decode value by value so that one bad byte cannot swallow
        # a separator, and mark the bad bytes for validation to flag.
        raw = values.tobytes()
        items = [
            raw[a:b].decode("gb18030", "replace")
            for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)
        ]
        return pa.array(items, STRING)
    utf8 = np.frombuffer(text.encode("utf-8"), np.uint8)
    ends = np.flatnonzero(utf8 == LF)
    new_offsets = np.zeros(n + 1, np.int64)
    new_offsets[1:] = ends - np.arange(n)
    return string_array(utf8[utf8 != LF], new_offsets)


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


def has_bytes(arr: pa.Array, *codes: int) -> bool:
    """Whether any value of a string array contains one of the given bytes."""
    values, _ = array_buffers(arr.cast(STRING))
    return bool(np.isin(values, np.array(codes, np.uint8)).any()) if values.size else False


def utf8_bytes(arr: pa.Array) -> bytes:
    """Return the concatenated UTF-8 bytes of a string array (nulls count as empty)."""
    arr = arr.cast(STRING)
    # A null slot may hold bytes: Arrow does not require it to be empty.
    values, _ = array_buffers(arr.fill_null("") if arr.null_count else arr)
    return values.tobytes()


def arrow_strings(column: pd.Series) -> pa.Array:
    """Return a pandas string column as an Arrow large-string array."""
    return pa.array(column, from_pandas=True).cast(STRING)


def null_if_empty(arr: pa.Array) -> pa.Array:
    """Replace empty strings by nulls."""
    return pc.if_else(pc.equal(pc.utf8_length(arr), 0), pa.scalar(None, STRING), arr)


def canon_int(arr: pa.Array) -> pa.Array:
    """Canonicalise decimal integers (strip leading zeros, ``-0`` -> ``0``); keep others raw."""
    ok = pc.match_substring_regex(arr, INT_PATTERN)
    if ok.null_count == len(ok) or (
        pc.all(ok).as_py() and (pc.max(pc.utf8_length(arr)).as_py() or 0) <= 18
    ):
        # Every value fits int64: a round trip through integers is exact and much faster.
        return pc.cast(pc.cast(arr, pa.int64()), STRING)
    stripped = pc.replace_substring_regex(arr, r"^(-?)0+([0-9])", r"\1\2")
    stripped = pc.replace_substring_regex(stripped, r"^-0$", "0")
    return pc.if_else(ok, stripped, arr)


def canon_compact_month(arr: pa.Array) -> pa.Array:
    """Turn ``YYYYMM`` into ``YYYY-MM`` where it is a real month; keep others raw."""
    ok = pc.match_substring_regex(arr, COMPACT_MONTH_PATTERN)
    dashed = concat(pc.utf8_slice_codeunits(arr, 0, 4), "-", pc.utf8_slice_codeunits(arr, 4, 6))
    return pc.if_else(ok, dashed, arr)


def compact_month(arr: pa.Array) -> pa.Array:
    """Turn canonical ``YYYY-MM`` into ``YYYYMM`` (for writers)."""
    return pc.replace_substring(arr, "-", "")


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


def exact_sum(values: np.ndarray) -> int:
    """Sum int64 values exactly (a million amounts of up to 10**13 fen overflow int64)."""
    high, low = np.divmod(values.astype(np.int64), 1_000_000_000)
    return int(high.sum()) * 1_000_000_000 + int(low.sum())
