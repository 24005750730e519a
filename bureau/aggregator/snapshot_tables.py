"""One snapshot's tables in a reconciliation: what was submitted, and what was consolidated.

Each snapshot is reconciled on its own: its submitted tradelines, public records and scores
are read in, and its consolidated tradelines, public records and discrepancies replace those
stored for it, with a row in ``reconciliations`` that is marked complete only at the end.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Engine, delete, select

from bureau.aggregator.reconcile import Consolidated
from bureau.store.aggregator import (
    ConsolidatedPublicRecord,
    ConsolidatedTradeline,
    Discrepancy,
    Reconciliation,
    SubmittedPublicRecord,
    SubmittedScore,
    SubmittedTradeline,
)
from bureau.store.aggregator_reads import read_snapshot
from bureau.store.bulk import insert, read_frame


@dataclass(frozen=True)
class Submitted:
    """One snapshot's submitted tradelines, public records and scores."""

    tradelines: pd.DataFrame
    public_records: pd.DataFrame
    scores: pd.DataFrame


def read_submitted(engine: Engine, snapshot: int) -> Submitted:
    """What every bureau submitted at a snapshot, but the identities.

    The tradelines and public records come with every column but ``snapshot``, the scores as
    ``bureau``, ``consumer_id``, ``pd`` and ``in_default``.
    """
    with engine.connect() as conn:
        return Submitted(
            read_snapshot(conn, SubmittedTradeline, snapshot),
            read_snapshot(conn, SubmittedPublicRecord, snapshot),
            read_frame(
                conn,
                select(
                    SubmittedScore.bureau,
                    SubmittedScore.consumer_id,
                    SubmittedScore.pd,
                    SubmittedScore.in_default,
                ).where(SubmittedScore.snapshot == snapshot),
            ),
        )


def write_consolidated(
    engine: Engine, snapshot: int, result: Consolidated, method: str, rules: list[str]
) -> None:
    """Store a snapshot's consolidated rows in place of those it had, not yet marked complete.

    ``result`` is the reconciliation of ``snapshot`` with the keys of linkage ``method`` and
    the rule order ``rules``, which its row in ``reconciliations`` records.
    """
    with engine.begin() as conn:
        for table in (ConsolidatedTradeline, ConsolidatedPublicRecord, Discrepancy):
            conn.execute(delete(table).where(table.snapshot == snapshot))
        conn.execute(delete(Reconciliation).where(Reconciliation.snapshot == snapshot))
        insert(conn, ConsolidatedTradeline.__table__, result.tradelines.assign(snapshot=snapshot))
        insert(
            conn,
            ConsolidatedPublicRecord.__table__,
            result.public_records.assign(snapshot=snapshot),
        )
        insert(conn, Discrepancy.__table__, result.discrepancies.assign(snapshot=snapshot))
        row = {
            "snapshot": snapshot,
            "method": method,
            "rules": ",".join(rules),
            # Set once everything is written: a run killed before then reconciles again.
            "sha256": "",
        }
        insert(conn, Reconciliation.__table__, pd.DataFrame([row]))
