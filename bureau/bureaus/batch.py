"""Batch scoring: applicants named by identity, or feature tables, scored in a stream.

An analyst sends a bureau a file of applicants (national ID, name, birth date, phone). The
bureau matches each row to its files with its own matching rules, scores the consumer as of a
month, and records one inquiry per consumer asked about in the file. A researcher with their own
features scores a feature table directly with a model directory.

Both read the input a chunk at a time (memory stays bounded whatever its size), reject invalid
rows to a reject file with the row, column and reason while scoring the valid ones, and write
the output to a temporary file renamed into place at the end.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Engine, select

from bureau.bureaus.batch_io import (
    AtomicTableWriter,
    Chunk,
    InputError,
    input_columns,
    input_kind,
    read_chunks,
    rejects_table,
)
from bureau.bureaus.features import feature_bounds, snapshot_features
from bureau.bureaus.models.additive import REASONS, reason_indices
from bureau.bureaus.models.artifacts import BureauModel
from bureau.bureaus.models.scale import to_score
from bureau.bureaus.resolve import identity_key_arrays
from bureau.formats.national_id import validate_national_ids
from bureau.rundir import file_digest
from bureau.store.bulk import read_frame, upsert
from bureau.store.credit_file import Identifier, Inquiry

logger = logging.getLogger(__name__)

IDENTITY_COLUMNS = ("national_id", "name", "birth_date", "phone")
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


def _columns_check(path: Path, required: list[str], optional: tuple[str, ...]) -> list[str]:
    """Check an input's columns; return warnings about the columns that will be ignored."""
    names = input_columns(path)
    missing = [c for c in required if c not in names]
    if missing:
        raise InputError(f"missing required columns: {', '.join(missing)}", path=path)
    unknown = [c for c in names if c not in required and c not in optional]
    if unknown:
        return [f"{path}: unknown columns ignored: {', '.join(unknown)}"]
    return []


def _text(chunk: Chunk, name: str) -> pa.Array:
    column = chunk.columns[name]
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    return column if pa.types.is_string(column.type) else column.cast(pa.string())


class _Rejects:
    """Rejected rows collected over a chunk: one reason per row (the first found)."""

    def __init__(self, chunk: Chunk) -> None:
        self.rows = chunk.rows
        self.ok = np.ones(len(chunk.rows), dtype=bool)
        self.found: list[tuple[int, str, str, str]] = [
            (row, "", reason, raw) for row, reason, raw in chunk.rejects
        ]

    def flag(self, bad: np.ndarray, column: str, reason: str, values: pa.Array) -> None:
        fresh = bad & self.ok
        for i in np.flatnonzero(fresh):
            raw = values[int(i)].as_py()
            self.found.append((int(self.rows[i]), column, reason, "" if raw is None else str(raw)))
        self.ok &= ~fresh


def _bool(array: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=bool)


def _check_identities(chunk: Chunk, as_of_year: int) -> tuple[_Rejects, dict[str, pa.Array]]:
    """Reject rows whose identity values are impossible; return the values as text."""
    rejects = _Rejects(chunk)
    values = {name: pc.utf8_trim_whitespace(_text(chunk, name)) for name in IDENTITY_COLUMNS}
    values = {k: pc.if_else(pc.equal(v, ""), None, v) for k, v in values.items()}
    present = {k: _bool(pc.is_valid(v)) for k, v in values.items()}
    rejects.flag(
        ~np.logical_or.reduce(list(present.values())),
        "",
        "no identity value (national_id, name, birth_date and phone all empty)",
        values["national_id"],
    )
    nid = values["national_id"]
    valid_id = validate_national_ids(pc.fill_null(nid, ""))
    rejects.flag(
        present["national_id"] & ~valid_id,
        "national_id",
        "not a valid identity number (length, region, birth date or check digit)",
        nid,
    )
    born = values["birth_date"]
    shaped = _bool(pc.match_substring_regex(born, r"^\d{4}-\d{2}-\d{2}$"))
    parsed = pd.to_datetime(
        pd.Series(born.to_numpy(zero_copy_only=False)).where(shaped),
        format="%Y-%m-%d",
        errors="coerce",
    )
    year = parsed.dt.year.to_numpy(dtype=float, na_value=np.nan)
    possible = parsed.notna().to_numpy() & (year >= 1900) & (year <= as_of_year)
    rejects.flag(
        present["birth_date"] & ~possible,
        "birth_date",
        "not a possible birth date (YYYY-MM-DD)",
        born,
    )
    digits = pc.utf8_replace_slice(pc.utf8_replace_slice(born, 4, 5, ""), 6, 7, "")
    agree = _bool(pc.equal(pc.utf8_slice_codeunits(nid, 6, 14), digits))
    rejects.flag(
        present["birth_date"] & present["national_id"] & ~agree,
        "birth_date",
        "disagrees with the birth date in the identity number",
        born,
    )
    rejects.flag(
        present["phone"] & ~_bool(pc.match_substring_regex(values["phone"], r"^1\d{10}$")),
        "phone",
        "not an 11-digit mobile number",
        values["phone"],
    )
    rejects.flag(
        present["name"] & _bool(pc.greater(pc.utf8_length(values["name"]), 20)),
        "name",
        "longer than 20 characters",
        values["name"],
    )
    values["birth_digits"] = digits
    return rejects, values


