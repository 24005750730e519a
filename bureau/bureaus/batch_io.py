"""Batch files in and out: streaming CSV and Parquet readers, atomic writers, reject files.

Inputs are read a chunk of rows at a time, so memory stays bounded whatever the file's size.
A CSV file is split into lines first and into fields second, so every row keeps its exact line
number and a row that is not valid UTF-8, or has the wrong number of fields, is rejected alone
instead of failing its whole block. Outputs are written to a temporary file beside the target
and renamed at the end: a reader never sees a partly written file, and a failed or
interrupted run leaves the previous output (or none) in place.
"""

from __future__ import annotations

import contextlib
import csv
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from bureau.errors import BureauError

BLOCK_BYTES = 16 << 20
REJECT_COLUMNS = ("row", "column", "reason", "raw")
#: The most characters of a rejected value or line copied into a reject file.
RAW_LIMIT = 200


def shown(raw: str) -> str:
    """A rejected value or line as the reject file shows it: cut short if it is huge."""
    return raw if len(raw) <= RAW_LIMIT else f"{raw[:RAW_LIMIT]}... ({len(raw):,} characters)"


def _reason(exc: BaseException) -> str:
    """An exception's message on one line (Arrow's may span several)."""
    return " ".join(str(exc).split())


class InputError(BureauError):
    """An input file cannot be read at all: missing, empty, unknown format, bad header."""


class OutputError(BureauError):
    """An output cannot be written: in the way of an input, or its directory is not writable."""


@dataclass
class Chunk:
    """Rows of an input file.

    Attributes
    ----------
    rows
        1-based row numbers in the file (the header is row 0 in a CSV file).
    columns
        Column name -> Arrow array for the rows read whole: text (null where empty) from a
        CSV file, the stored type from a Parquet file.
    rejects
        Rows that could not be split into fields: ``(row, reason, raw text)``.
    position, total
        How far into the file the chunk ends, and the file's size (bytes of a CSV file, rows
        of a Parquet file), for progress.
    """

    rows: np.ndarray
    columns: dict[str, pa.Array]
    rejects: list[tuple[int, str, str]] = field(default_factory=list)
    position: int = 0
    total: int = 0


def input_kind(path: Path) -> str:
    """``csv`` or ``parquet``, from a file's suffix.

    Raises
    ------
    InputError
        If the suffix is neither.
    """
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise InputError("unknown file type: use .csv or .parquet", path=path)


def _header(path: Path) -> tuple[list[str], int]:
    """The CSV header's column names and the byte offset of the first data row."""
    with path.open("rb") as handle:
        first = handle.readline()
    if not first.strip():
        raise InputError("empty file (no header row)", path=path)
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(
            "the header row is not valid UTF-8: save the file as UTF-8", path=path, row=0
        ) from None
    if "\x00" in text:
        raise InputError(
            "the header row holds a NUL byte: not a text file, or not UTF-8 (UTF-16?)",
            path=path,
            row=0,
        )
    names = [n.strip() for n in next(csv.reader([text.rstrip("\r\n")]))]
    if any(not n for n in names) or len(set(names)) != len(names):
        raise InputError("the header row has empty or repeated column names", path=path, row=0)
    return names, len(first)


def _lines(block: bytes) -> pa.Array:
    """Split a block of whole lines into a binary array of lines, without copying."""
    data = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(data == 10) + 1
    if not len(ends) or ends[-1] != len(data):
        ends = np.append(ends, len(data))
    offsets = np.concatenate([[0], ends]).astype(np.int32)
    return pa.Array.from_buffers(
        pa.binary(), len(ends), [None, pa.py_buffer(offsets), pa.py_buffer(block)]
    )


def _decode(lines: pa.Array, first_row: int, rejects: list) -> tuple[pa.Array, np.ndarray]:
    """Lines as UTF-8 text; a line that is not UTF-8 is rejected alone."""
    try:
        return lines.cast(pa.string()), np.ones(len(lines), dtype=bool)
    except pa.ArrowInvalid:
        pass
    ok = np.ones(len(lines), dtype=bool)
    texts = []
    for i, raw in enumerate(lines.to_pylist()):
        try:
            texts.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            ok[i] = False
            texts.append("")
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            rejects.append((first_row + i, "not valid UTF-8 (save the file as UTF-8)", shown(text)))
    return pa.array(texts, type=pa.string()), ok


