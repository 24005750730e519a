"""Loading a month's validated, resolved feed files into a bureau's credit files.

Tradelines are loaded by :mod:`bureau.bureaus.load_tradelines`. Inquiries and public records
are keyed by their reference; signals by member and month.

Nothing a delivery furnished is overwritten by another month's delivery. Within one month's
delivery the later file (or line) wins, as its files are one batch. A report of an
account-month already held from another month, with other values, is the furnisher's
correction, kept beside the first (:mod:`bureau.store.reports`). Of a signal or a public
record held from another month, the values held are kept, and the files that disagreed are
named (:class:`Disagreement`); only a public record's end may be added, once, to a record
that had none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Table

from bureau.store.bulk import insert, read_in, upsert
from bureau.store.credit_file import (
    Consumer,
    Contact,
    Identifier,
    Inquiry,
    LoadedFile,
    PublicRecord,
    Reject,
    Signal,
)

# Control characters other than tab, shown in stored raw text as their Unicode pictures
# (U+2400...): PostgreSQL cannot store a NUL in text, and a reject's raw text is for reading.
_CONTROL_PICTURES = str.maketrans({c: 0x2400 + c for c in range(0x20) if c != 0x09})


@dataclass(frozen=True)
class Disagreement:
    """Records of a file that another month's delivery had furnished otherwise: not loaded.

    Attributes
    ----------
    file
        The file, relative to the bureau's feeds.
    records
        How many of its records.
    what
        What they disagree about, e.g. ``"a member's month of platform data"``.
    """

    file: str
    records: int
    what: str

    @property
    def reason(self) -> str:
        """The warning, one line."""
        return (
            f"{self.records:,} record(s) give {self.what} held from another month's "
            "delivery other values; the values held are kept"
        )


def _held_from_other_months(
    conn: Connection,
    table: Table,
    rows: pd.DataFrame,
    key: list[str],
    columns: list[str],
    arrival: int,
) -> pd.DataFrame:
    """``rows`` beside the values held for their keys (``*_held``), where another month put them.

    The rows held are looked up by the key's first column.
    """
    held = read_in(conn, table, [*key, *columns], key[0], rows[key[0]])
    seen = rows.merge(held, on=key, suffixes=("", "_held"))
    return seen[(seen["arrival_held"] != arrival).to_numpy()]


def _disagreements(rows: pd.DataFrame, what: str) -> list[Disagreement]:
    """One :class:`Disagreement` per file of ``rows`` (which have ``source_file``)."""
    counts = rows.groupby("source_file", sort=True).size()
    return [Disagreement(str(f), int(n), what) for f, n in counts.items()]


def load_inquiries(conn: Connection, records: pd.DataFrame, arrival: int) -> int:
    """Insert inquiries; one already held (same furnisher and reference) is kept."""
    frame = pd.DataFrame(
        {
            "consumer_id": records["consumer_id"].to_numpy(),
            "furnisher": records["furnisher"].astype(str).to_numpy(),
            "inquiry_ref": records["inquiry_ref"].astype(str).to_numpy(),
            "product": records["product"].astype(str).to_numpy(),
            "month": records["month"].to_numpy(dtype=np.int64),
            "approved": records["approved"].astype(bool).to_numpy(),
            "arrival": arrival,
            "source_file": records["source_file"].to_numpy(),
            "source_line": records["line"].to_numpy(dtype=np.int64),
        }
    )
    # Several files of a month may carry one inquiry: the first is kept, as if loaded in turn.
    frame = frame.drop_duplicates(["furnisher", "inquiry_ref"], keep="first")
    return upsert(conn, Inquiry.__table__, frame, ["furnisher", "inquiry_ref"])


def load_public_records(
    conn: Connection, records: pd.DataFrame, arrival: int
) -> list[Disagreement]:
    """Load public records; a record held can only gain an end, if it had none.

    Parameters
    ----------
    conn
        A connection inside the month's transaction.
    records
        Typed public records with ``consumer_id``, ``source_file`` and ``line``.
    arrival
        The month the files arrived in.

    Returns
    -------
    list of Disagreement
        The files whose records give a record held from another month's delivery other
        values (an end other than the one held, another kind, filing month or amount).
    """
    frame = pd.DataFrame(
        {
            "consumer_id": records["consumer_id"].to_numpy(),
            "furnisher": records["furnisher"].astype(str).to_numpy(),
            "record_ref": records["record_ref"].astype(str).to_numpy(),
            "kind": records["kind"].astype(str).to_numpy(),
            "filed": records["filed"].to_numpy(dtype=np.int64),
            "ended": records["ended"].astype("Int64").to_numpy(dtype=object, na_value=None),
            "amount": records["amount"].to_numpy(dtype=np.int64),
            "arrival": arrival,
            "source_file": records["source_file"].to_numpy(),
            "source_line": records["line"].to_numpy(dtype=np.int64),
        }
    )
    key = ["furnisher", "record_ref"]
    ending = frame["ended"].notna().to_numpy()
    filings = frame[~ending].drop_duplicates(key)
    ends = frame[ending].drop_duplicates(key, keep="last")
    table = PublicRecord.__table__
    written = upsert(conn, table, filings, key)
    # A record held keeps every value; it gains an end only if it had none.
    written += upsert(conn, table, ends, key, ["ended"], only_if_null=("ended",))
    if written == len(filings) + len(ends):
        return []
    seen = _held_from_other_months(
        conn,
        table,
        pd.concat([filings, ends], ignore_index=True),
        ["record_ref", "furnisher"],
        ["kind", "filed", "ended", "amount", "arrival"],
        arrival,
    )
    differs = np.array(
        seen["ended_held"].notna() & (seen["ended"] != seen["ended_held"]), dtype=bool
    )
    differs &= seen["ended"].notna().to_numpy()
    for name in ("kind", "filed", "amount"):
        differs |= (seen[name].astype(str) != seen[f"{name}_held"].astype(str)).to_numpy()
    return _disagreements(seen[differs], "a public record")


SIGNAL_FIELDS = (
    "ecommerce_spend",
    "ecommerce_returns",
    "payment_volume",
    "utility_on_time",
    "phone_bill_on_time",
    "social_activity",
    "gaming_minutes",
    "address_changed",
)


def load_signals(conn: Connection, records: pd.DataFrame, arrival: int) -> list[Disagreement]:
    """Load platform data by member, platform and month; what another delivery gave is kept.

    Parameters
    ----------
    conn
        A connection inside the month's transaction.
    records
        Typed signal records with ``consumer_id``, ``source_file`` and ``line``.
    arrival
        The month the files arrived in.

    Returns
    -------
    list of Disagreement
        The files whose records give a member's month held from another month's delivery
        other values.
    """
    key = ["consumer_id", "furnisher", "month"]
    frame = records[[*key, *SIGNAL_FIELDS]].copy()
    frame["furnisher"] = frame["furnisher"].astype(str)
    frame["arrival"] = arrival
    # Two records of one member in a month (e.g. under two phone numbers) keep the last.
    last = ~frame.duplicated(key, keep="last").to_numpy()
    frame = frame[last]
    columns = ["arrival", *SIGNAL_FIELDS]
    written = upsert(conn, Signal.__table__, frame, key, columns, only_if_equal=("arrival",))
    if written == len(frame):
        return []
    seen = _held_from_other_months(
        conn,
        Signal.__table__,
        frame.assign(source_file=records["source_file"].to_numpy()[last]),
        key,
        columns,
        arrival,
    )
    differs = np.zeros(len(seen), dtype=bool)
    for name in SIGNAL_FIELDS:
        # As numbers: a database may hand booleans back as 0 and 1.
        new = seen[name].astype("Float64")
        old = seen[f"{name}_held"].astype(object).astype("Float64")
        same = (new.isna() & old.isna()) | (new == old).fillna(False)
        differs |= ~same.to_numpy(dtype=bool)
    return _disagreements(seen[differs], "a member's month of platform data")


def load_contacts(conn: Connection, records: pd.DataFrame, arrival: int) -> int:
    """Insert contact-list entries; an entry already held keeps its first month."""
    frame = pd.DataFrame(
        {
            "consumer_id": records["consumer_id"].to_numpy(),
            "furnisher": records["furnisher"].astype(str).to_numpy(),
            "contact_phone": records["contact_phone"].astype(str).to_numpy(),
            "month": records["month"].to_numpy(dtype=np.int64),
            "arrival": arrival,
        }
    ).drop_duplicates(["consumer_id", "furnisher", "contact_phone"], keep="first")
    return upsert(conn, Contact.__table__, frame, ["consumer_id", "furnisher", "contact_phone"])


def load_identities(
    conn: Connection, consumers: pd.DataFrame, keys: pd.DataFrame, first_seen: int
) -> None:
    """Create the consumers and record the identity keys a month's files introduce.

    Parameters
    ----------
    conn
        A connection inside the month's transaction.
    consumers
        New consumers: ``consumer_id``, ``name``, ``national_id``, ``phone``, and the
        ``source_file`` and ``source_line`` of the record that created them.
    keys
        New keys: ``kind``, ``value``, ``consumer_id``.
    first_seen
        The month the files arrived in.
    """
    if len(consumers):
        insert(
            conn,
            Consumer.__table__,
            consumers.assign(
                birth_month=consumers["national_id"].str.slice(6, 12),
                first_seen=first_seen,
            )[
                [
                    "consumer_id",
                    "name",
                    "national_id",
                    "phone",
                    "birth_month",
                    "first_seen",
                    "source_file",
                    "source_line",
                ]
            ],
        )
    if len(keys):
        upsert(
            conn,
            Identifier.__table__,
            keys[["kind", "value", "consumer_id"]],
            ["kind", "value", "consumer_id"],
        )


def record_file(
    conn: Connection,
    *,
    sha256: str,
    file: str,
    arrival: int,
    record_type: str,
    rows_read: int,
    rows_loaded: int,
    rejects: pd.DataFrame,
) -> None:
    """Record a loaded file (so a second load of the same content is skipped) and its rejects."""
    insert(
        conn,
        LoadedFile.__table__,
        pd.DataFrame(
            [
                {
                    "sha256": sha256,
                    "file": file,
                    "arrival": arrival,
                    "record_type": record_type,
                    "rows_read": rows_read,
                    "rows_loaded": rows_loaded,
                    "rows_rejected": int(
                        rejects.loc[rejects["action"] == "rejected", "line"].nunique()
                    )
                    if len(rejects)
                    else 0,
                }
            ]
        ),
    )
    if len(rejects):
        insert(
            conn,
            Reject.__table__,
            rejects.assign(
                file=file, raw=rejects["raw"].astype(str).str.translate(_CONTROL_PICTURES)
            )[["file", "line", "rule_id", "field", "message", "raw", "action"]],
        )
