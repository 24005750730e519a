"""Receiving submissions: check every row, keep what is sound, set aside the rest with a reason.

A submission is four tables (identities, tradelines, public records, scores) from one bureau at
one snapshot. Nothing is dropped in silence: a row that cannot be taken goes to
``submission_rejects`` whole, with the part, the row number in the part, the field and the
reason. A row is refused for a required value missing; a value not of its column's kind (not a
whole number, not a number, not true or false) or too long for it; a status or history that is
not made of status codes; a month after the snapshot, or a last report before the opening; a
negative amount; a probability outside 0-1; an identity with no attribute at all; a row of a
consumer the bureau did not identify; or conflicting copies of one key (all copies). Exact
copies of a row are one row. The checks of each value are in
:mod:`~bureau.aggregator.submission_checks`; this module checks the parts and stores them.

A submission is stored in one transaction, under its content hash: receiving the same content
again changes nothing, and new content for the same bureau and snapshot replaces the old whole.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine, delete, select

from bureau.aggregator.submission_checks import (
    DTYPES,
    Verdicts,
    check_values,
    column_kind,
    typed_values,
)
from bureau.errors import BureauError
from bureau.store.aggregator import (
    Submission,
    SubmissionReject,
    SubmittedIdentity,
    SubmittedPublicRecord,
    SubmittedScore,
    SubmittedTradeline,
)
from bureau.store.bulk import insert

logger = logging.getLogger(__name__)

#: Each part: its table, its key, and the columns it must have (all required but a few).
PARTS = {
    "identities": (
        SubmittedIdentity,
        ["consumer_id"],
        ["consumer_id", "name", "national_id", "phone", "birth_month"],
    ),
    "tradelines": (
        SubmittedTradeline,
        ["furnisher", "account_ref"],
        [
            "consumer_id",
            "furnisher",
            "account_ref",
            "direct",
            "product",
            "opened",
            "amount",
            "balance",
            "status",
            "last_month",
            "history",
        ],
    ),
    "public_records": (
        SubmittedPublicRecord,
        ["furnisher", "record_ref"],
        [
            "consumer_id",
            "furnisher",
            "record_ref",
            "direct",
            "kind",
            "filed",
            "ended",
            "amount",
            "last_month",
        ],
    ),
    "scores": (SubmittedScore, ["consumer_id"], ["consumer_id", "score", "pd", "in_default"]),
}
#: Columns that may be empty: identity attributes (a bureau may lack some of them).
OPTIONAL = frozenset(("name", "national_id", "phone", "birth_month"))


class SubmissionError(BureauError):
    """A submission that cannot be received at all (a part or a column missing)."""


@dataclass(frozen=True)
class Received:
    """What receiving a submission did.

    Attributes
    ----------
    bureau, snapshot
        Whose submission, and when.
    rows
        Rows stored per part.
    rejected
        Rows set aside (see ``submission_rejects``).
    unchanged
        True when the same content had been received already (nothing was written).
    """

    bureau: str
    snapshot: int
    rows: dict[str, int]
    rejected: int
    unchanged: bool


def content_hash(parts: dict[str, pd.DataFrame]) -> str:
    """A SHA-256 of a submission's content (its rows in order, column by column).

    Parameters
    ----------
    parts
        The four tables.

    Returns
    -------
    str
        The hex digest.
    """
    digest = hashlib.sha256()
    for name in sorted(parts):
        frame = parts[name]
        digest.update(name.encode("utf-8"))
        digest.update(",".join(map(str, frame.columns)).encode("utf-8"))
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def _raw(frame: pd.DataFrame) -> np.ndarray:
    """Each row as a JSON object, to keep a rejected row whole."""
    plain = frame.astype(object).where(frame.notna(), None)
    return np.array(
        [json.dumps(r, ensure_ascii=False, default=str) for r in plain.to_dict("records")],
        dtype=object,
    )


class _Sorter:
    """Collects rejected rows of one submission."""

    def __init__(self, bureau: str, snapshot: int) -> None:
        self.bureau = bureau
        self.snapshot = snapshot
        self.frames: list[pd.DataFrame] = []

    def reject(
        self,
        part: str,
        frame: pd.DataFrame,
        mask: np.ndarray,
        field: str | np.ndarray | None,
        reason: str | np.ndarray,
    ) -> None:
        if not mask.any():
            return
        bad = frame[mask]
        self.frames.append(
            pd.DataFrame(
                {
                    "snapshot": self.snapshot,
                    "bureau": self.bureau,
                    "part": part,
                    "row": bad["_row"].to_numpy(dtype=np.int64),
                    "field": field if isinstance(field, str) or field is None else field[mask],
                    "reason": reason if isinstance(reason, str) else reason[mask],
                    "raw": _raw(bad.drop(columns="_row")),
                }
            )
        )

    def table(self) -> pd.DataFrame:
        if not self.frames:
            return pd.DataFrame(columns=["snapshot", "bureau", "part", "row", "field", "reason"])
        return pd.concat(self.frames, ignore_index=True).sort_values(
            ["part", "row"], kind="stable", ignore_index=True
        )


def _check_part(
    part: str,
    frame: pd.DataFrame,
    sorter: _Sorter,
    consumers: pd.Index | None,
    snapshot: int,
) -> pd.DataFrame:
    """Keep the sound rows of one part; set aside the others with their reason."""
    table, key, columns = PARTS[part]
    raw = frame[columns].reset_index(drop=True)
    raw.insert(0, "_row", np.arange(1, len(raw) + 1))
    verdicts = Verdicts(len(raw))
    for column in columns:
        if column not in OPTIONAL:
            verdicts.refuse(raw[column].isna().to_numpy(), column, "required value missing")
    typed = typed_values(raw, table, verdicts)
    sound_so_far = ~verdicts.refused
    checked = typed[sound_so_far]
    later = Verdicts(len(checked))
    check_values(part, checked, snapshot, later)
    if consumers is not None:
        stranger = ~checked["consumer_id"].isin(consumers).to_numpy()
        later.refuse(stranger, "consumer_id", "consumer not among the submitted identities")
    rows = np.flatnonzero(sound_so_far)
    verdicts.field[rows] = later.field
    verdicts.reason[rows] = later.reason
    refused = verdicts.refused
    sorter.reject(part, raw, refused, verdicts.field, verdicts.reason)

    sound = typed[~refused]
    # Exact copies are one row; copies of a key that disagree cannot all be true, and which
    # one is cannot be told here: all of them are set aside (with the rows as submitted).
    sound = sound.drop_duplicates(subset=list(columns), keep="first")
    clash = sound.duplicated(subset=key, keep=False).to_numpy()
    label = " and ".join(key)
    clashing = raw["_row"].isin(sound.loc[clash, "_row"]).to_numpy()
    sorter.reject(part, raw, clashing, key[-1], f"conflicting copies of one {label}")
    kept = sound[~clash].drop(columns="_row").reset_index(drop=True)
    return kept.astype(
        {c: DTYPES[column_kind(table.__table__.c[c])[0]] for c in columns if c not in OPTIONAL}
    )


def check_submission(
    bureau: str, snapshot: int, parts: dict[str, pd.DataFrame]
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Check a submission row by row.

    Parameters
    ----------
    bureau, snapshot
        Whose submission and when.
    parts
        ``identities``, ``tradelines``, ``public_records`` and ``scores``.

    Returns
    -------
    tuple
        The sound rows of each part, and the rejected rows (``snapshot``, ``bureau``,
        ``part``, ``row``, ``field``, ``reason``, ``raw``).

    Raises
    ------
    SubmissionError
        If a part or a column is missing.
    """
    for part, (_, _, columns) in PARTS.items():
        if part not in parts:
            raise SubmissionError(f"{bureau} at month {snapshot}: no {part} table", field=part)
        absent = [c for c in columns if c not in parts[part].columns]
        if absent:
            raise SubmissionError(
                f"{bureau} at month {snapshot}: {part} has no column {absent[0]}", field=absent[0]
            )
    sorter = _Sorter(bureau, snapshot)
    identities = _check_part("identities", parts["identities"], sorter, None, snapshot)
    consumers = pd.Index(identities["consumer_id"])
    sound = {"identities": identities}
    for part in ("tradelines", "public_records", "scores"):
        sound[part] = _check_part(part, parts[part], sorter, consumers, snapshot)
    return sound, sorter.table()