class IdentityMatcher:
    """A bureau's identifiers, for matching applicants: which consumers each key points to.

    Parameters
    ----------
    identifiers
        ``kind``, ``value``, ``consumer_id``: the bureau's ``identifiers`` table.
    rules
        The bureau's matching rules, in order.
    """

    def __init__(self, identifiers: pd.DataFrame, rules: list[str]) -> None:
        self.rules = list(rules)
        self._keys: dict[str, tuple[pa.Array, np.ndarray, np.ndarray]] = {}
        for rule in self.rules:
            held = identifiers[identifiers["kind"] == rule]
            owners = held.groupby("value", sort=True)["consumer_id"].agg(["min", "nunique"])
            self._keys[rule] = (
                pa.array(owners.index.to_numpy(dtype=object), type=pa.string()),
                owners["min"].to_numpy(dtype=np.int64),
                owners["nunique"].to_numpy(dtype=np.int64),
            )

    def match(self, keys: dict[str, pa.Array]) -> tuple[np.ndarray, np.ndarray]:
        """Match rows of keys (one array per rule) to consumers.

        The first rule, in the bureau's order, under which a row's key is held decides: one
        consumer is a match, several are ambiguous.

        Parameters
        ----------
        keys
            :func:`~bureau.bureaus.resolve.identity_key_arrays` of the rows.

        Returns
        -------
        consumer_id : numpy.ndarray
            The matched consumer, or -1.
        status : numpy.ndarray
            ``matched``, ``no_file`` or ``ambiguous``.
        """
        n = len(next(iter(keys.values()))) if keys else 0
        consumer = np.full(n, -1, dtype=np.int64)
        status = np.full(n, "no_file", dtype=object)
        open_rows = np.ones(n, dtype=bool)
        for rule in self.rules:
            values, owner, counts = self._keys[rule]
            if not len(values):
                continue
            # Arrow's hash lookup: no Python object per key.
            at = pc.fill_null(pc.index_in(keys[rule], value_set=values), -1).to_numpy()
            found = (at >= 0) & open_rows
            single = found & (counts[at] == 1)
            consumer[single] = owner[at[single]]
            status[single] = "matched"
            status[found & ~single] = "ambiguous"
            open_rows &= ~found
        return consumer, status


