"""Batch files in and out: the rows read, the errors, atomic writers and reject files.

Inputs are read a chunk of rows at a time (:mod:`bureau.bureaus.batch_input`, CSV files through
:mod:`bureau.bureaus.batch_csv`), so memory stays bounded whatever the file's size. Outputs are
written to a temporary file beside the target and renamed at the end: a reader never sees a
partly written file, and a failed or interrupted run leaves the previous output (or none) in
place.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from bureau.errors import BureauError

REJECT_COLUMNS = ("row", "column", "reason", "raw")
#: The most characters of a rejected value or line copied into a reject file.
RAW_LIMIT = 200


def shown(raw: str) -> str:
    """A rejected value or line as the reject file shows it: cut short if it is huge."""
    return raw if len(raw) <= RAW_LIMIT else f"{raw[:RAW_LIMIT]}... ({len(raw):,} characters)"


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
