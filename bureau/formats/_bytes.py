"""Byte buffers as whole columns: a file's lines, byte ranges, and Arrow strings built from them.

A file is a NumPy byte buffer and its lines are arrays of start and end offsets; values move
between byte buffers and Arrow string arrays without a Python loop per value.
"""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

LF = 10
CR = 13
#: The type of every text column the codecs build.
STRING = pa.large_string()
#: The longest line a delimited record can take. A record's fields hold a few hundred
#: characters at most; the bound keeps an absurd line (a field of many megabytes) from
#: reaching a parser whose blocks it would overflow.
MAX_LINE_BYTES = 1 << 16


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
