"""Batch scoring of a table of features with a model directory (for researchers' own features).

Each row holds a value per model feature; a value that is not a number, not finite or out of
the feature's possible range rejects its row, and the other rows are scored: probability of
default, score and reasons.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from bureau.bureaus.batch import Progress, ScoringSummary, check_output, finish_output, row_table
from bureau.bureaus.batch_input import read_chunks
from bureau.bureaus.batch_io import AtomicTableWriter, Chunk
from bureau.bureaus.batch_rows import (
    RowRejects,
    check_columns,
    flag_control_characters,
    text_column,
)
from bureau.bureaus.feature_catalog import feature_bounds
from bureau.bureaus.models.additive import REASONS
from bureau.bureaus.models.artifacts import BureauModel, load_model
from bureau.parallel import map_stream

FEATURE_PASS_THROUGH = ("applicant_id", "consumer_id")


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


@functools.lru_cache(maxsize=2)
def _loaded(directory: Path) -> BureauModel:
    """A model directory loaded once per worker process, for every chunk it scores."""
    return load_model(directory)


def _score_chunk(
    job: tuple[BureauModel | Path, Chunk],
) -> tuple[pa.Table, list[tuple[int, str, str, str]], int, Chunk]:
    """Check and score one chunk of features: its output rows, its rejects, rows rejected.

    The chunk comes back without its columns, for the rows it counts and where it ends.
    """
    source, chunk = job
    model = _loaded(source) if isinstance(source, Path) else source
    checks = RowRejects(chunk)
    flag_control_characters(checks, chunk, FEATURE_PASS_THROUGH)
    matrix = np.column_stack([_numbers(chunk, f, checks) for f in model.features])
    keep = checks.ok
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
    bad = len(chunk.rejects) + int((~keep).sum())
    return row_table(chunk, keep, extra), checks.found, bad, replace(chunk, columns={})


def score_feature_table(
    model: BureauModel,
    input_path: Path,
    output_path: Path,
    *,
    rows_per_chunk: int = 200_000,
    workers: int = 1,
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
    workers
        Processes that check and score chunks while this one reads and writes (inside
        :func:`~bureau.parallel.use_scheduler`, the chunks go to the Dask cluster). The
        output is the same bytes for any number.
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
    # Workers load a model from its directory once each, rather than receive it with every
    # chunk; one fitted in this process travels with its chunks.
    source = model.directory if model.directory is not None else model
    try:
        numeric = dict.fromkeys(model.features, pa.float64())
        jobs = ((source, chunk) for chunk in read_chunks(input_path, rows_per_chunk, numeric))
        # New interpreters for workers: this process may hold a LightGBM model already, which
        # a forked worker would hang on.
        for table, found, bad, chunk in map_stream(_score_chunk, jobs, workers, fresh=True):
            rows = len(chunk.rows) + len(chunk.rejects)
            summary.rows += rows
            summary.rejected += bad
            summary.scored += rows - bad
            rejected += found
            writer.write(table)
            if progress:
                progress(chunk.position, chunk.total)
        return finish_output(summary, writer, rejected, output_path, source=input_path)
    except BaseException:
        writer.abort()
        raise
