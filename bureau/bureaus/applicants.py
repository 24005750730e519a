"""Batch scoring of applicants named by identity.

An analyst sends a bureau a file of applicants (national ID, name, birth date, phone). The
bureau matches each row to its files with its own matching rules, scores the consumer as of a
month from a book of every consumer's score, and records one inquiry per consumer asked about
in the file. The streaming, rejects and atomic output are :mod:`bureau.bureaus.batch`'s.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Engine, select

from bureau.bureaus.batch import (
    PASS_THROUGH,
    Progress,
    ScoringSummary,
    check_output,
    finish_output,
    row_table,
)
from bureau.bureaus.batch_input import read_chunks
from bureau.bureaus.batch_io import AtomicTableWriter, Chunk
from bureau.bureaus.batch_rows import (
    RowRejects,
    as_bool,
    check_columns,
    flag_control_characters,
    text_column,
)
from bureau.bureaus.features import snapshot_features
from bureau.bureaus.models.additive import REASONS
from bureau.bureaus.models.artifacts import BureauModel
from bureau.bureaus.models.card import CARD
from bureau.bureaus.resolve import identity_key_arrays
from bureau.errors import ModelError
from bureau.formats.national_id import PROBLEMS, national_id_problems
from bureau.rundir import file_digest
from bureau.store.bulk import read_frame, upsert
from bureau.store.credit_file import Identifier, Inquiry

IDENTITY_COLUMNS = ("national_id", "name", "birth_date", "phone")


def _check_identities(chunk: Chunk, as_of_year: int) -> tuple[RowRejects, dict[str, pa.Array]]:
    """Reject rows whose identity values are impossible; return the values as text."""
    rejects = RowRejects(chunk)
    flag_control_characters(rejects, chunk, (*IDENTITY_COLUMNS, *PASS_THROUGH))
    values = {name: pc.utf8_trim_whitespace(text_column(chunk, name)) for name in IDENTITY_COLUMNS}
    values = {k: pc.if_else(pc.equal(v, ""), None, v) for k, v in values.items()}
    present = {k: as_bool(pc.is_valid(v)) for k, v in values.items()}
    rejects.flag(
        ~np.logical_or.reduce(list(present.values())),
        "",
        "no identity value (national_id, name, birth_date and phone all empty)",
        values["national_id"],
    )
    # A lower-case x is the same check character as X.
    nid = values["national_id"] = pc.utf8_upper(values["national_id"])
    problems = national_id_problems(pc.fill_null(nid, ""))
    for problem in PROBLEMS:
        rejects.flag(
            present["national_id"] & (problems == problem),
            "national_id",
            f"not a valid identity number: {problem}",
            nid,
        )
    born = values["birth_date"]
    shaped = as_bool(pc.match_substring_regex(born, r"^\d{4}-\d{2}-\d{2}$"))
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
    agree = as_bool(pc.equal(pc.utf8_slice_codeunits(nid, 6, 14), digits))
    rejects.flag(
        present["birth_date"] & present["national_id"] & ~agree,
        "birth_date",
        "disagrees with the birth date in the identity number",
        born,
    )
    rejects.flag(
        present["phone"] & ~as_bool(pc.match_substring_regex(values["phone"], r"^1\d{10}$")),
        "phone",
        "not an 11-digit mobile number",
        values["phone"],
    )
    rejects.flag(
        present["name"] & as_bool(pc.greater(pc.utf8_length(values["name"]), 20)),
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
        """Compute the features and score of every consumer on file at ``as_of``.

        Raises
        ------
        bureau.errors.ModelError
            If the model's card names no feature groups, or features the file does not have.
        """
        card = model.directory / CARD if model.directory else None
        groups = list(model.card.feature_groups)
        if not groups:
            raise ModelError(
                "the card names no feature_groups: it cannot score a bureau's files", path=card
            )
        features = snapshot_features(engine, as_of, groups, start)
        unknown = [f for f in model.features if f not in features.columns]
        if unknown:
            raise ModelError(
                f"features a bureau's files do not have: {', '.join(unknown[:6])}",
                path=card,
                field="features",
            )
        pd_, score, reasons = model.score_arrays(features[model.features])
        return cls(
            features.index.to_numpy(dtype=np.int64),
            pd_,
            score,
            reasons,
            pa.array([*model.tables.features, None], type=pa.string()),
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
        Record one inquiry per matched consumer in the bureau's file, dated ``as_of`` and in
        the file from the next month (a rerun on the same file records nothing new).
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
    check_output(output_path, [input_path, *model.files()])
    summary.warnings = check_columns(input_path, list(IDENTITY_COLUMNS), PASS_THROUGH)
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
            table = row_table(
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

        return finish_output(summary, writer, rejected, output_path, record, source=input_path)
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
            # In the file from the next month on: a score never counts the inquiry made for it,
            # so scoring the same file again gives the same scores.
            "arrival": month + 1,
            "source_file": input_path.name,
            "source_line": rows,
        }
    )
    with engine.begin() as conn:
        upsert(conn, Inquiry.__table__, frame, ["furnisher", "inquiry_ref"])
    return len(frame)
