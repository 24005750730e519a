"""Fixed-width records in GB18030, a legacy mainframe interface.

Layout
------
GB18030 bytes; LF-terminated records (CRLF is read too), all ``L`` bytes long, where
``L`` depends on the record type (see :func:`layout`). Offsets are 0-based byte offsets.

Header (first record), padded with spaces to ``L``::

    0      "H"
    1-2    record type code: TL tradeline, IQ inquiry, PR public_record, SG signal, CT contact
    3-22   sender, GB18030, left-aligned, space-padded (20 bytes)
    23-28  reporting month YYYYMM

Detail records: ``"D"`` at offset 0, then every field of the record type in schema order:

- ``text``: ``2 * width`` bytes (room for Chinese), left-aligned, space-padded;
- ``month``: 6 bytes ``YYYYMM``;
- ``fen`` and ``int``: ``width`` bytes, right-aligned, zero-padded, a leading ``-`` allowed;
- ``bool``: 1 byte ``1``/``0``;
- a missing value is all spaces (so an empty string, or trailing spaces, read back trimmed).

Trailer (last record), padded with spaces to ``L``::

    0      "T"
    1-10   number of detail records, zero-padded (10 digits)
    11-28  control total: the sum of the designated amount field over the detail records,
           modulo 10**18, zero-padded (18 digits); missing amounts count 0. The field is
           ``balance`` for tradelines, ``amount`` for public records, ``ecommerce_spend`` for
           signals; inquiries have no amount, their total is 0.

Reader
------
The file is one NumPy byte buffer; records of the right length are viewed as a 2-D byte
matrix and every field is a column slice of it, decoded and canonicalised as a whole column.
Per record, only two things can go wrong without spoiling the file:

``F001``
    A detail record of the wrong byte length (shorter or longer than ``L``, or blank).
``F002``
    A body record that is not a detail record (it does not start with ``D``).
``F003``
    A field holds a control character (U+0000 to U+001F, other than tab): a NUL or an escape
    in an account number would make another account of it. The record was split, so it still
    counts towards the trailer's control total.

A value that is present but malformed (``2018AB``, ``00-123``, ``Y``) passes through as its
text with the padding trimmed; undecodable bytes in a text field become U+FFFD. Everything
else is a :class:`FeedError` naming the file: an empty file, a missing or malformed header, an
unknown record type code, a missing or malformed trailer (a truncated file), a trailer count
that disagrees with the number of body records, or a control total that disagrees with the
details. The control total is only checked when every body record was split and every
designated amount is a number; otherwise it cannot be recomputed, and a warning is logged
(validation flags the records concerned). A rejected record's raw text is kept up to its first
:data:`~bureau.formats._common.RAW_CHARS` characters.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from bureau.formats._common import (
    INT_PATTERN,
    STRING,
    arrow_strings,
    canon_compact_month,
    check_record_type,
    clip_raw,
    compact_month,
    concat,
    decode_gb18030,
    exact_sum,
    gather,
    has_bytes,
    line_bounds,
    no_rejects,
    records_frame,
    refuse_controls,
    rejects_frame,
    split_controls,
    string_array,
    utf8_bytes,
)
from bureau.formats.base import Codec, FeedError, ParsedFeed
from bureau.formats.schema import MONTH_PATTERN, RECORDS, FieldSpec, to_text

log = logging.getLogger(__name__)

#: Two-character record type codes of the header.
TYPE_CODES = {
    "tradeline": "TL",
    "inquiry": "IQ",
    "public_record": "PR",
    "signal": "SG",
    "contact": "CT",
}
#: The amount field whose sum the trailer carries (None: the total is 0).
CONTROL_FIELDS: dict[str, str | None] = {
    "tradeline": "balance",
    "inquiry": None,
    "public_record": "amount",
    "signal": "ecommerce_spend",
    "contact": None,
}
SENDER_BYTES = 20
COUNT_DIGITS = 10
SUM_DIGITS = 18
_SUM_MODULUS = 10**SUM_DIGITS
_HEADER_BYTES = 1 + 2 + SENDER_BYTES + 6
_TRAILER_BYTES = 1 + COUNT_DIGITS + SUM_DIGITS
_SPACE = 0x20


@dataclass(frozen=True)
class Slot:
    """Where one field sits in a detail record."""

    spec: FieldSpec
    offset: int
    size: int


def _field_bytes(spec: FieldSpec) -> int:
    """The byte width of a field in a detail record."""
    if spec.kind == "text":
        return 2 * spec.width
    if spec.kind == "month":
        return 6
    return spec.width


@cache
def layout(record_type: str) -> tuple[tuple[Slot, ...], int]:
    """Return the field slots of a record type's detail record and the record length.

    Parameters
    ----------
    record_type
        A key of :data:`bureau.formats.schema.RECORDS`.

    Returns
    -------
    tuple
        The slots in schema order, and the record length ``L`` in bytes (without newline).
    """
    slots = []
    offset = 1
    for spec in RECORDS[record_type]:
        size = _field_bytes(spec)
        slots.append(Slot(spec, offset, size))
        offset += size
    return tuple(slots), offset


def _encode_column(path: Path, column: pa.Array, slot: Slot) -> np.ndarray:
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


def _canonical(block: np.ndarray, text: pa.Array, kind: str) -> pa.Array:
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


def _ascii(buf: np.ndarray, start: int, stop: int) -> str:
    """Bytes of a header or trailer as text (non-ASCII bytes shown as U+FFFD)."""
    return buf[start:stop].tobytes().decode("ascii", "replace")


class FixedWidthCodec(Codec):
    """Fixed-width GB18030 feeds with header, detail records and a control trailer."""

    name = "fixed_width"
    suffix = ".dat"
    first_record_line = 2

    def write(
        self, path: Path, record_type: str, frame: pd.DataFrame, *, sender: str, month: str
    ) -> None:
        """Write records of one type as a fixed-width file with header and trailer.

        See :meth:`bureau.formats.base.Codec.write`.
        """
        path = Path(path)
        check_record_type(record_type, path)
        slots, length = layout(record_type)
        sender_bytes = sender.encode("gb18030")
        if len(sender_bytes) > SENDER_BYTES or "\n" in sender:
            message = f"sender {sender!r} does not fit in {SENDER_BYTES} bytes"
            raise FeedError(message, path=path, field="sender")
        if not re.fullmatch(MONTH_PATTERN, month):
            raise FeedError(f"month {month!r} is not YYYY-MM", path=path, field="month")
        text = to_text(frame, record_type)
        # Every slot is written whole (values are padded), so the matrix needs no blanking.
        matrix = np.empty((len(text), length + 1), np.uint8)
        matrix[:, 0] = ord("D")
        matrix[:, length] = 0x0A
        for slot in slots:
            column = arrow_strings(text[slot.spec.name])
            matrix[:, slot.offset : slot.offset + slot.size] = _encode_column(path, column, slot)

        total = 0
        control = CONTROL_FIELDS[record_type]
        if control is not None and len(text):
            amounts = frame[control].astype("Int64").fillna(0).to_numpy(np.int64)
            total = exact_sum(amounts) % _SUM_MODULUS
        head = b"H" + TYPE_CODES[record_type].encode() + sender_bytes.ljust(SENDER_BYTES)
        head += month.replace("-", "").encode()
        tail = f"T{len(text):0{COUNT_DIGITS}d}{total:0{SUM_DIGITS}d}".encode()
        with path.open("wb") as out:
            out.write(head.ljust(length) + b"\n")
            out.write(matrix.reshape(-1).data)
            out.write(tail.ljust(length) + b"\n")

    def read(self, path: Path) -> ParsedFeed:
        """Read a fixed-width feed and check it against its trailer.

        Parameters
        ----------
        path
            The file.

        Returns
        -------
        ParsedFeed
            Records as canonical text, bad body records as rejects (``F001``-``F003``);
            ``header`` holds ``record_type_code``, ``sender``, ``month``, ``record_count``,
            ``control_total`` and ``control_total_checked`` (``"yes"``/``"no"``).

        Raises
        ------
        FeedError
            If the file is empty, truncated, of an unknown record type, or disagrees with
            its trailer.
        """
        path = Path(path)
        data = path.read_bytes()
        if not data:
            raise FeedError("empty file", path=path)
        buf = np.frombuffer(data, np.uint8)
        starts, ends = line_bounds(buf)
        record_type, header = _read_header(path, buf, starts[0], ends[0])
        slots, length = layout(record_type)

        # Blank lines after the trailer are harmless; anything else after it is not.
        last = starts.size - 1
        while last > 0 and ends[last] == starts[last]:
            last -= 1
        if last == 0:
            raise FeedError("no trailer record: the file is truncated", path=path)
        count, declared_total = _read_trailer(path, buf, starts[last], ends[last], last + 1)
        header["record_count"] = str(count)
        header["control_total"] = str(declared_total)

        body_starts, body_ends = starts[1:last], ends[1:last]
        numbers = np.arange(2, last + 1)
        if body_starts.size != count:
            message = f"the trailer counts {count} records, the file has {body_starts.size}"
            raise FeedError(message, path=path, row=last + 1)
        lengths = body_ends - body_starts
        first = buf[np.minimum(body_starts, buf.size - 1)]
        is_detail = (lengths > 0) & (first == ord("D"))
        good = is_detail & (lengths == length)

        matrix = _detail_matrix(buf, body_starts[good], body_ends[good], length)
        columns = {}
        pieces: list[pa.Array | str] = ["D"]
        for slot in slots:
            block = np.ascontiguousarray(matrix[:, slot.offset : slot.offset + slot.size])
            offsets = np.arange(0, block.size + 1, slot.size, dtype=np.int64)
            text = decode_gb18030(block.reshape(-1), offsets)
            pieces.append(text)
            columns[slot.spec.name] = _canonical(block, text, slot.spec.kind)
        # The raw record is its slots' texts end to end: one decode per slot, none per record.
        raw = concat(*pieces) if len(matrix) else pa.array([], STRING)
        kept, line, raw, controls = split_controls(record_type, columns, numbers[good], raw, "F003")
        records = records_frame(record_type, kept, line, raw)

        rejected = no_rejects()
        if not good.all():
            bad = ~good
            # A blank record is a detail of the wrong length, not some other kind of record.
            reasons = np.where(is_detail[bad] | (lengths[bad] == 0), "F001", "F002")
            messages = [
                f"{n} bytes, expected {length}" if rule == "F001" else "not a detail record"
                for rule, n in zip(reasons.tolist(), lengths[bad].tolist(), strict=True)
            ]
            raw_bad = decode_gb18030(*gather(buf, body_starts[bad], body_ends[bad]))
            rejected = rejects_frame(
                numbers[bad],
                reasons.tolist(),
                [None] * len(messages),
                messages,
                clip_raw(raw_bad),
            )
        if len(controls):
            rejected = pd.concat([rejected, controls], ignore_index=True)
            rejected = rejected.sort_values("line", kind="stable", ignore_index=True)

        control = CONTROL_FIELDS[record_type]
        checked = control is None or good.all()
        if control is not None and checked:
            amounts = columns[control].fill_null("0")
            if pc.all(pc.match_substring_regex(amounts, INT_PATTERN)).as_py():
                actual = exact_sum(pc.cast(amounts, pa.int64()).to_numpy()) % _SUM_MODULUS
                if actual != declared_total:
                    message = (
                        f"the trailer's control total of {control} is {declared_total}, "
                        f"the records sum to {actual}"
                    )
                    raise FeedError(message, path=path, row=last + 1, field=control)
            else:
                checked = False
        elif control is None and declared_total != 0:
            message = f"the trailer's control total is {declared_total}, expected 0"
            raise FeedError(message, path=path, row=last + 1)
        if not checked:
            # The records concerned are rejects already, which say more than this.
            log.debug("%s: the control total cannot be recomputed (bad records)", path)
        header["control_total_checked"] = "yes" if checked else "no"
        return ParsedFeed(
            path=path, record_type=record_type, records=records, rejects=rejected, header=header
        )


def _read_header(path: Path, buf: np.ndarray, start: int, end: int) -> tuple[str, dict[str, str]]:
    """Parse the header record; return the record type and the header dict."""
    if end - start < _HEADER_BYTES or buf[start] != ord("H"):
        raise FeedError("no header record: not a fixed-width feed", path=path, row=1)
    code = _ascii(buf, start + 1, start + 3)
    types = {c: kind for kind, c in TYPE_CODES.items()}
    if code not in types:
        raise FeedError(f"unknown record type code {code!r}", path=path, row=1)
    sender_at = start + 3
    sender = buf[sender_at : sender_at + SENDER_BYTES].tobytes().decode("gb18030", "replace")
    month = _ascii(buf, sender_at + SENDER_BYTES, sender_at + SENDER_BYTES + 6)
    canonical = canon_compact_month(pa.array([month], STRING))[0].as_py()
    header = {"record_type_code": code, "sender": sender.rstrip(" "), "month": canonical}
    return types[code], header


def _read_trailer(path: Path, buf: np.ndarray, start: int, end: int, row: int) -> tuple[int, int]:
    """Parse the trailer record; return the declared count and control total."""
    if end - start < _TRAILER_BYTES or buf[start] != ord("T"):
        raise FeedError("no trailer record: the file is truncated", path=path, row=row)
    count = _ascii(buf, start + 1, start + 1 + COUNT_DIGITS)
    total = _ascii(buf, start + 1 + COUNT_DIGITS, start + _TRAILER_BYTES)
    if not (count.isdigit() and count.isascii() and total.isdigit() and total.isascii()):
        raise FeedError(f"malformed trailer {count + total!r}", path=path, row=row)
    return int(count), int(total)


def _detail_matrix(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, length: int
) -> np.ndarray:
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
