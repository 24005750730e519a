"""A bureau records the disputes it receives and the corrections its investigations make.

A dispute names an item by the furnisher's own number (account or record) and, for a status,
the month. The bureau keeps every dispute with its outcome; an upheld one becomes a
:class:`~bureau.store.credit_file.Correction` in force from the month the investigation ends:
the status replaced, or the account or record taken off the file. Nothing furnished is
overwritten, so the file still reads as it was at any earlier month. Recording the same
disputes again adds nothing.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from bureau.bureaus.features import snapshot_features
from bureau.bureaus.models.artifacts import BureauModel
from bureau.store.bulk import read_frame, upsert
from bureau.store.credit_file import Correction, Dispute, PublicRecord, Tradeline


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
        lines = read_frame(
            conn,
            select(Tradeline.tradeline_id, Tradeline.furnisher, Tradeline.account_ref).where(
                Tradeline.account_ref.in_(new["ref"].unique().tolist())
            ),
        )
        records = read_frame(
            conn,
            select(
                PublicRecord.public_record_id, PublicRecord.furnisher, PublicRecord.record_ref
            ).where(PublicRecord.record_ref.in_(new["ref"].unique().tolist())),
        )
        frame = new.assign(month=new["month"].where(new["month"] >= 0, None).astype("Int64"))
        upsert(conn, Dispute.__table__, frame, ["dispute_ref"])
        upheld = new[new["outcome"] == "corrected"]
        tradeline = upheld.merge(
            lines.rename(columns={"account_ref": "ref"}), on=["furnisher", "ref"], how="left"
        )["tradeline_id"]
        record = upheld.merge(
            records.rename(columns={"record_ref": "ref"}), on=["furnisher", "ref"], how="left"
        )["public_record_id"]
        is_status = (upheld["item"] == "status").to_numpy()
        is_record = (upheld["item"] == "public_record").to_numpy()
        corrections = pd.DataFrame(
            {
                "dispute_ref": upheld["dispute_ref"].to_numpy(),
                "tradeline_id": pd.array(
                    np.where(is_record, np.nan, tradeline.to_numpy(dtype=float)), dtype="Int64"
                ),
                "public_record_id": pd.array(
                    np.where(is_record, record.to_numpy(dtype=float), np.nan), dtype="Int64"
                ),
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
    engine: Engine,
    model: BureauModel,
    groups: list[str],
    snapshot: int,
    start: dt.date,
) -> pd.DataFrame:
    """The scores of corrected consumers at a snapshot, without and with their corrections.

    Parameters
    ----------
    engine
        The bureau's database.
    model
        The bureau's model.
    groups
        Its feature groups.
    snapshot
        The month scored.
    start
        The first day of month 0.

    Returns
    -------
    pandas.DataFrame
        ``consumer_id``, ``before`` and ``after``.
    """
    who = corrected_consumers(engine, snapshot)
    if who.size == 0:
        return pd.DataFrame(
            {"consumer_id": who, "before": who.astype(float), "after": who.astype(float)}
        )
    furnished = snapshot_features(engine, snapshot, groups, start, corrected=False)
    corrected = snapshot_features(engine, snapshot, groups, start, corrected=True)
    who = who[np.isin(who, corrected.index.to_numpy())]
    before = model.score(furnished.loc[who])["score"].to_numpy(dtype=float)
    after = model.score(corrected.loc[who])["score"].to_numpy(dtype=float)
    return pd.DataFrame({"consumer_id": who, "before": before, "after": after})