def _split(
    text: pa.Array, rows: np.ndarray, width: int, rejects: list
) -> tuple[np.ndarray, list[pa.Array]]:
    """Split lines into ``width`` fields; return the rows kept and one array per column."""
    text = pc.utf8_rtrim(text, characters="\r\n")
    blank = np.asarray(pc.equal(pc.utf8_length(text), 0).to_numpy(zero_copy_only=False))
    if pc.any(pc.match_substring(text, '"')).as_py():
        # Quoted fields may hold commas: the csv module reads them (a slower, rarer path).
        parsed = [next(csv.reader([line])) if line else [] for line in text.to_pylist()]
        good = np.array([len(p) == width for p in parsed], dtype=bool) & ~blank
        columns = [
            pa.array([p[j] for p, g in zip(parsed, good, strict=True) if g], type=pa.string())
            for j in range(width)
        ]
        counts = np.array([len(p) for p in parsed])
    else:
        fields = pc.split_pattern(text, ",")
        counts = pc.list_value_length(fields).to_numpy(zero_copy_only=False)
        good = (counts == width) & ~blank
        flat = pc.list_flatten(fields.filter(pa.array(good)))
        n = int(good.sum())
        columns = [flat.take(pa.array(np.arange(j, n * width, width))) for j in range(width)]
    for i in np.flatnonzero(~good & ~blank):
        rejects.append(
            (
                int(rows[i]),
                f"{counts[i]} fields where the header has {width}",
                shown(text[i].as_py()),
            )
        )
    columns = [pc.if_else(pc.equal(pc.utf8_trim_whitespace(c), ""), None, c) for c in columns]
    return rows[good], columns


def _parse_whole(
    whole: bytes, names: list[str], types: dict[str, pa.DataType]
) -> dict[str, pa.Array] | None:
    """Parse a block of clean lines with Arrow's CSV reader; None if any line is not clean.

    Clean means what the careful path would accept unchanged: UTF-8, the header's number of
    fields on every line, no blank line, every typed column parseable. Most blocks are, and
    Arrow's parser is several times faster; any other block takes the careful path.
    """
    try:
        table = pacsv.read_csv(
            pa.py_buffer(whole),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=True),
            parse_options=pacsv.ParseOptions(ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={n: types.get(n, pa.string()) for n in names},
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    columns = {n: table[n].combine_chunks() for n in names}
    for column in columns.values():
        if pa.types.is_string(column.type):
            trimmed = pc.utf8_trim_whitespace(column)
            if not pc.all(pc.fill_null(pc.equal(trimmed, column), True)).as_py():
                return None  # padded values: the careful path trims and blanks them
    return columns


def _csv_chunks(
    path: Path, block_bytes: int, types: dict[str, pa.DataType] | None = None
) -> Iterator[Chunk]:
    names, offset = _header(path)
    size = path.stat().st_size
    row = 1
    carry = b""
    with path.open("rb") as handle:
        handle.seek(offset)
        while True:
            block = handle.read(block_bytes)
            data = carry + block
            if not block:
                if not data:
                    return
                whole, carry = data, b""
            else:
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    carry = data
                    continue
                whole, carry = data[:cut], data[cut:]
            count = whole.count(b"\n") + (0 if whole.endswith(b"\n") else 1)
            rows = np.arange(row, row + count, dtype=np.int64)
            row += count
            fast = _parse_whole(whole, names, types or {})
            if fast is not None and all(len(c) == count for c in fast.values()):
                yield Chunk(rows, fast, [], handle.tell(), size)
                if not block:
                    return
                continue
            lines = _lines(whole)
            rejects: list[tuple[int, str, str]] = []
            text, decoded = _decode(lines, int(rows[0]), rejects)
            kept, columns = _split(
                text.filter(pa.array(decoded)), rows[decoded], len(names), rejects
            )
            yield Chunk(kept, dict(zip(names, columns, strict=True)), rejects, handle.tell(), size)
            if not block:
                return


def _parquet_chunks(path: Path, rows_per_chunk: int) -> Iterator[Chunk]:
    try:
        handle = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"not a readable Parquet file ({_reason(exc)})", path=path) from None
    row = 1
    batches = handle.iter_batches(batch_size=rows_per_chunk)
    while True:
        try:
            batch = next(batches, None)
        except (pa.ArrowException, OSError) as exc:
            # A file can open (its footer is whole) and still be damaged further in.
            where = f"after row {row - 1:,}" if row > 1 else "in its first rows"
            raise InputError(f"damaged Parquet data {where} ({_reason(exc)})", path=path) from None
        if batch is None:
            return
        columns = {}
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            # Numbers stay numbers; the consumer converts what it needs.
            if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
                try:
                    column = column.cast(pa.string())
                except pa.ArrowInvalid:
                    raise InputError(
                        "holds bytes that are not UTF-8 text", path=path, field=name
                    ) from None
            columns[name] = column
        rows = np.arange(row, row + batch.num_rows, dtype=np.int64)
        row += batch.num_rows
        yield Chunk(rows, columns, [], row - 1, handle.metadata.num_rows)


