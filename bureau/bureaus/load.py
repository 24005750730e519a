"""Loading one validated, resolved feed file into a bureau's credit files, in one transaction.

Tradelines are upserted by (furnisher, account number) and keep their latest state and a
24-month payment history string (as on the PBOC report: one character a month, most recent last;
``N`` current, ``1``-``4`` months past due, ``W`` written off, ``C`` closed, ``/`` not reported,
``*`` before the account opened). Every monthly report is kept with the month it arrived in.
Inquiries and public records are upserted by their reference; signals by member and month.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import Connection, bindparam, select, update

from bureau.store.bulk import insert, upsert
from bureau.store.bulk import records as records_of
from bureau.store.credit_file import (
    Consumer,
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


@dataclass
class TradelineState:
    """What the loader needs to know of the tradelines already held (kept in memory).

    Attributes
    ----------
    ids
        ``tradeline_id`` by (furnisher, account_ref), with ``opened`` and ``last_month``.
    history
        ``tradeline_id``, ``month``, ``status`` of every monthly report held.
    next_id
        The next tradeline id to issue.
    """

    ids: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(
            {
                "furnisher": pd.Series(dtype="string"),
                "account_ref": pd.Series(dtype="string"),
                "tradeline_id": pd.Series(dtype="int64"),
                "opened": pd.Series(dtype="int64"),
                "last_month": pd.Series(dtype="int64"),
            }
        )
    )
    history: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(
            {
                "tradeline_id": pd.Series(dtype="int64"),
                "month": pd.Series(dtype="int64"),
                "status": pd.Series(dtype="string"),
            }
        )
    )
    next_id: int = 1

    @classmethod
    def read(cls, conn: Connection) -> TradelineState:
        """Read the state of a bureau's tradelines from its database.

        Parameters
        ----------
        conn
            A connection to the bureau's database.

        Returns
        -------
        TradelineState
            The state.
        """
        ids = pd.read_sql(
            select(
                Tradeline.furnisher,
                Tradeline.account_ref,
                Tradeline.tradeline_id,
                Tradeline.opened,
                Tradeline.last_month,
            ),
            conn,
        )
        history = pd.read_sql(
            select(TradelineMonth.tradeline_id, TradelineMonth.month, TradelineMonth.status), conn
        )
        state = cls()
        if len(ids):
            state.ids = ids.astype({"furnisher": "string", "account_ref": "string"})
            state.history = history.astype({"status": "string"})
            state.next_id = int(ids["tradeline_id"].max()) + 1
        return state


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
    conn: Connection, state: TradelineState, records: pd.DataFrame, arrival: int, file: str
) -> tuple[TradelineState, int]:
    """Upsert a file's tradeline reports.

    Parameters
    ----------
    conn
        A connection inside the file's transaction.
    state
        The tradelines held before this file (not modified).
    records
        Typed tradeline records with ``consumer_id``, ``line`` and months as integers.
    arrival
        The month the file arrived in.
    file
        The file's path relative to the bureau's feeds (provenance).

    Returns
    -------
    tuple
        The state after this file, and the number of records loaded.
    """
    records = records.sort_values(["report_month", "line"], kind="stable")
    latest = records.drop_duplicates(["furnisher", "account_ref"], keep="last")
    held = state.ids[["furnisher", "account_ref", "tradeline_id", "last_month"]]
    latest = latest.merge(held, on=["furnisher", "account_ref"], how="left")
    new = latest["tradeline_id"].isna().to_numpy()
    new_ids = state.next_id + np.arange(int(new.sum()))
    latest.loc[new, "tradeline_id"] = new_ids
    latest["tradeline_id"] = latest["tradeline_id"].astype("int64")
    latest["last_month"] = latest["last_month"].fillna(-(10**6)).astype("int64")

    fresh = latest[new]
    ids = pd.concat(
        [
            state.ids,
            pd.DataFrame(
                {
                    "furnisher": fresh["furnisher"].astype("string"),
                    "account_ref": fresh["account_ref"].astype("string"),
                    "tradeline_id": fresh["tradeline_id"],
                    "opened": fresh["opened"].astype("int64"),
                    "last_month": fresh["report_month"].astype("int64"),
                }
            ),
        ],
        ignore_index=True,
    )
    # A tradeline's own row follows its most recent report; a late report of an older month
    # goes into the history only.
    current = latest[~new & (latest["report_month"] >= latest["last_month"])]
    last = ids.set_index("tradeline_id")["last_month"]
    last.loc[current["tradeline_id"].to_numpy()] = current["report_month"].to_numpy()
    ids["last_month"] = last.to_numpy()

    tradeline_of = ids.set_index(["furnisher", "account_ref"])["tradeline_id"]
    month_rows = pd.DataFrame(
        {
            "tradeline_id": tradeline_of.reindex(
                pd.MultiIndex.from_frame(records[["furnisher", "account_ref"]])
            ).to_numpy(),
            "month": records["report_month"].to_numpy(dtype=np.int64),
            "arrival": arrival,
            "status": records["status"].astype(str).to_numpy(),
            "balance": records["balance"].to_numpy(dtype=np.int64),
            "payment": records["payment"].to_numpy(dtype=np.int64),
        }
    ).drop_duplicates(["tradeline_id", "month"], keep="last")
    replaced = state.history.set_index(["tradeline_id", "month"]).index.isin(
        month_rows.set_index(["tradeline_id", "month"]).index
    )
    history = pd.concat(
        [
            state.history[~replaced],
            month_rows[["tradeline_id", "month", "status"]].astype({"status": "string"}),
        ],
        ignore_index=True,
    )
    touched = ids[ids["tradeline_id"].isin(month_rows["tradeline_id"])]
    strings = pd.Series(payment_history(history, touched), index=touched["tradeline_id"].to_numpy())

    insert(
        conn,
        Tradeline.__table__,
        pd.DataFrame(
            {
                "tradeline_id": fresh["tradeline_id"].to_numpy(),
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
                "payment_history": strings.reindex(fresh["tradeline_id"].to_numpy()).to_numpy(),
                "source_file": file,
                "source_line": fresh["line"].to_numpy(dtype=np.int64),
            }
        ),
    )
    table = Tradeline.__table__
    if len(current):
        conn.execute(
            update(table)
            .where(table.c.tradeline_id == bindparam("b_id"))
            .values(
                balance=bindparam("b_balance"),
                payment=bindparam("b_payment"),
                status=bindparam("b_status"),
                amount=bindparam("b_amount"),
                last_month=bindparam("b_month"),
                last_arrival=bindparam("b_arrival"),
            ),
            records_of(
                pd.DataFrame(
                    {
                        "b_id": current["tradeline_id"].to_numpy(dtype=np.int64),
                        "b_balance": current["balance"].to_numpy(dtype=np.int64),
                        "b_payment": current["payment"].to_numpy(dtype=np.int64),
                        "b_status": current["status"].astype(str).to_numpy(),
                        "b_amount": current["amount"].to_numpy(dtype=np.int64),
                        "b_month": current["report_month"].to_numpy(dtype=np.int64),
                        "b_arrival": arrival,
                    }
                )
            ),
        )
    held_touched = touched[~touched["tradeline_id"].isin(fresh["tradeline_id"])]
    if len(held_touched):
        conn.execute(
            update(table)
            .where(table.c.tradeline_id == bindparam("b_id"))
            .values(payment_history=bindparam("b_history")),
            records_of(
                pd.DataFrame(
                    {
                        "b_id": held_touched["tradeline_id"].to_numpy(dtype=np.int64),
                        "b_history": strings.reindex(
                            held_touched["tradeline_id"].to_numpy()
                        ).to_numpy(),
                    }
                )
            ),
        )
    upsert(
        conn,
        TradelineMonth.__table__,
        month_rows,
        ["tradeline_id", "month"],
        ["arrival", "status", "balance", "payment"],
    )
    state_after = TradelineState(ids=ids, history=history, next_id=state.next_id + len(new_ids))
    return state_after, len(records)


def load_inquiries(conn: Connection, records: pd.DataFrame, arrival: int, file: str) -> int:
    """Insert a file's inquiries; one already held (same furnisher and reference) is kept."""
    frame = pd.DataFrame(
        {
            "consumer_id": records["consumer_id"].to_numpy(),
            "furnisher": records["furnisher"].astype(str).to_numpy(),
            "inquiry_ref": records["inquiry_ref"].astype(str).to_numpy(),
            "product": records["product"].astype(str).to_numpy(),
            "month": records["month"].to_numpy(dtype=np.int64),
            "approved": records["approved"].astype(bool).to_numpy(),
            "arrival": arrival,
            "source_file": file,
            "source_line": records["line"].to_numpy(dtype=np.int64),
        }
    )
    return upsert(conn, Inquiry.__table__, frame, ["furnisher", "inquiry_ref"])


