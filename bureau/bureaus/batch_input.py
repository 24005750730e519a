"""Batch inputs, CSV or Parquet, streamed a chunk of rows at a time.

Memory stays bounded whatever the file's size. A Parquet file is read a batch of rows at a
time in its stored types; a CSV file as :mod:`bureau.bureaus.batch_csv` reads it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bureau.bureaus.batch_csv import csv_chunks, csv_header
from bureau.bureaus.batch_io import Chunk, InputError, input_kind

#: The most bytes of a CSV file read at a time.
BLOCK_BYTES = 16 << 20


def _reason(exc: BaseException) -> str:
    """An exception's message on one line (Arrow's may span several)."""
    return " ".join(str(exc).split())


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
        return dict.fromkeys(csv_header(path)[0], pa.string())
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
        yield from csv_chunks(path, block, types)
    else:
        yield from _parquet_chunks(path, rows_per_chunk)
