"""Loading a month's tradeline reports into a bureau's credit files.

Tradelines are keyed by (furnisher, account number) and keep their latest state and a
24-month payment history string (as on the PBOC report: one character a month, most recent last;
``N`` current, ``1``-``4`` months past due, ``W`` written off, ``C`` closed, ``/`` not reported,
``*`` before the account opened). Every monthly report is kept with the month it arrived in.

Within one month's delivery the later file (or line) wins, as its files are one batch. A report
of an account-month already held from another month's delivery, with other values, is the
furnisher's correction: the first report stays, and the correction is kept beside it with its
own arrival month (:mod:`bureau.store.reports` reads the file as it stood at any month).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import Connection, select

from bureau.bureaus.keymap import KeyMap, hash_columns
from bureau.store.bulk import insert, read_frame, read_in, update_by_key, upsert
from bureau.store.credit_file import Tradeline, TradelineMonth, TradelineRevision
from bureau.store.reports import REPORT_COLUMNS, monthly_reports

HISTORY_MONTHS = 24
_VALUES = ["status", "balance", "payment"]


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
        one account and month in them, the later file's (or line's) wins; a report of an
        account-month held from another month's delivery is a correction, kept beside it.
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
    table = TradelineMonth.__table__
    written = upsert(conn, table, month_rows, ["tradeline_id", "month"])
    if written < len(month_rows):
        # Only an account held before can have reports held (the usual case never gets here).
        _reported_again(conn, month_rows[month_rows["tradeline_id"] < held.next_id], arrival)
    return TradelineIds(ids=ids, next_id=held.next_id + len(fresh_ids))


def _reported_again(conn: Connection, rows: pd.DataFrame, arrival: int) -> int:
    """Keep the reports of account-months held already: the same delivery's, or corrections.

    Parameters
    ----------
    conn
        A connection inside the month's transaction.
    rows
        Monthly reports of this delivery (one per account-month) whose account was held.
    arrival
        The month of this delivery.

    Returns
    -------
    int
        Corrections written.
    """
    columns = list(REPORT_COLUMNS)
    key = ["tradeline_id", "month"]
    first = read_in(conn, TradelineMonth.__table__, columns, "tradeline_id", rows["tradeline_id"])
    seen = rows.merge(first, on=key, suffixes=("", "_held"))
    differs = np.zeros(len(seen), dtype=bool)
    for name in _VALUES:
        differs |= seen[name].to_numpy() != seen[f"{name}_held"].to_numpy()
    same = (seen["arrival_held"] == arrival).to_numpy()
    # The same month's delivery, loaded in two runs: one batch, so the later file wins.
    upsert(conn, TradelineMonth.__table__, seen.loc[same & differs, columns], key, _VALUES)
    other = seen[~same]
    if other.empty:
        return 0
    revisions = TradelineRevision.__table__
    held = read_in(conn, revisions, columns, "tradeline_id", other["tradeline_id"])
    versions = pd.concat(
        [part for part in (first, held) if len(part)], ignore_index=True
    ).sort_values([*key, "arrival"], kind="stable")
    earlier = versions[versions["arrival"].to_numpy() < arrival]
    before = earlier.drop_duplicates(key, keep="last")[[*key, *_VALUES]]
    news = other[columns].merge(before, on=key, how="left", suffixes=("", "_before"))
    keep = np.array(news["status_before"].isna(), dtype=bool)
    for name in _VALUES:
        keep |= news[name].to_numpy() != news[f"{name}_before"].to_numpy()
    # A correction of this delivery already held (from an earlier run) is updated in place.
    now = held[held["arrival"].to_numpy() == arrival][key].assign(_now=True)
    keep |= news.merge(now, on=key, how="left")["_now"].notna().to_numpy()
    return upsert(
        conn,
        revisions,
        news.loc[keep, columns].assign(arrival=arrival),
        [*key, "arrival"],
        _VALUES,
    )


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
    # The reports as they stand now, furnishers' corrections included.
    reports = monthly_reports(conn, None, REPORT_COLUMNS)
    tradeline = reports["tradeline_id"].to_numpy()
    # Sorted by tradeline and month: a tradeline's last row is its latest month.
    ends = np.ones(len(reports), dtype=bool)
    ends[:-1] = tradeline[1:] != tradeline[:-1]
    latest = reports[ends].rename(columns={"month": "last_month"})
    latest = latest.assign(
        last_arrival=reports.groupby("tradeline_id", sort=True)["arrival"].max().to_numpy()
    )[["tradeline_id", "last_month", "last_arrival", *_VALUES]]
    months = reports[["tradeline_id", "month", "status"]]
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
