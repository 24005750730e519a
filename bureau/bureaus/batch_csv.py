"""CSV batch inputs, streamed: split into lines first and into fields second.

Every row keeps its exact line number, and a row that is not valid UTF-8, or has the wrong
number of fields, is rejected alone instead of failing its whole block. A block of clean lines
goes through Arrow's CSV reader, much faster; any other block takes the careful path.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from bureau.bureaus.batch_io import Chunk, InputError, shown


def csv_header(path: Path) -> tuple[list[str], int]:
    """The CSV header's column names and the byte offset of the first data row.

    Raises
    ------
    InputError
        If the file is empty, or its header is not UTF-8 text with distinct column names.
    """
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


def csv_chunks(
    path: Path, block_bytes: int, types: dict[str, pa.DataType] | None = None
) -> Iterator[Chunk]:
    """Stream the data rows of a CSV file, a block of whole lines at a time.

    Parameters
    ----------
    path
        A UTF-8, comma-separated file with a header row.
    block_bytes
        About how many bytes to read at a time.
    types
        Arrow types to parse columns as where every value of a block allows.

    Yields
    ------
    Chunk
        The rows of a block, with those that could not be split into fields.
    """
    names, offset = csv_header(path)
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
