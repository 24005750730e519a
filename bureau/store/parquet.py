"""Parquet tables, one directory per table and one file per chunk of persons."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from bureau.errors import RunDirectoryError

# Fixed writer settings: the same table always gives the same bytes.
WRITE_OPTIONS = {"compression": "zstd", "compression_level": 1, "write_statistics": True}


def chunk_file(table_dir: Path, chunk: int) -> Path:
    """Return the file of one chunk of a table.

    Parameters
    ----------
    table_dir
        The table's directory.
    chunk
        The 0-based chunk index.

    Returns
    -------
    pathlib.Path
        ``<table_dir>/part-00000.parquet`` for chunk 0, and so on.
    """
    return table_dir / f"part-{chunk:05d}.parquet"


def chunk_files(table_dir: Path) -> list[Path]:
    """The chunk files of a table, in chunk order (none where the table is not there)."""
    return sorted(table_dir.glob("part-*.parquet"))


def parquet_rows(table_dir: Path) -> int | None:
    """The rows of a table, from its files' footers: without reading the table.

    Parameters
    ----------
    table_dir
        The table's directory.

    Returns
    -------
    int or None
        The rows of every chunk file; None where a footer cannot be read (a damaged file,
        which :func:`read_table` reports).
    """
    try:
        return sum(pq.read_metadata(path).num_rows for path in chunk_files(table_dir))
    except (pa.ArrowException, OSError):
        return None


def write_table(frame: pd.DataFrame, path: Path) -> int:
    """Write a DataFrame to one Parquet file.

    Parameters
    ----------
    frame
        The table; its index is not written.
    path
        The file to write; its directory is created if needed.

    Returns
    -------
    int
        The number of rows written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    # Written aside and renamed: a reader never sees half a file, even after a crash, and
    # two processes writing the same table do not write into one temporary file.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table, temporary, **WRITE_OPTIONS)
        os.replace(temporary, path)
    except BaseException:
        # A full disk or an interruption leaves no half-written file behind.
        temporary.unlink(missing_ok=True)
        raise
    return table.num_rows


def read_table(
    table_dir: Path,
    columns: list[str] | None = None,
    filter_expression: ds.Expression | None = None,
    chunk: int | None = None,
) -> pd.DataFrame:
    """Read every chunk file of a table (or one), in chunk order, into one DataFrame.

    Parameters
    ----------
    table_dir
        The table's directory.
    columns
        Columns to read (all when None).
    filter_expression
        A pyarrow dataset filter, for example ``ds.field("month") == 12``.
    chunk
        Read this 0-based chunk's file only (every chunk when None).

    Returns
    -------
    pandas.DataFrame
        The table.

    Raises
    ------
    RunDirectoryError
        If the directory has no Parquet files, or one of them is damaged or truncated.
    """
    files = chunk_files(table_dir)
    if chunk is not None:
        files = [f for f in files if f == chunk_file(table_dir, chunk)]
    if not files:
        raise RunDirectoryError("no table files here", path=table_dir)
    try:
        dataset = ds.dataset([str(f) for f in files], format="parquet")
        return dataset.to_table(columns=columns, filter=filter_expression).to_pandas()
    except (pa.ArrowException, OSError):
        raise RunDirectoryError(
            "damaged or truncated Parquet file: make the run again", path=_damaged(files)
        ) from None


def _damaged(files: list[Path]) -> Path:
    """The first file of a table whose Parquet footer cannot be read (the table if none)."""
    for path in files:
        try:
            pq.read_metadata(path)
        except (pa.ArrowException, OSError):
            return path
    return files[0].parent
