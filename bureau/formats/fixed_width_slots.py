"""Fixed-width slots as bytes: each field's column encoded to its slot, and read back.

Every field of every record is one column slice of a byte matrix: a writer fills the matrix a
slot at a time, a reader decodes and canonicalises a slot of every record at once.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bureau.formats._bytes import STRING, gather, has_bytes, string_array, utf8_bytes
from bureau.formats._canonical import compact_month, concat
from bureau.formats._controls import refuse_controls
from bureau.formats.base import FeedError
from bureau.formats.fixed_width_layout import Slot
from bureau.formats.schema import FieldSpec

_SPACE = 0x20


def encode_slot(path: Path, column: pa.Array, slot: Slot) -> np.ndarray:
    """Encode one canonical text column to its slot: one row of ``slot.size`` bytes per record.

    Raises
    ------
    FeedError
        If a value does not fit its slot, or holds a line break.
    """
    spec = slot.spec
    if spec.kind == "month":
        column = compact_month(column)
    elif spec.kind in ("fen", "int"):
        too_long = pc.greater(pc.utf8_length(column), slot.size).fill_null(False)
        _refuse(path, too_long, spec, f"a value does not fit in {slot.size} bytes")
        # Zero-pad after the sign: -12 in four bytes is "-012".
        negative = pc.starts_with(column, "-").fill_null(False)
        padded = pc.utf8_lpad(pc.utf8_ltrim(column, "-"), slot.size, "0")
        column = pc.if_else(negative, concat("-", pc.utf8_slice_codeunits(padded, 1)), padded)
    elif has_bytes(column, 0x0A, 0x0D):
        breaks = pc.match_substring_regex(column, "[\r\n]").fill_null(False)
        _refuse(path, breaks, spec, "a line break cannot be written in a fixed-width field")
    refuse_controls(path, column, spec.name, "a fixed-width field")
    column = column.fill_null("")
    n = len(column)
    if pc.all(pc.string_is_ascii(column)).as_py() is not False:
        too_long = pc.greater(pc.utf8_length(column), slot.size)
        _refuse(path, too_long, spec, f"a value does not fit in {slot.size} bytes")
        # ASCII: one byte per character, so padding to the slot makes every value one row.
        data = utf8_bytes(pc.utf8_rpad(column, slot.size, " "))
        return np.frombuffer(data, np.uint8).reshape(n, slot.size)
    # Chinese characters take two bytes (rare ones four): measure the encoded values, then
    # pad each with the spaces that make it exactly fill its slot, and encode once more.
    encoded = np.frombuffer(
        utf8_bytes(concat(column, "\n")).decode("utf-8").encode("gb18030"), np.uint8
    )
    ends = np.flatnonzero(encoded == 0x0A)
    sizes = np.diff(ends, prepend=-1) - 1
    _refuse(path, pa.array(sizes > slot.size), spec, f"a value does not fit in {slot.size} bytes")
    padding = pc.binary_repeat(pa.scalar(" ", STRING), pa.array(slot.size - sizes))
    data = utf8_bytes(concat(column, padding)).decode("utf-8").encode("gb18030")
    return np.frombuffer(data, np.uint8).reshape(n, slot.size)


def _refuse(path: Path, bad: pa.Array, spec: FieldSpec, message: str) -> None:
    """Raise a :class:`FeedError` naming the first record where ``bad`` is true."""
    if pc.any(bad).as_py():
        row = int(np.flatnonzero(bad.to_numpy(zero_copy_only=False))[0]) + 1
        raise FeedError(message, path=path, row=row, field=spec.name)


def _trimmed(text: pa.Array, kind: str) -> pa.Array:
    """A slot's text without its padding; all padding is a missing value."""
    text = pc.utf8_rtrim(text, " ") if kind == "text" else pc.utf8_trim(text, " ")
    return pc.if_else(pc.equal(pc.utf8_length(text), 0), pa.scalar(None, STRING), text)


def slot_text(block: np.ndarray, text: pa.Array, kind: str) -> pa.Array:
    """Canonical text of one slot of every record: padding trimmed, exact conversions only.

    Parameters
    ----------
    block
        The slot's bytes, one row per record.
    text
        The same, decoded.
    kind
        The field kind.
    """
    if kind == "text":
        return _trimmed(text, kind)
    blank = np.all(block == _SPACE, axis=1)
    # Bytes below "0" wrap around to large values, so one comparison finds the digits.
    digits = block - np.uint8(ord("0"))
    is_digit = digits <= 9
    if kind in ("fen", "int"):
        # Zero-padded digits, or a minus sign then digits: parsed as int64 in one pass.
        negative = block[:, 0] == ord("-")
        valid = np.all(is_digit[:, 1:], axis=1) & (is_digit[:, 0] | negative)
        digits[:, 0] = np.where(negative, 0, digits[:, 0])
        powers = 10 ** np.arange(block.shape[1] - 1, -1, -1, dtype=np.int64)
        magnitude = np.where(valid[:, None], digits, 0) @ powers
        exact = pa.array(np.where(negative, -magnitude, magnitude)).cast(STRING)
    elif kind == "month":
        month = digits[:, 4].astype(np.int16) * 10 + digits[:, 5]
        valid = np.all(is_digit, axis=1) & (month >= 1) & (month <= 12)
        dashed = np.empty((block.shape[0], 7), np.uint8)
        dashed[:, :4] = block[:, :4]
        dashed[:, 4] = ord("-")
        dashed[:, 5:] = block[:, 4:]
        exact = _fixed_strings(dashed)
    else:
        valid = is_digit[:, 0] & (digits[:, 0] <= 1)
        exact = text
    if np.all(valid | blank):
        # The usual case: nothing malformed, no need to trim the padding of the raw text.
        return pc.if_else(pa.array(blank), pa.scalar(None, STRING), exact)
    raw = _trimmed(text, kind)
    return pc.if_else(pa.array(valid), exact, raw)


def _fixed_strings(block: np.ndarray) -> pa.Array:
    """ASCII bytes, one row per value, as Arrow strings."""
    offsets = np.arange(0, block.size + 1, max(block.shape[1], 1), dtype=np.int64)
    return string_array(np.ascontiguousarray(block).reshape(-1), offsets)


def detail_matrix(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, length: int) -> np.ndarray:
    """The detail records of the right length as an ``(n, length)`` byte matrix."""
    n = starts.size
    if n == 0:
        return np.empty((0, length), np.uint8)
    span = int(ends[-1] - starts[0])
    stride = length + 1
    if span == (n - 1) * stride + length and np.all(np.diff(starts) == stride):
        # The usual case, contiguous records with LF endings: a view of the buffer.
        return np.lib.stride_tricks.as_strided(
            buf[starts[0] :], shape=(n, length), strides=(stride, 1), writeable=False
        )
    values, _ = gather(buf, starts, ends)
    return values.reshape(n, length)