def load_public_records(conn: Connection, records: pd.DataFrame, arrival: int, file: str) -> int:
    """Upsert a file's public records; a later report of a record can only add its end."""
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
            "source_file": file,
            "source_line": records["line"].to_numpy(dtype=np.int64),
        }
    )
    ending = frame["ended"].notna()
    upsert(conn, PublicRecord.__table__, frame[~ending], ["furnisher", "record_ref"])
    upsert(conn, PublicRecord.__table__, frame[ending], ["furnisher", "record_ref"], ["ended"])
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
    """Upsert a file's signals by member, platform and month."""
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


def load_identities(
    conn: Connection, consumers: pd.DataFrame, keys: pd.DataFrame, first_seen: int
) -> None:
    """Create the consumers and record the identity keys a file introduces.

    Parameters
    ----------
    conn
        A connection inside the file's transaction.
    consumers
        New consumers: ``consumer_id``, ``name``, ``national_id``, ``phone``.
    keys
        New keys: ``kind``, ``value``, ``consumer_id``.
    first_seen
        The month the file arrived in.
    """
    if len(consumers):
        insert(
            conn,
            Consumer.__table__,
            consumers.assign(
                birth_month=consumers["national_id"].str.slice(6, 12),
                first_seen=first_seen,
            )[["consumer_id", "name", "national_id", "phone", "birth_month", "first_seen"]],
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
