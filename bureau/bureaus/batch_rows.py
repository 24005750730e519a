"""The checks of a batch input's rows: its columns, then each row, one reason per row rejected.

A row is rejected for the first reason found, with its row number, the column at fault and the
value shown; the rows that pass go on to be scored.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bureau.bureaus.batch_input import input_types
from bureau.bureaus.batch_io import Chunk, InputError, shown


def check_columns(path: Path, required: list[str], optional: tuple[str, ...]) -> list[str]:
    """Check an input's columns; return warnings about the columns that will be ignored.

    Raises
    ------
    InputError
        If a required column is missing (with a hint when the file is not comma-separated),
        or a column read holds nested values (a Parquet list, struct or map).
    """
    types = input_types(path)
    names = list(types)
    missing = [c for c in required if c not in names]
    if missing:
        said = ", ".join(missing[:6]) + (
            f" and {len(missing) - 6} more" if len(missing) > 6 else ""
        )
        hint = ""
        if len(names) == 1:
            found = [d for d in (";", "\t", "|") if d in names[0]]
            if found:
                hint = (
                    f" (the header is one column holding {found[0]!r}: is the file separated"
                    f" by {found[0]!r} instead of commas?)"
                )
        raise InputError(f"missing required columns: {said}{hint}", path=path)
    for name in (*required, *(c for c in optional if c in types)):
        if pa.types.is_nested(types[name]):
            raise InputError(
                f"holds {types[name]} values, not one value per row", path=path, field=name
            )
    unknown = [c for c in names if c not in required and c not in optional]
    if unknown:
        return [f"{path}: unknown columns ignored: {', '.join(unknown)}"]
    return []


def text_column(chunk: Chunk, name: str) -> pa.Array:
    """A chunk's column as one Arrow string array.

    Parameters
    ----------
    chunk
        Rows of an input.
    name
        The column.

    Returns
    -------
    pyarrow.Array
        The values as text (null where missing).
    """
    column = chunk.columns[name]
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    return column if pa.types.is_string(column.type) else column.cast(pa.string())


class RowRejects:
    """Rejected rows collected over a chunk: one reason per row (the first found)."""

    def __init__(self, chunk: Chunk) -> None:
        self.rows = chunk.rows
        self.ok = np.ones(len(chunk.rows), dtype=bool)
        self.found: list[tuple[int, str, str, str]] = [
            (row, "", reason, raw) for row, reason, raw in chunk.rejects
        ]

    def flag(self, bad: np.ndarray, column: str, reason: str, values: pa.Array) -> None:
        """Reject the rows where ``bad`` (those not rejected yet), naming column and reason.

        Parameters
        ----------
        bad
            A boolean per row of the chunk.
        column
            The column at fault ("" for the whole row).
        reason
            Why.
        values
            The column's values, to show the one at fault.
        """
        fresh = bad & self.ok
        for i in np.flatnonzero(fresh):
            raw = values[int(i)].as_py()
            text = "" if raw is None else shown(str(raw))
            self.found.append((int(self.rows[i]), column, reason, text))
        self.ok &= ~fresh


def flag_control_characters(rejects: RowRejects, chunk: Chunk, names: tuple[str, ...]) -> None:
    """Reject the rows whose text in these columns holds a control character.

    A NUL byte or an escape character in an identifier is damage, not data, and copied into
    the output it would break the next program to read it.

    Parameters
    ----------
    rejects
        The chunk's rejects.
    chunk
        Rows of an input.
    names
        The text columns to check (those absent are skipped).
    """
    for name in names:
        if name in chunk.columns:
            text = text_column(chunk, name)
            bad = as_bool(pc.match_substring_regex(text, r"[\x00-\x08\x0b-\x1f\x7f]"))
            rejects.flag(bad, name, "holds a control character (a NUL byte?)", text)


def as_bool(array: pa.Array) -> np.ndarray:
    """An Arrow boolean array as NumPy booleans, null as False.

    Parameters
    ----------
    array
        Booleans.

    Returns
    -------
    numpy.ndarray
        One bool per value.
    """
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=bool)
