"""Reading a JSON Lines feed: pyarrow parses blocks in parallel, :mod:`json` the lines it refuses.

The format and its reject rules are described in :mod:`bureau.formats.jsonl`.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from bureau.formats._bytes import STRING, line_bounds, take_sorted
from bureau.formats._controls import split_controls
from bureau.formats._results import clip_raw, no_rejects, records_frame, rejects_frame
from bureau.formats.base import FeedError, ParsedFeed
from bureau.formats.json_text import as_text, canonical_text, pairs_hook, text_array, value_text
from bureau.formats.schema import RECORDS

log = logging.getLogger(__name__)

# Blocks of lines that pyarrow parses, one per thread.
_BLOCK_BYTES = 8 << 20
# Below this many lines, a block that pyarrow refuses without naming a row goes line by line.
_SMALL_BLOCK = 64
# How pyarrow names the row where parsing failed.
_ROW = re.compile(r"in row (\d+)")
_WHITESPACE = np.array([0x20, 0x09, 0x0D], np.uint8)
# Arrays and objects within one another deeper than this are no record (P005); the bound also
# keeps :mod:`json` far from its recursion limit, which would make the outcome depend on how
# deep in the stack the parser happens to be called.
_MAX_DEPTH = 100
_QUOTE, _BACKSLASH = 0x22, 0x5C
_OPENING = np.array([ord("["), ord("{")], np.uint8)
_CLOSING = np.array([ord("]"), ord("}")], np.uint8)
_ARROW_TYPES = {
    "text": STRING,
    "month": STRING,
    "fen": STRING,
    "int": pa.int64(),
    "bool": pa.bool_(),
}


class JsonLinesReader:
    """The reading of one file.

    The lines are cut into blocks of a few megabytes, which pyarrow parses in parallel
    threads. When pyarrow refuses a block, its error names the row of the first bad line if
    the line is not JSON of the expected shape: the lines before it are parsed again as a
    block, and the bad line goes to :mod:`json`, which says what is wrong with it. A block
    refused without a row (a value pyarrow cannot convert) is halved until it is small, and a
    small one is parsed line by line. So a file costs about two pyarrow passes whatever its
    bad lines, and Python parses only the lines around them.

    Parameters
    ----------
    path
        The file, named in errors.
    data
        Its bytes, without a byte-order mark.
    """

    def __init__(self, path: Path, data: bytes) -> None:
        self.path = path
        self.data = data
        self.buf = np.frombuffer(data, np.uint8)
        self.starts, self.ends = line_bounds(self.buf)
        self.rejects: list[tuple[int, str, str | None, str, str]] = []
        self.duplicates: list[str] = []
        self.hook = pairs_hook(self.duplicates)

    def read(self) -> ParsedFeed:
        """Parse the file (see the class docstring)."""
        lines, utf8 = self._lines()
        candidates = utf8 & ~self._blank(lines)
        for index in np.flatnonzero(~utf8).tolist():
            self.rejects.append((index + 1, "P004", None, "not UTF-8", lines[index].as_py()))

        # The file's record type is that of its first valid record.
        record_type = None
        for found in np.flatnonzero(candidates):
            index = int(found)
            result = self._parse(lines[index].as_py(), None)
            if isinstance(result, dict):
                record_type, first = result["type"], index
                break
            self.rejects.append((index + 1, *result, lines[index].as_py()))
        if record_type is None:
            if not candidates.any() and not utf8.all():
                raise FeedError("not UTF-8 text: no line decodes", path=self.path)
            raise FeedError("no valid JSON record in the file", path=self.path)

        specs = RECORDS[record_type]
        schema = pa.schema(
            [("type", STRING)] + [(spec.name, _ARROW_TYPES[spec.kind]) for spec in specs]
        )
        blocks = self._blocks(np.flatnonzero(candidates[first:]) + first)
        workers = min(len(blocks), os.cpu_count() or 1)
        if workers > 1:
            with ThreadPoolExecutor(workers) as pool:
                done = list(pool.map(lambda b: self._arrow_pieces(*b, schema, record_type), blocks))
        else:
            done = [self._arrow_pieces(*block, schema, record_type) for block in blocks]
        pieces = [piece for block_pieces, _ in done for piece in block_pieces]
        refused = np.array(sorted(i for _, indices in done for i in indices), np.int64)
        if refused.size:
            log.debug("%s: %d lines parsed one by one", self.path, refused.size)
            for run in np.split(refused, np.flatnonzero(np.diff(refused) != 1) + 1):
                pieces.append(self._python_piece(lines, int(run[0]), int(run[-1]) + 1, record_type))
        return self._result(record_type, lines, pieces)

    def _blocks(self, todo: np.ndarray) -> list[tuple[int, int]]:
        """Cut the lines to parse into blocks of consecutive lines of about _BLOCK_BYTES."""
        blocks = []
        for run in np.split(todo, np.flatnonzero(np.diff(todo) != 1) + 1):
            lo, hi = int(run[0]), int(run[-1]) + 1
            marks = np.arange(self.starts[lo] + _BLOCK_BYTES, self.ends[hi - 1], _BLOCK_BYTES)
            cuts = np.unique(np.searchsorted(self.starts[lo:hi], marks) + lo).tolist()
            edges = [lo, *(c for c in cuts if lo < c < hi), hi]
            blocks += list(itertools.pairwise(edges))
        return blocks

    def _arrow_pieces(
        self, lo: int, hi: int, schema: pa.Schema, record_type: str
    ) -> tuple[list[tuple[np.ndarray, dict[str, pa.Array]]], list[int]]:
        """Parse a block with pyarrow: its pieces, and the lines left for :mod:`json`."""
        specs = RECORDS[record_type]
        pieces, refused = [], []
        stack = [(lo, hi)]
        while stack:
            a, b = stack.pop()
            table, row = self._arrow_block(a, b, schema, record_type)
            if table is not None:
                texts = {
                    spec.name: as_text(table.column(spec.name).combine_chunks(), spec.kind)
                    for spec in specs
                }
                pieces.append((np.arange(a, b), texts))
            elif row is not None and 0 <= row < b - a:
                refused.append(a + row)
                stack += [(a + row + 1, b)] if a + row + 1 < b else []
                stack += [(a, a + row)] if row else []
            elif b - a <= _SMALL_BLOCK:
                refused.extend(range(a, b))
            else:
                mid = (a + b) // 2
                stack += [(mid, b), (a, mid)]
        return pieces, refused

    def _lines(self) -> tuple[pa.Array, np.ndarray]:
        """Every line as text, and which lines are UTF-8 (the others decoded with U+FFFD)."""
        n = self.starts.size
        offsets = np.concatenate((self.starts, [self.buf.size])).astype(np.int64)
        binary = pa.Array.from_buffers(
            pa.large_binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(self.buf)]
        )
        utf8 = np.ones(n, np.bool_)
        # Halve the runs of lines that fail UTF-8 validation down to the bad lines themselves.
        pieces = []
        stack = [(0, n)]
        while stack:
            lo, hi = stack.pop()
            try:
                pieces.append(binary.slice(lo, hi - lo).cast(STRING))
                continue
            except pa.ArrowInvalid:
                pass
            if hi - lo > 1:
                mid = (lo + hi) // 2
                stack += [(mid, hi), (lo, mid)]
                continue
            utf8[lo] = False
            chunk = self.data[int(self.starts[lo]) : int(self.ends[lo])]
            pieces.append(pa.array([chunk.decode("utf-8", "replace")], STRING))
        lines = pieces[0] if len(pieces) == 1 else pa.concat_arrays(pieces)
        return pc.utf8_rtrim(lines, "\r\n"), utf8

    def _blank(self, lines: pa.Array) -> np.ndarray:
        """Which lines are empty or white space only (skipped, neither record nor reject)."""
        blank = self.ends == self.starts
        first = self.buf[np.minimum(self.starts, max(self.buf.size - 1, 0))]
        maybe = np.flatnonzero(~blank & np.isin(first, _WHITESPACE))
        if maybe.size:
            trimmed = pc.utf8_trim_whitespace(lines.take(pa.array(maybe)))
            lengths = pc.utf8_length(trimmed).to_numpy(zero_copy_only=False)
            blank[maybe[lengths == 0]] = True
        return blank

    def _arrow_block(
        self, lo: int, hi: int, schema: pa.Schema, record_type: str
    ) -> tuple[pa.Table | None, int | None]:
        """Lines ``lo`` to ``hi`` (exclusive) parsed by pyarrow, or None and the bad row.

        The row (0-based in the block) is known when pyarrow names it: the block is parsed as
        one chunk, so its rows are the block's lines.
        """
        block = memoryview(self.data)[int(self.starts[lo]) : int(self.ends[hi - 1])]
        try:
            table = pa_json.read_json(
                pa.BufferReader(pa.py_buffer(block)),
                read_options=pa_json.ReadOptions(use_threads=False, block_size=len(block) + 1),
                parse_options=pa_json.ParseOptions(
                    explicit_schema=schema, unexpected_field_behavior="ignore"
                ),
            )
        except pa.ArrowInvalid as exc:
            found = _ROW.search(str(exc))
            return None, int(found.group(1)) if found else None
        # Two objects on one line would make two rows: the line numbers would be wrong.
        if table.num_rows != hi - lo:
            return None, None
        kinds = table.column("type")
        if kinds.null_count or not pc.all(pc.equal(kinds, record_type)).as_py():
            wrong = pc.fill_null(pc.not_equal(kinds, record_type), True).combine_chunks()
            return None, int(np.flatnonzero(wrong.to_numpy(zero_copy_only=False))[0])
        return table, None

    def _parse(self, line: str, record_type: str | None) -> dict | tuple[str, str | None, str]:
        """One line parsed by :mod:`json`: the object, or (rule id, field, message)."""
        too_deep = "P005", None, f"nested more than {_MAX_DEPTH} levels deep"
        if _too_deep(line):
            return too_deep
        try:
            obj = json.loads(
                line,
                parse_int=str,
                parse_float=str,
                parse_constant=str,
                object_pairs_hook=self.hook,
            )
        except ValueError as exc:
            return "P001", None, f"not valid JSON: {getattr(exc, 'msg', exc)}"
        except RecursionError:
            # Not reached within _MAX_DEPTH; kept so that no line can stop the file.
            return too_deep
        if not isinstance(obj, dict):
            return "P001", None, "not a JSON object"
        if "type" in self.duplicates:
            return "P003", "type", "duplicate key 'type'"
        kind = obj.get("type")
        if not isinstance(kind, str) or kind not in RECORDS:
            message = "no record type" if kind is None else f"unknown record type {kind!r}"
            return "P002", "type", message
        if record_type is not None and kind != record_type:
            return "P002", "type", f"record type {kind!r} differs from the file's {record_type!r}"
        names = {spec.name for spec in RECORDS[kind]}
        repeated = [key for key in self.duplicates if key in names]
        if repeated:
            return "P003", repeated[0], f"duplicate key {repeated[0]!r}"
        return obj

    def _python_piece(
        self, lines: pa.Array, lo: int, hi: int, record_type: str
    ) -> tuple[np.ndarray, dict[str, pa.Array]]:
        """Parse lines one by one: their records' texts as a piece, the bad ones as rejects."""
        specs = RECORDS[record_type]
        values: dict[str, list[str | None]] = {spec.name: [] for spec in specs}
        good = []
        for index, line in enumerate(lines.slice(lo, hi - lo).to_pylist(), lo):
            result = self._parse(line, record_type)
            if not isinstance(result, dict):
                self.rejects.append((index + 1, *result, line))
                continue
            for spec in specs:
                values[spec.name].append(value_text(result.get(spec.name), spec.kind))
            good.append(index)
        return np.array(good, np.int64), {name: text_array(texts) for name, texts in values.items()}

    def _result(
        self,
        record_type: str,
        lines: pa.Array,
        pieces: list[tuple[np.ndarray, dict[str, pa.Array]]],
    ) -> ParsedFeed:
        """Put the pieces back in line order and canonicalise each column once."""
        # Pieces are disjoint runs of lines, so ordering them orders every line.
        pieces = sorted((p for p in pieces if p[0].size), key=lambda piece: int(piece[0][0]))
        indices = np.concatenate([index for index, _ in pieces])
        columns = {}
        for spec in RECORDS[record_type]:
            parts = [texts[spec.name] for _, texts in pieces]
            # Chunked, not concatenated: the pieces are never copied into one buffer.
            text = parts[0] if len(parts) == 1 else pa.chunked_array(parts, STRING)
            columns[spec.name] = canonical_text(text, spec.kind)
        raw = take_sorted(lines, indices)
        # A control character written as an escape is as much a phantom value as a raw one:
        # refused here as in every other format.
        columns, line, raw, controls = split_controls(
            record_type, columns, indices + 1, raw, "P006"
        )
        records = records_frame(record_type, columns, line, raw)
        rejected = no_rejects()
        if self.rejects:
            found = [list(col) for col in zip(*self.rejects, strict=True)]
            found[-1] = clip_raw(pa.array(found[-1], STRING))
            rejected = rejects_frame(*found)
        if len(controls):
            rejected = pd.concat([rejected, controls], ignore_index=True)
        rejected = rejected.sort_values("line", kind="stable", ignore_index=True)
        return ParsedFeed(
            path=self.path, record_type=record_type, records=records, rejects=rejected
        )


def _too_deep(line: str) -> bool:
    """Whether a line nests arrays and objects more than :data:`_MAX_DEPTH` deep.

    Brackets inside JSON strings do not count; a line with few brackets is not looked at.
    """
    if line.count("[") + line.count("{") <= _MAX_DEPTH:
        return False
    buf = np.frombuffer(line.encode("utf-8", "replace"), np.uint8)
    # A quote is escaped when an odd run of backslashes precedes it.
    position = np.arange(buf.size)
    last_plain = np.maximum.accumulate(np.where(buf == _BACKSLASH, -1, position))
    quotes = np.flatnonzero(buf == _QUOTE)
    before = quotes - 1
    run = np.where(before >= 0, before - last_plain[np.maximum(before, 0)], 0)
    toggles = np.zeros(buf.size, np.int64)
    toggles[quotes[run % 2 == 0]] = 1
    in_string = np.cumsum(toggles) % 2 == 1
    step = np.isin(buf, _OPENING).astype(np.int64) - np.isin(buf, _CLOSING)
    return int(np.cumsum(np.where(in_string, 0, step)).max()) > _MAX_DEPTH
