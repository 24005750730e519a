"""A bureau records the disputes it receives and the corrections its investigations make.

A dispute names an item by the furnisher's own number (account or record) and, for a status,
the month. The bureau keeps every dispute with its outcome; an upheld one becomes a
:class:`~bureau.store.credit_file.Correction` in force from the month the investigation ends:
the status replaced, or the account or record taken off the file. Nothing furnished is
overwritten, so the file still reads as it was at any earlier month. Recording the same
disputes again adds nothing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, select

from bureau.bureaus.models.artifacts import BureauModel
from bureau.store.bulk import read_frame, upsert
from bureau.store.corrections import InForce
from bureau.store.credit_file import Correction, Dispute, PublicRecord, Tradeline


def _item_ids(conn: Connection, items: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The row ids of disputed items, found by furnisher and number (NaN where not on file)."""
    refs = items["ref"].unique().tolist()
    lines = read_frame(
        conn,
        select(Tradeline.tradeline_id, Tradeline.furnisher, Tradeline.account_ref).where(
            Tradeline.account_ref.in_(refs)
        ),
    ).rename(columns={"account_ref": "ref"})
    records = read_frame(
        conn,
        select(
            PublicRecord.public_record_id, PublicRecord.furnisher, PublicRecord.record_ref
        ).where(PublicRecord.record_ref.in_(refs)),
    ).rename(columns={"record_ref": "ref"})
    key = items[["furnisher", "ref"]]
    tradeline = key.merge(lines, on=["furnisher", "ref"], how="left")["tradeline_id"]
    record = key.merge(records, on=["furnisher", "ref"], how="left")["public_record_id"]
    return tradeline.to_numpy(dtype=float), record.to_numpy(dtype=float)


def items_corrected(engine: Engine, items: pd.DataFrame) -> InForce:
    """The corrections that would put a list of wrong items right, all at once.

    Parameters
    ----------
    engine
        The bureau's database.
    items
        ``item`` (``status``, ``account`` or ``public_record``), ``furnisher``, ``ref``,
        ``month`` and ``claimed`` (the true status), as
        :func:`~bureau.analysis.file_errors.item_errors` lists them.

    Returns
    -------
    InForce
        Statuses replaced by the true ones; other persons' accounts and wrongful public records
        taken off the file.
    """
    empty = np.array([], dtype=np.int64)
    if items.empty:
        statuses = pd.DataFrame(
            {"tradeline_id": empty, "month": empty, "status": empty.astype(str)}
        )
        return InForce(statuses, empty, empty)
    with engine.connect() as conn:
        tradeline, record = _item_ids(conn, items.reset_index(drop=True))
    item = items["item"].to_numpy()
    is_status = (item == "status") & ~np.isnan(tradeline)
    statuses = pd.DataFrame(
        {
            "tradeline_id": tradeline[is_status].astype(np.int64),
            "month": items["month"].to_numpy(dtype=np.int64)[is_status],
            "status": items["claimed"].astype(str).to_numpy()[is_status],
        }
    ).drop_duplicates(["tradeline_id", "month"], keep="last")
    lines = tradeline[(item == "account") & ~np.isnan(tradeline)].astype(np.int64)
    records = record[(item == "public_record") & ~np.isnan(record)].astype(np.int64)
    return InForce(statuses, np.unique(lines), np.unique(records))


def record_disputes(engine: Engine, disputes: pd.DataFrame) -> int:
    """Record disputes and their corrections, in one transaction.

    Parameters
    ----------
    engine
        The bureau's database.
    disputes
        ``dispute_ref``, ``consumer_id``, ``item``, ``furnisher``, ``ref``, ``month`` (-1 when
        none), ``shown``, ``claimed``, ``severity``, ``filed``, ``resolved``, ``outcome``.

    Returns
    -------
    int
        Disputes not recorded before.
    """
    if disputes.empty:
        return 0
    with engine.begin() as conn:
        known = set(read_frame(conn, select(Dispute.dispute_ref))["dispute_ref"].astype(str))
        new = disputes[~disputes["dispute_ref"].isin(known)].reset_index(drop=True)
        if new.empty:
            return 0
        frame = new.assign(month=new["month"].where(new["month"] >= 0, None).astype("Int64"))
        upsert(conn, Dispute.__table__, frame, ["dispute_ref"])
        upheld = new[new["outcome"] == "corrected"].reset_index(drop=True)
        tradeline, record = _item_ids(conn, upheld)
        is_status = (upheld["item"] == "status").to_numpy()
        is_record = (upheld["item"] == "public_record").to_numpy()
        corrections = pd.DataFrame(
            {
                "dispute_ref": upheld["dispute_ref"].to_numpy(),
                "tradeline_id": pd.array(np.where(is_record, np.nan, tradeline), dtype="Int64"),
                "public_record_id": pd.array(np.where(is_record, record, np.nan), dtype="Int64"),
                "month": pd.array(
                    np.where(is_status, upheld["month"].to_numpy(dtype=float), np.nan),
                    dtype="Int64",
                ),
                "action": np.where(is_status, "status", "remove"),
                "status": np.where(is_status, upheld["claimed"].to_numpy(), None),
                "effective": upheld["resolved"].to_numpy(dtype=np.int64),
            }
        )
        upsert(conn, Correction.__table__, corrections, ["dispute_ref"])
    return len(new)


def corrected_consumers(engine: Engine, month: int) -> np.ndarray:
    """Consumers with a correction in force at a month.

    Parameters
    ----------
    engine
        The bureau's database.
    month
        The month.

    Returns
    -------
    numpy.ndarray
        Their consumer ids, sorted.
    """
    with engine.connect() as conn:
        rows = read_frame(
            conn,
            select(Dispute.consumer_id)
            .join(Correction, Correction.dispute_ref == Dispute.dispute_ref)
            .where(Correction.effective <= month)
            .distinct(),
        )
    return np.sort(rows["consumer_id"].to_numpy(dtype=np.int64))


def score_changes(
    model: BureauModel, who: np.ndarray, furnished: pd.DataFrame, corrected: pd.DataFrame
) -> pd.DataFrame:
    """The scores of corrected consumers at a snapshot, without and with their corrections.

    Parameters
    ----------
    model
        The bureau's model.
    who
        The consumers with a correction in force (:func:`corrected_consumers`).
    furnished, corrected
        Every consumer's features at the snapshot, from the file as furnished and as corrected
        (:func:`~bureau.bureaus.features.file_features`).

    Returns
    -------
    pandas.DataFrame
        ``consumer_id``, ``before`` and ``after``.
    """
    who = who[np.isin(who, corrected.index.to_numpy())]
    before = model.score(furnished.loc[who])["score"].to_numpy(dtype=float)
    after = model.score(corrected.loc[who])["score"].to_numpy(dtype=float)
    return pd.DataFrame({"consumer_id": who, "before": before, "after": after})
