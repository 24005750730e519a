"""What a bureau submits to the aggregator at a snapshot: its files in a standard form.

A submission holds what the bureau knew at the snapshot and nothing later: the identity
attributes of every consumer on file, each tradeline's state in its last reported month with the
24 months of history up to the snapshot, the public records, and the bureau's score of each
consumer. Each tradeline and record says who furnished it and whether it came from the
furnisher itself (``direct``) or through sharing, so the aggregator can weigh its sources.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from bureau.bureaus.features import snapshot_features
from bureau.bureaus.models.artifacts import BureauModel
from bureau.formats.history import DEFAULT_CODES, history_strings
from bureau.store.bulk import read_frame
from bureau.store.corrections import corrections_as_of
from bureau.store.credit_file import Consumer, PublicRecord, Tradeline
from bureau.store.reports import monthly_reports

#: A default reported this many months before the snapshot or later still counts as current.
RECENT_MONTHS = 3


@dataclass(frozen=True)
class BureauSubmission:
    """One bureau's standardized report at a snapshot: four plain tables.

    Attributes
    ----------
    identities
        ``consumer_id``, ``name``, ``national_id``, ``phone``, ``birth_month``.
    tradelines
        ``consumer_id``, ``furnisher``, ``account_ref``, ``direct``, ``product``, ``opened``,
        ``amount``, ``balance``, ``status``, ``last_month`` and ``history``.
    public_records
        ``consumer_id``, ``furnisher``, ``record_ref``, ``direct``, ``kind``, ``filed``,
        ``ended`` (-1 while in force), ``amount`` and ``last_month``.
    scores
        ``consumer_id``, ``score``, ``pd`` and ``in_default`` (an account of the consumer last
        reported 90+ days past due or written off, in the last :data:`RECENT_MONTHS` months);
        empty for a bureau with no model.
    """

    identities: pd.DataFrame
    tradelines: pd.DataFrame
    public_records: pd.DataFrame
    scores: pd.DataFrame


def _tradelines(engine: Engine, snapshot: int, sources: set[str]) -> pd.DataFrame:
    with engine.connect() as conn:
        lines = read_frame(
            conn,
            select(
                Tradeline.tradeline_id,
                Tradeline.consumer_id,
                Tradeline.furnisher,
                Tradeline.account_ref,
                Tradeline.product,
                Tradeline.opened,
                Tradeline.amount,
            ).order_by(Tradeline.tradeline_id),
        )
        reports = monthly_reports(conn, snapshot, last_month=snapshot)
        # What a bureau submits is its file as corrected by the disputes settled by then.
        reports = corrections_as_of(conn, snapshot).months(reports).reset_index(drop=True)
    position = pd.Index(lines["tradeline_id"]).get_indexer(reports["tradeline_id"])
    latest = reports.groupby("tradeline_id", sort=True).tail(1)
    held = lines.set_index("tradeline_id").loc[latest["tradeline_id"].to_numpy()].reset_index()
    history = history_strings(
        position,
        reports["month"].to_numpy(dtype=np.int64),
        reports["status"].astype(str).to_numpy(),
        len(lines),
        snapshot,
    )
    out = pd.DataFrame(
        {
            "consumer_id": held["consumer_id"].to_numpy(dtype=np.int64),
            "furnisher": held["furnisher"].astype(str).to_numpy(),
            "account_ref": held["account_ref"].astype(str).to_numpy(),
            "direct": held["furnisher"].isin(sources).to_numpy(),
            "product": held["product"].astype(str).to_numpy(),
            "opened": held["opened"].to_numpy(dtype=np.int64),
            "amount": held["amount"].to_numpy(dtype=np.int64),
            "balance": latest["balance"].to_numpy(dtype=np.int64),
            "status": latest["status"].astype(str).to_numpy(),
            "last_month": latest["month"].to_numpy(dtype=np.int64),
            "history": history[position[latest.index.to_numpy()]]
            if len(latest)
            else np.array([], dtype=str),
        }
    )
    return out.sort_values(["furnisher", "account_ref"], ignore_index=True)


def _public_records(engine: Engine, snapshot: int, sources: set[str]) -> pd.DataFrame:
    with engine.connect() as conn:
        records = read_frame(
            conn,
            select(
                PublicRecord.public_record_id,
                PublicRecord.consumer_id,
                PublicRecord.furnisher,
                PublicRecord.record_ref,
                PublicRecord.kind,
                PublicRecord.filed,
                PublicRecord.ended,
                PublicRecord.amount,
                PublicRecord.arrival,
            ).where(PublicRecord.arrival <= snapshot, PublicRecord.filed <= snapshot),
        )
        removed = corrections_as_of(conn, snapshot).removed_records
    records = records[~records["public_record_id"].isin(removed)].reset_index(drop=True)
    ended = pd.to_numeric(records["ended"], errors="coerce").to_numpy(dtype=float)
    over = ended <= snapshot
    return pd.DataFrame(
        {
            "consumer_id": records["consumer_id"].to_numpy(dtype=np.int64),
            "furnisher": records["furnisher"].astype(str).to_numpy(),
            "record_ref": records["record_ref"].astype(str).to_numpy(),
            "direct": records["furnisher"].isin(sources).to_numpy(),
            "kind": records["kind"].astype(str).to_numpy(),
            "filed": records["filed"].to_numpy(dtype=np.int64),
            "ended": np.where(over, np.nan_to_num(ended, nan=-1), -1).astype(np.int64),
            "amount": records["amount"].to_numpy(dtype=np.int64),
            "last_month": np.where(
                over, np.nan_to_num(ended, nan=-1), records["filed"].to_numpy()
            ).astype(np.int64),
        }
    ).sort_values(["furnisher", "record_ref"], ignore_index=True)


def bureau_submission(
    engine: Engine,
    snapshot: int,
    sources: list[str],
    model: BureauModel | None,
    groups: list[str],
    start: dt.date,
    features: pd.DataFrame | None = None,
) -> BureauSubmission:
    """Build a bureau's submission at a snapshot from its credit file.

    Parameters
    ----------
    engine
        The bureau's database.
    snapshot
        The month submitted.
    sources
        The bureau's own sources (what it gets straight from the furnisher).
    model
        The bureau's model, or None if it has none (no scores are then sent).
    groups
        The feature groups of the model.
    start
        The first day of month 0.
    features
        The model's features at the snapshot, corrections in force applied, if already
        computed (:func:`~bureau.bureaus.features.snapshot_features`); computed when None.

    Returns
    -------
    BureauSubmission
        The four tables, sorted by their keys.
    """
    with engine.connect() as conn:
        identities = read_frame(
            conn,
            select(
                Consumer.consumer_id,
                Consumer.name,
                Consumer.national_id,
                Consumer.phone,
                Consumer.birth_month,
            )
            .where(Consumer.first_seen <= snapshot)
            .order_by(Consumer.consumer_id),
        )
    own = set(sources)
    scores = pd.DataFrame(
        {
            "consumer_id": pd.Series([], dtype=np.int64),
            "score": pd.Series([], dtype=np.int64),
            "pd": pd.Series([], dtype=np.float64),
            "in_default": pd.Series([], dtype=bool),
        }
    )
    tradelines = _tradelines(engine, snapshot, own)
    if model is not None:
        X = snapshot_features(engine, snapshot, groups, start) if features is None else features
        scored = model.score(X)
        # In default in the bureau's own view: an account whose latest report, as it stood
        # at the snapshot, is 90+ days past due or written off.
        defaulted = tradelines.loc[
            tradelines["status"].isin(list(DEFAULT_CODES)).to_numpy()
            & (tradelines["last_month"].to_numpy() > snapshot - RECENT_MONTHS),
            "consumer_id",
        ]
        scores = pd.DataFrame(
            {
                "consumer_id": X.index.to_numpy(dtype=np.int64),
                "score": scored["score"].to_numpy(dtype=np.int64),
                "pd": scored["pd"].to_numpy(dtype=np.float64),
                "in_default": X.index.isin(defaulted.to_numpy()),
            }
        )
    return BureauSubmission(
        identities=identities.astype({"consumer_id": np.int64}),
        tradelines=tradelines,
        public_records=_public_records(engine, snapshot, own),
        scores=scores,
    )
