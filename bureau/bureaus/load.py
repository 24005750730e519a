"""Loading a month's validated, resolved feed files into a bureau's credit files.

Tradelines are keyed by (furnisher, account number) and keep their latest state and a
24-month payment history string (as on the PBOC report: one character a month, most recent last;
``N`` current, ``1``-``4`` months past due, ``W`` written off, ``C`` closed, ``/`` not reported,
``*`` before the account opened). Every monthly report is kept with the month it arrived in.
Inquiries and public records are upserted by their reference; signals by member and month.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import Connection, func, select

from bureau.bureaus.keymap import KeyMap, hash_columns
from bureau.store.bulk import insert, read_frame, update_by_key, upsert
from bureau.store.credit_file import (
    Consumer,
    Contact,
    Identifier,
    Inquiry,
    LoadedFile,
    PublicRecord,
    Reject,
    Signal,
    Tradeline,
    TradelineMonth,
)

HISTORY_MONTHS = 24


def _keys(furnisher: pd.Series, account_ref: pd.Series) -> np.ndarray:
    """One 64-bit hash per tradeline key (furnisher, account number)."""
    return hash_columns([furnisher.astype("string"), account_ref.astype("string")])


@dataclass
class TradelineIds:
    """The bureau's tradeline numbers by furnisher and account number, kept in memory.

    Attributes
    ----------
    ids
        ``tradeline_id`` by the hash of (furnisher, account number).
    next_id
        The next tradeline id to issue.
    """

    ids: KeyMap = field(default_factory=KeyMap)
    next_id: int = 1

    @classmethod
    def read(cls, conn: Connection) -> TradelineIds:
        """Read a bureau's tradeline numbers from its database.

        Parameters
        ----------
        conn
            A connection to the bureau's database.

        Returns
        -------
        TradelineIds
            The numbers.
        """
        held = read_frame(
            conn, select(Tradeline.furnisher, Tradeline.account_ref, Tradeline.tradeline_id)
        )
        if held.empty:
            return cls()
        ids = held["tradeline_id"].to_numpy(dtype=np.int64)
        return cls(
            ids=KeyMap(_keys(held["furnisher"], held["account_ref"]), ids),
            next_id=int(ids.max()) + 1,
        )


def payment_history(
    history: pd.DataFrame, tradelines: pd.DataFrame, months: int = HISTORY_MONTHS
) -> np.ndarray:
    """Build the payment history strings of tradelines, vectorised.

    Parameters
    ----------
    history
        ``tradeline_id``, ``month``, ``status`` of the monthly reports held.
    tradelines
        ``tradeline_id``, ``opened`` and ``last_month`` of the tradelines to describe.
    months
        The string's length.

    Returns
    -------
    numpy.ndarray
        One string per tradeline, oldest month first, ending at its ``last_month``.
    """
    k = len(tradelines)
    last = tradelines["last_month"].to_numpy(dtype=np.int64)
    opened = tradelines["opened"].to_numpy(dtype=np.int64)
    window = last[:, None] - np.arange(months - 1, -1, -1)[None, :]
    grid = np.where(window < opened[:, None], "*", "/").astype("U1")
    position = pd.Series(np.arange(k), index=tradelines["tradeline_id"].to_numpy())
    rows = history[history["tradeline_id"].isin(position.index)]
    row = position.reindex(rows["tradeline_id"].to_numpy()).to_numpy()
    col = rows["month"].to_numpy(dtype=np.int64) - (last[row] - (months - 1))
    inside = (col >= 0) & (col < months)
    grid[row[inside], col[inside]] = rows["status"].to_numpy(dtype=str)[inside]
    return np.ascontiguousarray(grid).view(f"U{months}").ravel()


def load_tradelines(
    conn: Connection, held: TradelineIds, records: pd.DataFrame, arrival: int
) -> TradelineIds:
    """Load tradeline reports: new accounts, and every monthly report.

    A new account's row starts from its most recent report in the records; the latest state and
    payment history of every account are brought up to date by :func:`refresh_tradelines`
    once the files of a run are in.

    Parameters
    ----------
    conn
        A connection inside the month's transaction.
    held
        The tradelines held before these records (not modified).
    records
        Typed tradeline records with ``consumer_id``, ``source_file`` (the file's path
        relative to the bureau's feeds), ``line`` and months as integers. Of two reports of
        one account and month, the later file's (or line's) wins.
    arrival
        The month the files arrived in.

    Returns
    -------
    TradelineIds
        The tradeline numbers after these records.
    """
    # Files sort in arrival order by name within a month.
    records = records.sort_values(["source_file", "report_month", "line"], kind="stable")
    key = _keys(records["furnisher"], records["account_ref"])
    tradeline_id = held.ids.find(key)
    new = tradeline_id < 0
    # Each new account is numbered at its last record (the state it starts from).
    last = ~pd.Series(key).duplicated(keep="last").to_numpy()
    fresh = records[new & last]
    fresh_ids = held.next_id + np.arange(len(fresh))
    ids = held.ids.merged(key[new & last], fresh_ids)
    tradeline_id[new] = ids.find(key[new])

    insert(
        conn,
        Tradeline.__table__,
        pd.DataFrame(
            {
                "tradeline_id": fresh_ids,
                "consumer_id": fresh["consumer_id"].to_numpy(),
                "furnisher": fresh["furnisher"].astype(str).to_numpy(),
                "account_ref": fresh["account_ref"].astype(str).to_numpy(),
                "product": fresh["product"].astype(str).to_numpy(),
                "opened": fresh["opened"].to_numpy(dtype=np.int64),
                "term_months": fresh["term_months"].to_numpy(dtype=np.int64),
                "amount": fresh["amount"].to_numpy(dtype=np.int64),
                "balance": fresh["balance"].to_numpy(dtype=np.int64),
                "payment": fresh["payment"].to_numpy(dtype=np.int64),
                "status": fresh["status"].astype(str).to_numpy(),
                "last_month": fresh["report_month"].to_numpy(dtype=np.int64),
                "last_arrival": arrival,
                "payment_history": "",
                "source_file": fresh["source_file"].to_numpy(),
                "source_line": fresh["line"].to_numpy(dtype=np.int64),
            }
        ),
    )
    month_rows = pd.DataFrame(
        {
            "tradeline_id": tradeline_id.astype(np.int64),
            "month": records["report_month"].to_numpy(dtype=np.int64),
            "arrival": arrival,
            "status": records["status"].astype(str).to_numpy(),
            "balance": records["balance"].to_numpy(dtype=np.int64),
            "payment": records["payment"].to_numpy(dtype=np.int64),
        }
    ).drop_duplicates(["tradeline_id", "month"], keep="last")
    upsert(
        conn,
        TradelineMonth.__table__,
        month_rows,
        ["tradeline_id", "month"],
        ["arrival", "status", "balance", "payment"],
    )
    return TradelineIds(ids=ids, next_id=held.next_id + len(fresh_ids))


def refresh_tradelines(conn: Connection) -> int:
    """Bring every tradeline's latest state and payment history up to date with its reports.

    Each tradeline shows its most recent month's report (balance, payment, status) and the
    24-month history ending there. Recomputing from the monthly reports in one pass, rather
    than on every file, keeps loading cheap; it is idempotent, so a run stopped before it
    simply does it next time.

    Parameters
    ----------
    conn
        A connection inside a transaction.

    Returns
    -------
    int
        Tradelines whose row changed.
    """
    table = Tradeline.__table__
    current = read_frame(
        conn,
        select(
            table.c.tradeline_id,
            table.c.opened,
            table.c.balance,
            table.c.payment,
            table.c.status,
            table.c.last_month,
            table.c.last_arrival,
            table.c.payment_history,
        ),
    )
    if current.empty:
        return 0
    # The latest report of each tradeline is found by the database; only the three columns
    # the payment histories need come back for every month.
    months_table = TradelineMonth.__table__
    last = (
        select(
            months_table.c.tradeline_id,
            func.max(months_table.c.month).label("last_month"),
            func.max(months_table.c.arrival).label("last_arrival"),
        )
        .group_by(months_table.c.tradeline_id)
        .subquery()
    )
    latest = read_frame(
        conn,
        select(
            last.c.tradeline_id,
            last.c.last_month,
            last.c.last_arrival,
            months_table.c.status,
            months_table.c.balance,
            months_table.c.payment,
        ).join(
            months_table,
            (months_table.c.tradeline_id == last.c.tradeline_id)
            & (months_table.c.month == last.c.last_month),
        ),
    )
    months = read_frame(
        conn,
        select(months_table.c.tradeline_id, months_table.c.month, months_table.c.status),
    )
    fresh = (
        current[["tradeline_id", "opened"]]
        .merge(latest, on="tradeline_id", how="inner")
        .sort_values("tradeline_id", kind="stable", ignore_index=True)
    )
    fresh["payment_history"] = payment_history(months, fresh)
    columns = ["balance", "payment", "status", "last_month", "last_arrival", "payment_history"]
    before = (
        current.set_index("tradeline_id")
        .reindex(fresh["tradeline_id"])[columns]
        .reset_index(drop=True)
    )
    changed = (before.astype(str).to_numpy() != fresh[columns].astype(str).to_numpy()).any(axis=1)
    return update_by_key(
        conn, table, fresh.loc[changed, ["tradeline_id", *columns]], "tradeline_id"
    )


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


def load_public_records(conn: Connection, records: pd.DataFrame, arrival: int) -> int:
    """Upsert public records; a later report of a record can only add its end."""
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
    ending = frame["ended"].notna()
    key = ["furnisher", "record_ref"]
    upsert(conn, PublicRecord.__table__, frame[~ending].drop_duplicates(key), key)
    upsert(
        conn,
        PublicRecord.__table__,
        frame[ending].drop_duplicates(key, keep="last"),
        key,
        ["ended"],
    )
    return len(frame)


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


def load_signals(conn: Connection, records: pd.DataFrame, arrival: int) -> int:
    """Upsert signals by member, platform and month."""
    frame = records[["consumer_id", "furnisher", "month", *SIGNAL_FIELDS]].copy()
    frame["furnisher"] = frame["furnisher"].astype(str)
    frame["arrival"] = arrival
    # Two records of one member in a month (e.g. under two phone numbers) keep the last.
    frame = frame.drop_duplicates(["consumer_id", "furnisher", "month"], keep="last")
    return upsert(
        conn,
        Signal.__table__,
        frame,
        ["consumer_id", "furnisher", "month"],
        ["arrival", *SIGNAL_FIELDS],
    )


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
            rejects.assign(file=file, raw=rejects["raw"].astype(str))[
                ["file", "line", "rule_id", "field", "message", "raw", "action"]
            ],
        )