def input_columns(path: Path) -> list[str]:
    """The column names of a CSV or Parquet input.

    Raises
    ------
    InputError
        If the file is missing, empty or unreadable.
    """
    return list(input_types(path))


def input_types(path: Path) -> dict[str, pa.DataType]:
    """The columns of a CSV or Parquet input and their types (text for every CSV column).

    Raises
    ------
    InputError
        If the file is missing, empty or unreadable.
    """
    if path.is_dir():
        raise InputError("is a directory, not a file", path=path)
    if not path.is_file():
        raise InputError("no such file", path=path)
    if input_kind(path) == "csv":
        return dict.fromkeys(_header(path)[0], pa.string())
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"not a readable Parquet file ({_reason(exc)})", path=path) from None
    return {field.name: field.type for field in schema}


def read_chunks(
    path: Path, rows_per_chunk: int = 200_000, types: dict[str, pa.DataType] | None = None
) -> Iterator[Chunk]:
    """Stream an input file a chunk of rows at a time.

    Parameters
    ----------
    path
        A ``.csv`` (UTF-8, comma-separated, header row) or ``.parquet`` file.
    rows_per_chunk
        About how many rows per chunk (CSV chunks are cut by size, about this many rows of
        80 bytes).
    types
        Arrow types to parse CSV columns as where every value of a chunk allows (other columns,
        and every column of a chunk that does not, come as text).

    Yields
    ------
    Chunk
        Row numbers, columns and the rows rejected while splitting.
    """
    input_columns(path)
    if input_kind(path) == "csv":
        block = max(1 << 16, min(BLOCK_BYTES, rows_per_chunk * 80))
        yield from _csv_chunks(path, block, types)
    else:
        yield from _parquet_chunks(path, rows_per_chunk)


class AtomicTableWriter:
    """Write Arrow tables to a CSV or Parquet file that appears only when complete.

    Parameters
    ----------
    path
        The final file; its suffix chooses the format.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.kind = input_kind(path)
        self.temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        self._writer: pq.ParquetWriter | pacsv.CSVWriter | None = None
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        """Append rows.

        Raises
        ------
        OutputError
            If the file cannot be written (the directory is missing or read-only, the disk
            is full); what was written is removed.
        """
        try:
            if self._writer is None:
                if self.kind == "parquet":
                    self._writer = pq.ParquetWriter(
                        self.temporary, table.schema, compression="zstd"
                    )
                else:
                    self._writer = pacsv.CSVWriter(self.temporary, table.schema)
            self._writer.write_table(table)
        except OSError as exc:
            self.abort()
            raise OutputError(f"cannot be written ({exc})", path=self.path) from None
        self.rows += table.num_rows

    def commit(self) -> None:
        """Close the file and move it into place.

        Raises
        ------
        OutputError
            If the file cannot be finished or moved into place; what was written is removed.
        """
        if self._writer is None:
            return
        try:
            self._writer.close()
            self._writer = None
            os.replace(self.temporary, self.path)
        except OSError as exc:
            self.abort()
            raise OutputError(f"cannot be written ({exc})", path=self.path) from None

    def abort(self) -> None:
        """Drop what was written."""
        writer, self._writer = self._writer, None
        if writer is not None:
            with contextlib.suppress(OSError):  # the file goes anyway
                writer.close()
        self.temporary.unlink(missing_ok=True)


def rejects_table(rejects: list[tuple[int, str, str, str]]) -> pa.Table:
    """Rejected rows as a table: row, column, reason and the raw value or line."""
    rows, columns, reasons, raw = zip(*rejects, strict=True) if rejects else ((), (), (), ())
    return pa.table(
        {
            "row": pa.array(rows, type=pa.int64()),
            "column": pa.array(columns, type=pa.string()),
            "reason": pa.array(reasons, type=pa.string()),
            "raw": pa.array(raw, type=pa.string()),
        }
    )