@dataclass(frozen=True)
class FileScores:
    """Every consumer's score as of one month, for lookups by consumer id.

    Attributes
    ----------
    consumer_id
        The consumers on file, sorted.
    pd, score
        Their probability of default and score.
    reasons
        ``(consumers, 4)`` indices into ``names`` of their reason codes.
    names
        The model's features, then null (no reason).
    """

    consumer_id: np.ndarray
    pd: np.ndarray
    score: np.ndarray
    reasons: np.ndarray
    names: pa.Array

    @classmethod
    def build(cls, engine: Engine, model: BureauModel, as_of: int, start: dt.date) -> FileScores:
        """Compute the features and score of every consumer on file at ``as_of``."""
        features = snapshot_features(engine, as_of, model.card["feature_groups"], start)
        tables = model.tables
        contributions = tables.contributions(features[model.features])
        pd_ = 1.0 / (1.0 + np.exp(-tables.log_odds(contributions)))
        return cls(
            features.index.to_numpy(dtype=np.int64),
            pd_,
            to_score(pd_, model.scale),
            reason_indices(contributions),
            pa.array([*tables.features, None], type=pa.string()),
        )

    def lookup(self, consumer_id: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions of the consumers in the book, and whether each has a file."""
        if not self.consumer_id.size:
            return np.zeros(len(consumer_id), dtype=np.int64), np.zeros(len(consumer_id), bool)
        at = np.minimum(np.searchsorted(self.consumer_id, consumer_id), self.consumer_id.size - 1)
        return at, (self.consumer_id[at] == consumer_id) & (consumer_id >= 0)

    def columns(self, at: np.ndarray, has: np.ndarray) -> dict[str, pa.Array]:
        """Score, pd and reason codes of the rows (null where a row has no file)."""
        out = {
            "score": pa.array(self.score[at], type=pa.int32(), mask=~has),
            "pd": pa.array(self.pd[at], type=pa.float64(), mask=~has),
        }
        none = len(self.names) - 1
        for i in range(REASONS):
            index = np.where(has, self.reasons[at, i], none)
            out[f"reason_{i + 1}"] = self.names.take(pa.array(index))
        return out


def _finish(
    summary: ScoringSummary,
    writer: AtomicTableWriter,
    rejected: list[tuple[int, str, str, str]],
    output: Path,
    before_commit: Callable[[], None] | None = None,
) -> ScoringSummary:
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
        where = f"; see {target}" if rejected else ""
        raise NothingScored(
            f"nothing could be scored: {summary.rows:,} rows, {summary.rejected:,} rejected{where}",
            path=output,
        )
    if before_commit is not None:
        before_commit()
    writer.commit()
    summary.output = output
    return summary


def _row_table(chunk: Chunk, keep: np.ndarray, extra: dict[str, pa.Array]) -> pa.Table:
    columns: dict[str, pa.Array] = {"row": pa.array(chunk.rows[keep])}
    for name in PASS_THROUGH:
        if name in chunk.columns:
            columns[name] = _text(chunk, name).filter(pa.array(keep))
    return pa.table({**columns, **extra})


def score_applicants(
    engine: Engine,
    model: BureauModel,
    rules: list[str],
    input_path: Path,
    output_path: Path,
    *,
    as_of: int,
    start: dt.date,
    as_of_year: int,
    record_inquiries: bool = True,
    requester: str = "batch",
    rows_per_chunk: int = 200_000,
    progress: Progress | None = None,
) -> ScoringSummary:
    """Match applicants to a bureau's files and score them as of a month.

    Parameters
    ----------
    engine
        The bureau's database.
    model
        The bureau's model.
    rules
        The bureau's matching rules, in order.
    input_path
        Applicants: ``national_id``, ``name``, ``birth_date`` (YYYY-MM-DD) and ``phone``
        columns (a value may be empty), optionally ``applicant_id`` (copied to the output).
    output_path
        The ``.csv`` or ``.parquet`` file to write: ``row``, ``applicant_id`` (if given),
        ``match_status``, ``consumer_id``, ``score``, ``pd`` and ``reason_1`` ..
        ``reason_4``, one row per valid input row, in input order.
    as_of
        The month (0-based) whose file is scored.
    start
        The first day of month 0.
    as_of_year
        The calendar year of ``as_of`` (birth dates after it are impossible).
    record_inquiries
        Record one inquiry per matched consumer in the bureau's file (a rerun on the same
        file records nothing new).
    requester
        Who asks: the inquiry's furnisher (at most 20 characters).
    rows_per_chunk
        Rows read at a time.
    progress
        Called as ``progress(done, total)``.

    Returns
    -------
    ScoringSummary
        Rows, matches, scores and rejects.

    Raises
    ------
    InputError
        If the input is missing, empty, unreadable or lacks a required column.
    NothingScored
        If no row was valid.
    """
    summary = ScoringSummary()
    summary.warnings = _columns_check(input_path, list(IDENTITY_COLUMNS), PASS_THROUGH)
    with engine.connect() as conn:
        identifiers = read_frame(
            conn, select(Identifier.kind, Identifier.value, Identifier.consumer_id)
        )
    matcher = IdentityMatcher(identifiers, rules)
    book = FileScores.build(engine, model, as_of, start)
    writer = AtomicTableWriter(output_path)
    rejected: list[tuple[int, str, str, str]] = []
    asked: list[np.ndarray] = []
    first_rows: list[np.ndarray] = []
    try:
        for chunk in read_chunks(input_path, rows_per_chunk):
            summary.rows += len(chunk.rows) + len(chunk.rejects)
            checks, values = _check_identities(chunk, as_of_year)
            rejected += checks.found
            keep = checks.ok
            summary.rejected += len(chunk.rejects) + int((~keep).sum())
            kept = pa.array(keep)
            parts = {
                "name": values["name"],
                "national_id": values["national_id"],
                "phone": values["phone"],
                "birth": values["birth_digits"],
            }
            keys = identity_key_arrays({k: v.filter(kept) for k, v in parts.items()}, rules)
            consumer, status = matcher.match(keys)
            at, has = book.lookup(consumer)
            # A consumer whose file began after the month asked about had no file then.
            status = np.where((status == "matched") & ~has, "no_file", status)
            consumer = np.where(has, consumer, -1)
            table = _row_table(
                chunk,
                keep,
                {
                    "match_status": pa.array(status, type=pa.string()),
                    "consumer_id": pa.array(consumer, type=pa.int64(), mask=~has),
                    **book.columns(at, has),
                },
            )
            writer.write(table)
            summary.matched += int(has.sum())
            summary.scored += int(has.sum())
            summary.ambiguous += int((status == "ambiguous").sum())
            summary.no_file += int((status == "no_file").sum())
            # Only the first row of each consumer is kept: memory grows with the bureau's
            # consumers, not with the input.
            who, first = np.unique(consumer[has], return_index=True)
            asked.append(who)
            first_rows.append(chunk.rows[keep][has][first])
            if progress:
                progress(chunk.position, chunk.total)

        def record() -> None:
            if not record_inquiries or not asked:
                return
            summary.inquiries = _record_inquiries(
                engine,
                input_path,
                np.concatenate(asked),
                np.concatenate(first_rows),
                as_of,
                requester,
            )

        return _finish(summary, writer, rejected, output_path, record)
    except BaseException:
        writer.abort()
        raise


def _record_inquiries(
    engine: Engine,
    input_path: Path,
    consumers: np.ndarray,
    rows: np.ndarray,
    month: int,
    requester: str,
) -> int:
    """One inquiry per consumer asked about in a file; the file's hash makes reruns no-ops."""
    order = np.argsort(consumers, kind="stable")
    consumers, rows = consumers[order], rows[order]
    first = np.ones(len(consumers), dtype=bool)
    first[1:] = consumers[1:] != consumers[:-1]
    consumers, rows = consumers[first], rows[first]
    prefix = file_digest(input_path)[:12]
    frame = pd.DataFrame(
        {
            "consumer_id": consumers,
            "furnisher": requester[:20],
            "inquiry_ref": [f"{prefix}-{c}" for c in consumers],
            "product": "batch_review",
            "month": month,
            "approved": True,
            "arrival": month,
            "source_file": input_path.name,
            "source_line": rows,
        }
    )
    with engine.begin() as conn:
        upsert(conn, Inquiry.__table__, frame, ["furnisher", "inquiry_ref"])
    return len(frame)


