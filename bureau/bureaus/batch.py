"""Batch scoring in a stream: the shared machinery, and feature tables.

Batch scoring reads its input a chunk at a time (memory stays bounded whatever its size),
rejects invalid rows to a reject file with the row, column and reason while scoring the valid
ones, and writes the output to a temporary file renamed into place at the end. This module
holds what every batch input shares, and the scoring of a table of features with a model
directory (for researchers with their own features); applicants named by identity are in
:mod:`bureau.bureaus.applicants`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from bureau.bureaus.batch_io import (
    AtomicTableWriter,
    Chunk,
    InputError,
    OutputError,
    input_kind,
    input_types,
    read_chunks,
    rejects_table,
    shown,
)
from bureau.bureaus.feature_catalog import feature_bounds
from bureau.bureaus.models.additive import REASONS
from bureau.bureaus.models.artifacts import BureauModel

PASS_THROUGH = ("applicant_id",)
Progress = Callable[[int, int], None]


class NothingScored(InputError):
    """Every row of an input was rejected (or it had none): there is no output to write."""


@dataclass
class ScoringSummary:
    """What a batch scoring did.

    Attributes
    ----------
    rows
        Data rows read.
    scored
        Rows with a score.
    matched, no_file, ambiguous
        Identity rows by match status (``matched`` rows are the scored ones).
    rejected
        Rows rejected as invalid (see the reject file).
    inquiries
        Inquiries recorded in the bureau's file.
    warnings
        Things the user should know that did not stop the scoring (unknown columns).
    output, rejects
        The files written (``rejects`` is None when no row was rejected).
    """

    rows: int = 0
    scored: int = 0
    matched: int = 0
    no_file: int = 0
    ambiguous: int = 0
    rejected: int = 0
    inquiries: int = 0
    warnings: list[str] = field(default_factory=list)
    output: Path | None = None
    rejects: Path | None = None


def rejects_path(output: Path) -> Path:
    """Where the rejected rows of an output go: ``<output>.rejects.csv`` beside it."""
    return output.with_name(f"{output.name}.rejects.csv")


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (through another spelling, a symlink or a hard link)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def check_output(output: Path, inputs: list[Path]) -> None:
    """Refuse an output that would overwrite an input, or that cannot be written at all.

    Checked before anything is read or written, so that a mistake costs nothing: the output
    and its reject file must not be any of the inputs (under any path), and the output's
    directory must exist and take a new file (a file is made there and removed at once, which
    is the one test that also holds for root and read-only mounts).

    Parameters
    ----------
    output
        The output file.
    inputs
        Every file the scoring reads.

    Raises
    ------
    OutputError
        Saying what is in the way (field ``output_path``).
    """
    input_kind(output)
    for target in (output, rejects_path(output)):
        for source in inputs:
            if source.exists() and _same_file(target, source):
                what = "is" if target == output else f"has its reject file {target.name} at"
                raise OutputError(
                    f"{what} the input {source}, which scoring would overwrite:"
                    " choose another output",
                    path=output,
                    field="output_path",
                )
    if output.is_dir():
        raise OutputError("is a directory, not a file", path=output, field="output_path")
    parent = output.parent
    if not parent.is_dir():
        raise OutputError(
            f"the directory {parent} does not exist", path=output, field="output_path"
        )
    try:
        with tempfile.NamedTemporaryFile(dir=parent, prefix=f".{output.name}.", suffix=".tmp"):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise OutputError(
            f"cannot write in {parent} ({reason})", path=output, field="output_path"
        ) from None


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


def finish_output(
    summary: ScoringSummary,
    writer: AtomicTableWriter,
    rejected: list[tuple[int, str, str, str]],
    output: Path,
    before_commit: Callable[[], None] | None = None,
    *,
    source: Path | None = None,
) -> ScoringSummary:
    """Write the reject file, then commit the output, or abort it when nothing was scored.

    Parameters
    ----------
    summary
        What the scoring did so far.
    writer
        The output being written.
    rejected
        ``(row, column, reason, raw)`` of every rejected row.
    output
        The output's final path (the reject file goes beside it).
    before_commit
        Called just before the output is moved into place (to record inquiries).
    source
        The input, named when nothing could be scored (with its first rejected row).

    Returns
    -------
    ScoringSummary
        The summary with the files written.

    Raises
    ------
    NothingScored
        If no row was scored: the output is not written.
    """
    target = rejects_path(output)
    if rejected:
        rejects = AtomicTableWriter(target)
        rejects.write(rejects_table(sorted(rejected)))
        rejects.commit()
        summary.rejects = target
    else:
        target.unlink(missing_ok=True)
    if summary.scored == 0 and writer.rows == 0:
        writer.abort()
        if summary.rows == 0:
            raise NothingScored(
                "nothing could be scored: the file has no data rows", path=source or output
            )
        first = ""
        if rejected:
            row, column, reason, _ = min(rejected)
            first = f" (first: row {row}, {column or 'the row'}: {reason}); see {target}"
        raise NothingScored(
            f"nothing could be scored: {summary.rows:,} rows, {summary.rejected:,} rejected{first}",
            path=source or output,
        )
    if before_commit is not None:
        before_commit()
    writer.commit()
    summary.output = output
    return summary


def row_table(chunk: Chunk, keep: np.ndarray, extra: dict[str, pa.Array]) -> pa.Table:
    """Output rows: the input row number, the copied identifiers, then ``extra``.

    Parameters
    ----------
    chunk
        Rows of the input.
    keep
        The rows scored.
    extra
        The output columns computed for them.

    Returns
    -------
    pyarrow.Table
        One row per kept input row.
    """
    columns: dict[str, pa.Array] = {"row": pa.array(chunk.rows[keep])}
    for name in PASS_THROUGH:
        if name in chunk.columns:
            columns[name] = text_column(chunk, name).filter(pa.array(keep))
    return pa.table({**columns, **extra})


def _numbers(chunk: Chunk, name: str, rejects: RowRejects) -> np.ndarray:
    """A feature column as float64 (NaN where empty); non-numbers and impossible values flagged."""
    column = chunk.columns[name]
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        values = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
        raw = column
    else:
        raw = text_column(chunk, name)
        try:
            values = raw.cast(pa.float64()).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            text = pd.Series(raw.to_numpy(zero_copy_only=False), dtype=object)
            values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
            rejects.flag(np.isnan(values) & text.notna().to_numpy(), name, "not a number", raw)
    rejects.flag(np.isinf(values), name, "not a finite number", raw)
    low, high = feature_bounds(name)
    outside = ~np.isnan(values) & ((values < low) | (values > high))
    rejects.flag(outside, name, f"impossible value (expected {low:g} to {high:g})", raw)
    return values


FEATURE_PASS_THROUGH = ("applicant_id", "consumer_id")


def score_feature_table(
    model: BureauModel,
    input_path: Path,
    output_path: Path,
    *,
    rows_per_chunk: int = 200_000,
    progress: Progress | None = None,
) -> ScoringSummary:
    """Score a table of features with a model: probability of default, score, reasons.

    Parameters
    ----------
    model
        The model (see :func:`~bureau.bureaus.models.artifacts.load_model`).
    input_path
        A ``.csv`` or ``.parquet`` file with a column per model feature (see the model
        card's ``features``; empty means missing), optionally ``applicant_id`` and
        ``consumer_id`` (copied to the output).
    output_path
        The ``.csv`` or ``.parquet`` file to write: ``row``, the copied identifiers, ``score``,
        ``pd`` and ``reason_1`` .. ``reason_4``.
    rows_per_chunk
        Rows read at a time.
    progress
        Called as ``progress(done, total)``.

    Returns
    -------
    ScoringSummary
        Rows scored and rejected.

    Raises
    ------
    InputError
        If the input is missing, empty, unreadable or lacks a feature column.
    NothingScored
        If no row was valid.
    """
    summary = ScoringSummary()
    check_output(output_path, [input_path, *model.files()])
    summary.warnings = check_columns(input_path, model.features, FEATURE_PASS_THROUGH)
    writer = AtomicTableWriter(output_path)
    rejected: list[tuple[int, str, str, str]] = []
    try:
        numeric = dict.fromkeys(model.features, pa.float64())
        for chunk in read_chunks(input_path, rows_per_chunk, numeric):
            summary.rows += len(chunk.rows) + len(chunk.rejects)
            checks = RowRejects(chunk)
            flag_control_characters(checks, chunk, FEATURE_PASS_THROUGH)
            matrix = np.column_stack([_numbers(chunk, f, checks) for f in model.features])
            keep = checks.ok
            rejected += checks.found
            summary.rejected += len(chunk.rejects) + int((~keep).sum())
            scored = model.score(pd.DataFrame(matrix[keep], columns=model.features))
            extra: dict[str, pa.Array] = {}
            if "consumer_id" in chunk.columns:
                extra["consumer_id"] = text_column(chunk, "consumer_id").filter(pa.array(keep))
            extra["score"] = pa.array(scored["score"].to_numpy(), type=pa.int32())
            extra["pd"] = pa.array(scored["pd"].to_numpy(), type=pa.float64())
            for i in range(1, REASONS + 1):
                extra[f"reason_{i}"] = pa.array(
                    scored[f"reason_{i}"].to_numpy(), type=pa.string(), from_pandas=True
                )
            writer.write(row_table(chunk, keep, extra))
            summary.scored += int(keep.sum())
            if progress:
                progress(chunk.position, chunk.total)
        return finish_output(summary, writer, rejected, output_path, source=input_path)
    except BaseException:
        writer.abort()
        raise
