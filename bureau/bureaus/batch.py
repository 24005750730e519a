"""Batch scoring in a stream: what every batch input shares, from the summary to the output.

Batch scoring reads its input a chunk at a time (memory stays bounded whatever its size),
rejects invalid rows to a reject file with the row, column and reason while scoring the valid
ones, and writes the output to a temporary file renamed into place at the end. This module
holds the summary, the checks of an output before anything is read, and the output's rows and
commit; the checks of input rows are in :mod:`bureau.bureaus.batch_rows`. A table of features
is scored by :mod:`bureau.bureaus.batch_features`, applicants named by identity by
:mod:`bureau.bureaus.applicants`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from bureau.bureaus.batch_io import (
    AtomicTableWriter,
    Chunk,
    InputError,
    OutputError,
    input_kind,
    rejects_table,
)
from bureau.bureaus.batch_rows import text_column

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