def receive(engine: Engine, bureau: str, snapshot: int, parts: dict[str, pd.DataFrame]) -> Received:
    """Check and store one bureau's submission at one snapshot, in one transaction.

    Parameters
    ----------
    engine
        The aggregator's database.
    bureau, snapshot
        Whose submission and when.
    parts
        ``identities``, ``tradelines``, ``public_records`` and ``scores``.

    Returns
    -------
    Received
        Rows stored and set aside, or ``unchanged`` if this content was stored already.

    Raises
    ------
    SubmissionError
        If a part or a column is missing.
    """
    sha = content_hash({name: parts[name] for name in PARTS if name in parts})
    with engine.connect() as conn:
        held = conn.execute(
            select(Submission).where(Submission.snapshot == snapshot, Submission.bureau == bureau)
        ).one_or_none()
    if held is not None and held.sha256 == sha:
        rows = {part: getattr(held, part) for part in PARTS}
        return Received(bureau, snapshot, rows, held.rejected, unchanged=True)
    sound, rejected = check_submission(bureau, snapshot, parts)
    with engine.begin() as conn:
        for table in [*(spec[0] for spec in PARTS.values()), SubmissionReject, Submission]:
            conn.execute(delete(table).where(table.snapshot == snapshot, table.bureau == bureau))
        for part, (table, _, _) in PARTS.items():
            insert(conn, table.__table__, sound[part].assign(snapshot=snapshot, bureau=bureau))
        insert(conn, SubmissionReject.__table__, rejected)
        counts = {part: len(frame) for part, frame in sound.items()}
        insert(
            conn,
            Submission.__table__,
            pd.DataFrame(
                [
                    {
                        "snapshot": snapshot,
                        "bureau": bureau,
                        "sha256": sha,
                        **counts,
                        "rejected": len(rejected),
                    }
                ]
            ),
        )
    if len(rejected):
        logger.warning(
            "%s at month %d: %d submitted rows set aside (see submission_rejects)",
            bureau,
            snapshot,
            len(rejected),
        )
    return Received(bureau, snapshot, counts, len(rejected), unchanged=False)
