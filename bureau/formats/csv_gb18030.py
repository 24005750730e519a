"""CSV in GB18030, a bank's batch export.

Layout
------
GB18030 bytes, comma-separated, LF-terminated lines (CRLF is read too). The first
line is a header of Chinese column names (see :data:`COLUMNS`); the set of names identifies
the record type, and columns may come in any order. One line per record:

- text as is, quoted with ``"`` (doubled inside) when it contains ``,`` or ``"``;
- months ``YYYYMM``; amounts in whole fen; ints as decimal digits; booleans ``是``/``否``;
- a missing value is an empty field (so an empty string reads back as missing).

A value never spans lines: the writer refuses text with a line break.

Reader
------
Lines without quotes (nearly all) are counted and split in vector operations and parsed by
``pyarrow.csv``; the few lines with quotes go through :mod:`csv` one by one. A line that
cannot be split into the header's columns is a reject:

``C001``
    The line has the wrong number of columns.
``C002``
    The line's quoting is malformed (an unterminated quote, text after a closing quote, a
    bare carriage return).
``C003``
    The line is longer than any record can be (more than
    :data:`~bureau.formats._bytes.MAX_LINE_BYTES` bytes as UTF-8): a field of megabytes is
    no value, and would not fit the parser's blocks.
``C004``
    A field holds a control character (U+0000 to U+001F, other than tab): a NUL or an escape
    in an account number would make another account of it.

Values are converted to canonical text only where the conversion is exact (``201807`` ->
``2018-07``, ``00120`` -> ``120``, ``是`` -> ``1``); anything else, such as ``201813`` or
``12.50``, passes through as its raw text for validation to flag. Blank lines are skipped. A
rejected line's raw text is kept up to its first :data:`~bureau.formats._results.RAW_CHARS`
characters.

A file is refused whole (:class:`FeedError`) if it is empty, not GB18030 (undecodable bytes,
or a UTF-8 header), or if its header matches no record type, mixes two, repeats a column or
lacks a required column. Unknown columns are ignored (and logged).
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from bureau.formats._bytes import (
    MAX_LINE_BYTES,
    STRING,
    count_in_lines,
    has_bytes,
    line_bounds,
    lines_array,
    take_sorted,
    utf8_bytes,
)
from bureau.formats._canonical import (
    arrow_strings,
    canon_compact_month,
    canon_int,
    compact_month,
    concat,
    null_if_empty,
)
from bureau.formats._controls import refuse_controls, split_controls
from bureau.formats._results import (
    check_record_type,
    clip_raw,
    no_rejects,
    records_frame,
    rejects_frame,
)
from bureau.formats.base import Codec, FeedError, ParsedFeed
from bureau.formats.schema import RECORDS, FieldSpec, to_text

log = logging.getLogger(__name__)

_IDENTITY = {"name": "姓名", "national_id": "身份证号", "phone": "手机号"}
_FURNISHER = {"furnisher": "机构代码"}

#: Column names of each record type, by canonical field name.
COLUMNS: dict[str, dict[str, str]] = {
    "tradeline": {
        **_FURNISHER,
        "account_ref": "账户编号",
        "product": "业务种类",
        "report_month": "报送月份",
        "opened": "开户月份",
        "term_months": "期限(月)",
        "amount": "金额(分)",
        "balance": "余额(分)",
        "payment": "本月还款(分)",
        "status": "账户状态",
        **_IDENTITY,
    },
    "inquiry": {
        **_FURNISHER,
        "inquiry_ref": "查询编号",
        "product": "查询业务种类",
        "month": "查询月份",
        "approved": "是否批准",
        **_IDENTITY,
    },
    "public_record": {
        **_FURNISHER,
        "record_ref": "记录编号",
        "kind": "记录类别",
        "filed": "立案月份",
        "ended": "结案月份",
        "amount": "涉案金额(分)",
        **_IDENTITY,
    },
    "signal": {
        **_FURNISHER,
        "month": "数据月份",
        "ecommerce_spend": "电商消费(分)",
        "ecommerce_returns": "电商退货次数",
        "payment_volume": "支付流水(分)",
        "utility_on_time": "水电按时缴费",
        "phone_bill_on_time": "话费按时缴费",
        "social_activity": "社交活跃度",
        "gaming_minutes": "游戏时长(分钟)",
        "address_changed": "地址变更",
        **_IDENTITY,
    },
    "contact": {
        **_FURNISHER,
        "month": "通讯录月份",
        "contact_phone": "联系人手机号",
        **_IDENTITY,
    },
}

_SHARED = {*_IDENTITY.values(), *_FURNISHER.values()}
# The columns that only one record type has: they identify the type.
_SPECIFIC = {kind: set(names.values()) - _SHARED for kind, names in COLUMNS.items()}
_KNOWN = {name for names in COLUMNS.values() for name in names.values()}

_QUOTE = 0x22
_COMMA = 0x2C
_CR = 0x0D


def _csv_text(text: pa.Array, spec: FieldSpec) -> pa.Array:
    """Render one canonical text column as CSV fields (nulls stay null)."""
    if spec.kind == "month":
        return compact_month(text)
    if spec.kind == "bool":
        return pc.if_else(pc.equal(text, "1"), "是", "否").cast(STRING)
    if spec.kind != "text" or not has_bytes(text, _COMMA, _QUOTE):
        return text
    needs_quotes = pc.match_substring_regex(text, '[,"]')
    quoted = concat('"', pc.replace_substring(text, '"', '""'), '"')
    return pc.if_else(needs_quotes, quoted, text)


def _canonical(column: pa.Array, kind: str) -> pa.Array:
    """Canonical text of a column as read (exact conversions only)."""
    column = null_if_empty(column.cast(STRING))
    if kind == "month":
        return canon_compact_month(column)
    if kind in ("fen", "int"):
        return canon_int(column)
    if kind == "bool":
        yes_no = pc.if_else(pc.equal(column, "否"), "0", column)
        return pc.if_else(pc.equal(column, "是"), "1", yes_no)
    return column


class CsvGb18030Codec(Codec):
    """CSV feeds in GB18030 with Chinese column names, amounts in whole fen."""

    name = "csv_gb18030"
    suffix = ".csv"
    first_record_line = 2

    def write(
        self, path: Path, record_type: str, frame: pd.DataFrame, *, sender: str, month: str
    ) -> None:
        """Write records of one type as GB18030 CSV (``sender`` and ``month`` are not stored).

        See :meth:`bureau.formats.base.Codec.write`.
        """
        path = Path(path)
        check_record_type(record_type, path)
        text = to_text(frame, record_type)
        specs = RECORDS[record_type]
        parts: list[pa.Array | str] = []
        for spec in specs:
            column = arrow_strings(text[spec.name])
            if spec.kind == "text" and has_bytes(column, 0x0A, _CR):
                breaks = pc.match_substring_regex(column, "[\r\n]").fill_null(False)
                if pc.any(breaks).as_py():
                    row = int(np.flatnonzero(breaks.to_numpy(zero_copy_only=False))[0]) + 1
                    message = "a line break cannot be written in a CSV field"
                    raise FeedError(message, path=path, row=row, field=spec.name)
            refuse_controls(path, column, spec.name, "a CSV field")
            parts += [_csv_text(column, spec), ","]
        parts[-1] = "\n"
        header = ",".join(COLUMNS[record_type][spec.name] for spec in specs) + "\n"
        body = utf8_bytes(concat(*parts, skip_nulls=True)) if len(text) else b""
        path.write_bytes((header + body.decode("utf-8")).encode("gb18030"))

    def read(self, path: Path) -> ParsedFeed:
        """Read a GB18030 CSV feed.

        Parameters
        ----------
        path
            The file.

        Returns
        -------
        ParsedFeed
            Records as canonical text, unsplittable lines as rejects (``C001``-``C004``).

        Raises
        ------
        FeedError
            If the file is empty, not GB18030, or its header is not one record type's.
        """
        path = Path(path)
        data = path.read_bytes()
        if not data:
            raise FeedError("empty file", path=path)
        newline = data.find(b"\n")
        record_type, names, header = _read_header(path, data[: newline if newline >= 0 else None])
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError as exc:
            row = data.count(b"\n", 0, exc.start) + 1
            message = f"not GB18030: undecodable bytes at byte offset {exc.start}"
            raise FeedError(message, path=path, row=row) from None
        buf = np.frombuffer(text.encode("utf-8"), np.uint8)
        starts, ends = line_bounds(buf)
        lines = lines_array(buf, starts)
        numbers = np.arange(1, starts.size + 1)
        keep = (ends > starts) & (numbers > 1)
        starts, ends, numbers = starts[keep], ends[keep], numbers[keep]

        width = len(names)
        sizes = ends - starts
        long = sizes > MAX_LINE_BYTES
        special = count_in_lines(np.flatnonzero((buf == _QUOTE) | (buf == _CR)), starts, ends) > 0
        special &= ~long
        commas = count_in_lines(np.flatnonzero(buf == _COMMA), starts, ends)
        plain = ~special & ~long & (commas == width - 1)
        miscounted = ~special & ~long & ~plain

        reject_lines = [numbers[long], numbers[miscounted]]
        reject_rules = ["C003"] * int(long.sum()) + ["C001"] * int(miscounted.sum())
        reject_messages = [
            f"line of {n:,} bytes, longer than a record can be (at most {MAX_LINE_BYTES:,})"
            for n in sizes[long].tolist()
        ]
        reject_messages += [
            f"{n + 1} fields, expected {width}" for n in commas[miscounted].tolist()
        ]

        if plain.all():
            # The usual case: pyarrow can take the body as it is (it skips blank lines too).
            body = buf[starts[0] :] if starts.size else buf[:0]
        else:
            kept = take_sorted(lines, numbers[plain] - 1)
            body = np.frombuffer(utf8_bytes(concat(kept, "\n")), np.uint8)
        columns = _split_plain(body, int(plain.sum()), width)
        line = numbers[plain]
        if special.any():
            rows: list[list[str]] = []
            good: list[int] = []
            quoted = lines.take(numbers[special] - 1).to_pylist()
            for number, content in zip(numbers[special].tolist(), quoted, strict=True):
                try:
                    fields = next(csv.reader([content], strict=True))
                except csv.Error as exc:
                    reject_lines.append(np.array([number]))
                    reject_rules.append("C002")
                    reject_messages.append(f"malformed quoting: {exc}")
                    continue
                if len(fields) != width:
                    reject_lines.append(np.array([number]))
                    reject_rules.append("C001")
                    reject_messages.append(f"{len(fields)} fields, expected {width}")
                    continue
                rows.append(fields)
                good.append(number)
            if good:
                extra = [pa.array(list(col), STRING) for col in zip(*rows, strict=True)]
                columns = [pa.concat_arrays([a, b]) for a, b in zip(columns, extra, strict=True)]
                line = np.concatenate((line, good))
                order = np.argsort(line, kind="stable")
                line = line[order]
                columns = [col.take(pa.array(order)) for col in columns]

        position = {name: i for i, name in enumerate(names)}
        canonical = {}
        for spec in RECORDS[record_type]:
            index = position.get(COLUMNS[record_type][spec.name])
            column = pa.nulls(line.size, STRING) if index is None else columns[index]
            canonical[spec.name] = _canonical(column, spec.kind)
        canonical, line, raw, controls = split_controls(
            record_type, canonical, line, take_sorted(lines, line - 1), "C004"
        )
        records = records_frame(record_type, canonical, line, raw)

        rejected = no_rejects()
        if reject_rules:
            reject_line = np.concatenate(reject_lines)
            reject_raw = clip_raw(lines.take(reject_line - 1))
            rejected = rejects_frame(
                reject_line, reject_rules, [None] * len(reject_rules), reject_messages, reject_raw
            )
        if len(controls):
            rejected = pd.concat([rejected, controls], ignore_index=True)
        if len(rejected):
            rejected = rejected.sort_values("line", kind="stable").reset_index(drop=True)
        return ParsedFeed(
            path=path, record_type=record_type, records=records, rejects=rejected, header=header
        )


def _split_plain(body: np.ndarray, rows: int, width: int) -> list[pa.Array]:
    """Split lines without quotes, each with exactly ``width`` fields, into columns."""
    if rows == 0:
        return [pa.array([], STRING) for _ in range(width)]
    names = [f"c{i}" for i in range(width)]
    table = pa_csv.read_csv(
        pa.BufferReader(pa.py_buffer(body)),
        read_options=pa_csv.ReadOptions(column_names=names, block_size=1 << 24),
        parse_options=pa_csv.ParseOptions(quote_char=False),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    if table.num_rows != rows:
        # Cannot happen for lines already counted; guard so that lines never shift.
        raise FeedError(f"internal error: {table.num_rows} rows from {rows} lines")
    return [table.column(name).combine_chunks().cast(STRING) for name in names]


def _read_header(path: Path, line: bytes) -> tuple[str, list[str], dict[str, str]]:
    """Parse and identify a header line.

    Returns
    -------
    tuple
        The record type, the column names in file order, and the header dict.
    """
    line = line.removesuffix(b"\r")
    if not line.isascii():
        try:
            as_utf8 = line.decode("utf-8").removeprefix("\ufeff")
        except UnicodeDecodeError:
            as_utf8 = ""
        if any(name.strip() in _KNOWN for name in as_utf8.split(",")):
            raise FeedError("the file is encoded in UTF-8, not GB18030", path=path, row=1)
    try:
        text = line.decode("gb18030").removeprefix("\ufeff")
        names = [name.strip() for name in next(csv.reader([text], strict=True))]
    except (UnicodeDecodeError, csv.Error, StopIteration):
        raise FeedError("the header is not a line of GB18030 CSV", path=path, row=1) from None
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise FeedError(f"duplicate column {name!r}", path=path, row=1, field=name)
        seen.add(name)
    kinds = [kind for kind, specific in _SPECIFIC.items() if seen & specific]
    if not kinds:
        shown = ",".join(names)[:80]
        raise FeedError(f"the header matches no record type: {shown!r}", path=path, row=1)
    if len(kinds) > 1:
        raise FeedError(f"the header mixes columns of {' and '.join(kinds)}", path=path, row=1)
    record_type = kinds[0]
    layout = COLUMNS[record_type]
    missing = [
        layout[s.name] for s in RECORDS[record_type] if s.required and layout[s.name] not in seen
    ]
    if missing:
        message = f"missing required column(s) of {record_type}: {', '.join(missing)}"
        raise FeedError(message, path=path, row=1, field=missing[0])
    header: dict[str, str] = {}
    ignored = [name for name in names if name not in set(layout.values())]
    if ignored:
        # Reported by the reader's caller from the header, under the name it knows the file by.
        log.debug("%s: ignoring unknown column(s) %s", path, ", ".join(ignored))
        header["ignored_columns"] = ",".join(ignored)
    return record_type, names, header