def _numbers(chunk: Chunk, name: str, rejects: _Rejects) -> np.ndarray:
    """A feature column as float64 (NaN where empty); non-numbers and impossible values flagged."""
    column = chunk.columns[name]
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        values = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
        raw = column
    else:
        raw = _text(chunk, name)
        try:
            values = raw.cast(pa.float64()).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            text = pd.Series(raw.to_numpy(zero_copy_only=False), dtype=object)
            values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
            rejects.flag(np.isnan(values) & text.notna().to_numpy(), name, "not a number", raw)
    low, high = feature_bounds(name)
    outside = ~np.isnan(values) & ((values < low) | (values > high) | ~np.isfinite(values))
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
    input_kind(output_path)
    summary.warnings = _columns_check(input_path, model.features, FEATURE_PASS_THROUGH)
    writer = AtomicTableWriter(output_path)
    rejected: list[tuple[int, str, str, str]] = []
    try:
        numeric = dict.fromkeys(model.features, pa.float64())
        for chunk in read_chunks(input_path, rows_per_chunk, numeric):
            summary.rows += len(chunk.rows) + len(chunk.rejects)
            checks = _Rejects(chunk)
            matrix = np.column_stack([_numbers(chunk, f, checks) for f in model.features])
            keep = checks.ok
            rejected += checks.found
            summary.rejected += len(chunk.rejects) + int((~keep).sum())
            scored = model.score(pd.DataFrame(matrix[keep], columns=model.features))
            extra: dict[str, pa.Array] = {}
            if "consumer_id" in chunk.columns:
                extra["consumer_id"] = _text(chunk, "consumer_id").filter(pa.array(keep))
            extra["score"] = pa.array(scored["score"].to_numpy(), type=pa.int32())
            extra["pd"] = pa.array(scored["pd"].to_numpy(), type=pa.float64())
            for i in range(1, REASONS + 1):
                extra[f"reason_{i}"] = pa.array(
                    scored[f"reason_{i}"].to_numpy(), type=pa.string(), from_pandas=True
                )
            writer.write(_row_table(chunk, keep, extra))
            summary.scored += int(keep.sum())
            if progress:
                progress(chunk.position, chunk.total)
        return _finish(summary, writer, rejected, output_path)
    except BaseException:
        writer.abort()
        raise
