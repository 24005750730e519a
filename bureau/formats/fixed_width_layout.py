"""The fixed-width layout: where each field sits, and the header and trailer records.

The layout itself is described in :mod:`bureau.formats.fixed_width`; this module holds its
numbers, the slots of each record type's detail record, the control total, and the parsing of
the header and trailer.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa

from bureau.formats._bytes import STRING
from bureau.formats._canonical import canon_compact_month
from bureau.formats.base import FeedError
from bureau.formats.schema import RECORDS, FieldSpec

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


def control_total(amounts: np.ndarray) -> int:
    """The trailer's control total of some amounts: their exact sum modulo 10**18.

    Parameters
    ----------
    amounts
        Whole amounts (int64), missing ones as 0.

    Returns
    -------
    int
        The total the trailer carries.
    """
    # A million amounts of up to 10**13 fen overflow int64: sum high and low parts apart.
    high, low = np.divmod(amounts.astype(np.int64), 1_000_000_000)
    return (int(high.sum()) * 1_000_000_000 + int(low.sum())) % _SUM_MODULUS


def _ascii(buf: np.ndarray, start: int, stop: int) -> str:
    """Bytes of a header or trailer as text (non-ASCII bytes shown as U+FFFD)."""
    return buf[start:stop].tobytes().decode("ascii", "replace")


def read_header(path: Path, buf: np.ndarray, start: int, end: int) -> tuple[str, dict[str, str]]:
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


def read_trailer(path: Path, buf: np.ndarray, start: int, end: int, row: int) -> tuple[int, int]:
    """Parse the trailer record; return the declared count and control total."""
    if end - start < _TRAILER_BYTES or buf[start] != ord("T"):
        raise FeedError("no trailer record: the file is truncated", path=path, row=row)
    count = _ascii(buf, start + 1, start + 1 + COUNT_DIGITS)
    total = _ascii(buf, start + 1 + COUNT_DIGITS, start + _TRAILER_BYTES)
    if not (count.isdigit() and count.isascii() and total.isdigit() and total.isascii()):
        raise FeedError(f"malformed trailer {count + total!r}", path=path, row=row)
    return int(count), int(total)
