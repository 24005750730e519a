"""A bureau's features: what its credit file says of each consumer as of a snapshot month.

Only what had arrived by the snapshot counts (every row of a credit file keeps the month it
arrived in), so a model trained at one snapshot and applied at another sees exactly what the
bureau knew then. Each feature belongs to a group (credit, inquiries, public records, identity,
e-commerce, payments, telecom, social); a bureau's profile says which groups it may use, so an
experiment can add or withhold a data source by editing one list.

The features themselves, their groups and directions are listed in
:mod:`bureau.bureaus.feature_catalog`, how each group is computed in
:mod:`bureau.bureaus.feature_groups`; the labels in :mod:`bureau.bureaus.labels`.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, select

from bureau.bureaus.feature_catalog import feature_names
from bureau.bureaus.feature_groups import group_features
from bureau.store.bulk import read_frame
from bureau.store.corrections import InForce, corrections_as_of
from bureau.store.credit_file import (
    Consumer,
    Contact,
    Inquiry,
    PublicRecord,
    Signal,
    Tradeline,
)
from bureau.store.reports import monthly_reports


def _read(conn: Connection, snapshot: int) -> dict[str, pd.DataFrame]:
    """The parts of a credit file that had arrived by the snapshot, as furnished."""
    signals = Signal.__table__
    data = {
        "consumers": read_frame(
            conn,
            select(Consumer.consumer_id, Consumer.national_id, Consumer.phone, Consumer.first_seen)
            .where(Consumer.first_seen <= snapshot)
            .order_by(Consumer.consumer_id),
        ),
        "tradelines": read_frame(
            conn,
            select(
                Tradeline.tradeline_id,
                Tradeline.consumer_id,
                Tradeline.product,
                Tradeline.opened,
                Tradeline.amount,
            )
            .where(Tradeline.opened <= snapshot)
            .order_by(Tradeline.tradeline_id),
        ),
        "months": monthly_reports(conn, snapshot, last_month=snapshot),
        "inquiries": read_frame(
            conn,
            select(Inquiry.consumer_id, Inquiry.month, Inquiry.approved).where(
                Inquiry.arrival <= snapshot,
                Inquiry.month <= snapshot,
                Inquiry.month > snapshot - 12,
            ),
        ),
        "public_records": read_frame(
            conn,
            select(
                PublicRecord.public_record_id,
                PublicRecord.consumer_id,
                PublicRecord.kind,
                PublicRecord.filed,
                PublicRecord.ended,
            ).where(PublicRecord.arrival <= snapshot, PublicRecord.filed <= snapshot),
        ),
        "contacts": read_frame(
            conn,
            select(Contact.consumer_id, Contact.contact_phone).where(
                Contact.arrival <= snapshot, Contact.month <= snapshot
            ),
        ),
        "signals": read_frame(
            conn,
            select(signals).where(
                signals.c.arrival <= snapshot,
                signals.c.month <= snapshot,
                signals.c.month > snapshot - 12,
            ),
        ),
    }
    return data


def read_file(engine: Engine, snapshot: int) -> tuple[dict[str, pd.DataFrame], InForce]:
    """What a bureau's credit file held at a snapshot, as furnished, and the corrections then.

    One read serves every view of the file a caller needs at that month: as furnished, as
    corrected by the disputes settled by then, or corrected further (:func:`file_features`).

    Parameters
    ----------
    engine
        The bureau's database.
    snapshot
        The month (0-based) of the snapshot.

    Returns
    -------
    tuple
        The parts of the file (consumers, tradelines, monthly reports, inquiries, public
        records, contacts, signals) that had arrived by the snapshot, and the corrections of
        disputes in force then.
    """
    with engine.connect() as conn:
        return _read(conn, snapshot), corrections_as_of(conn, snapshot)


def _corrected(data: dict[str, pd.DataFrame], fixes: InForce) -> dict[str, pd.DataFrame]:
    lines = data["tradelines"]
    records = data["public_records"]
    return data | {
        "months": fixes.months(data["months"]),
        "tradelines": lines[~lines["tradeline_id"].isin(fixes.removed_tradelines)],
        "public_records": records[~records["public_record_id"].isin(fixes.removed_records)],
    }


def snapshot_features(
    engine: Engine,
    snapshot: int,
    groups: list[str] | tuple[str, ...],
    start: dt.date,
    corrected: bool = True,
) -> pd.DataFrame:
    """Compute every consumer's features as of a snapshot month, from what had arrived by then.

    Parameters
    ----------
    engine
        The bureau's database.
    snapshot
        The month (0-based) of the snapshot.
    groups
        The feature groups the bureau may use.
    start
        The first day of month 0 (for ages).
    corrected
        Apply the corrections of disputes in force at the snapshot (False reads the file as
        furnished, to measure what corrections change).

    Returns
    -------
    pandas.DataFrame
        One row per consumer on file at the snapshot, indexed by ``consumer_id`` (sorted), one
        float column per feature of the groups, in registry order; NaN where a feature does
        not apply (no revolving limit, never delinquent, no platform data).
    """
    with engine.connect() as conn:
        data = _read(conn, snapshot)
        fixes = corrections_as_of(conn, snapshot) if corrected else None
    return file_features(data, snapshot, groups, start, fixes)


def file_features(
    data: dict[str, pd.DataFrame],
    snapshot: int,
    groups: list[str] | tuple[str, ...],
    start: dt.date,
    fixes: InForce | None = None,
) -> pd.DataFrame:
    """Every consumer's features from a file read by :func:`read_file`, with corrections applied.

    Parameters
    ----------
    data
        The parts of the file at the snapshot, as furnished.
    snapshot
        The month (0-based) of the snapshot.
    groups
        The feature groups the bureau may use.
    start
        The first day of month 0 (for ages).
    fixes
        Corrections to apply (statuses replaced, accounts and records taken off); None reads
        the file as furnished.

    Returns
    -------
    pandas.DataFrame
        As :func:`snapshot_features`.
    """
    if fixes is not None:
        data = _corrected(data, fixes)
    index = pd.Index(data["consumers"]["consumer_id"].to_numpy(dtype=np.int64), name="consumer_id")
    columns = group_features(data, snapshot, groups, start, index)
    names = feature_names(groups)
    return pd.DataFrame({n: columns[n] for n in names}, index=index).astype(np.float64)
