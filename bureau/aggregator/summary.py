"""What a reconciliation found, as it reports it: counts per linkage and per snapshot.

A reconciliation that ran reports what it computed; one found up to date reports what the
database holds from the run that made it (:func:`stored_summary`), which is the same.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import Engine, func, select

from bureau.store.aggregator import (
    ConsolidatedPublicRecord,
    ConsolidatedTradeline,
    Discrepancy,
    Reconciliation,
)


@dataclass(frozen=True)
class ReconcileSummary:
    """What reconciliation found.

    Attributes
    ----------
    method
        The linkage whose person keys the consolidated tables use.
    snapshots
        The snapshots reconciled.
    linkages
        Per method: ``records``, ``persons``, ``links``.
    tradelines, public_records, discrepancies
        Consolidated rows and conflicts found, per snapshot.
    missing
        ``(snapshot, bureau)`` of expected bureaus that did not submit.
    consensus
        The consensus model (:meth:`ConsensusModel.to_dict`), or None if it could not be fitted.
    unchanged
        True when the same submissions and settings had been reconciled already.
    """

    method: str
    snapshots: list[int]
    linkages: dict[str, dict[str, int]]
    tradelines: dict[int, int]
    public_records: dict[int, int]
    discrepancies: dict[int, int]
    missing: list[tuple[int, str]] = field(default_factory=list)
    consensus: dict[str, Any] | None = None
    unchanged: bool = False


def stored_summary(
    engine: Engine,
    method: str,
    snapshots: list[int],
    missing: list[tuple[int, str]],
    linkages: pd.DataFrame,
    unchanged: bool,
) -> ReconcileSummary:
    """The summary of the reconciliation the database holds.

    Parameters
    ----------
    engine
        The aggregator's database.
    method
        The linkage the consolidated tables use.
    snapshots
        The snapshots reconciled.
    missing
        ``(snapshot, bureau)`` of expected bureaus that did not submit.
    linkages
        The ``linkages`` table.
    unchanged
        Whether the reconciliation was found up to date.

    Returns
    -------
    ReconcileSummary
        The counts of the stored rows per snapshot, and the stored consensus model.
    """
    counts: dict[str, dict[int, int]] = {
        "tradelines": {},
        "public_records": {},
        "discrepancies": {},
    }
    with engine.connect() as conn:
        consensus = conn.execute(select(Reconciliation.consensus).limit(1)).scalar()
        for name, table in (
            ("tradelines", ConsolidatedTradeline),
            ("public_records", ConsolidatedPublicRecord),
            ("discrepancies", Discrepancy),
        ):
            column = table.__table__.c.snapshot
            held = dict(conn.execute(select(column, func.count()).group_by(column)).all())
            for snapshot in snapshots:
                counts[name][snapshot] = int(held.get(snapshot, 0))
    return ReconcileSummary(
        method=method,
        snapshots=list(snapshots),
        linkages={
            row["method"]: {k: int(row[k]) for k in ("records", "persons", "links")}
            for _, row in linkages.iterrows()
        },
        tradelines=counts["tradelines"],
        public_records=counts["public_records"],
        discrepancies=counts["discrepancies"],
        missing=missing,
        consensus=json.loads(consensus) if consensus else None,
        unchanged=unchanged,
    )
