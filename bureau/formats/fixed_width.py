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
:data:`~bureau.formats._results.RAW_CHARS` characters.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from bureau.formats._bytes import STRING, decode_gb18030, gather, line_bounds
from bureau.formats._canonical import INT_PATTERN, arrow_strings, concat
from bureau.formats._controls import split_controls
from bureau.formats._results import (
    check_record_type,
    clip_raw,
    no_rejects,
    records_frame,
    rejects_frame,
)
from bureau.formats.base import Codec, FeedError, ParsedFeed
from bureau.formats.fixed_width_layout import (
    CONTROL_FIELDS,
    COUNT_DIGITS,
    SENDER_BYTES,
    SUM_DIGITS,
    TYPE_CODES,
    control_total,
    layout,
    read_header,
    read_trailer,
)
from bureau.formats.fixed_width_slots import detail_matrix, encode_slot, slot_text
from bureau.formats.schema import MONTH_PATTERN, to_text

log = logging.getLogger(__name__)


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
            matrix[:, slot.offset : slot.offset + slot.size] = encode_slot(path, column, slot)

        total = 0
        control = CONTROL_FIELDS[record_type]
        if control is not None and len(text):
            amounts = frame[control].astype("Int64").fillna(0).to_numpy(np.int64)
            total = control_total(amounts)
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
        record_type, header = read_header(path, buf, starts[0], ends[0])
        slots, length = layout(record_type)

        # Blank lines after the trailer are harmless; anything else after it is not.
        last = starts.size - 1
        while last > 0 and ends[last] == starts[last]:
            last -= 1
        if last == 0:
            raise FeedError("no trailer record: the file is truncated", path=path)
        count, declared_total = read_trailer(path, buf, starts[last], ends[last], last + 1)
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

        matrix = detail_matrix(buf, body_starts[good], body_ends[good], length)
        columns = {}
        pieces: list[pa.Array | str] = ["D"]
        for slot in slots:
            block = np.ascontiguousarray(matrix[:, slot.offset : slot.offset + slot.size])
            offsets = np.arange(0, block.size + 1, slot.size, dtype=np.int64)
            text = decode_gb18030(block.reshape(-1), offsets)
            pieces.append(text)
            columns[slot.spec.name] = slot_text(block, text, slot.spec.kind)
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
                actual = control_total(pc.cast(amounts, pa.int64()).to_numpy())
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
