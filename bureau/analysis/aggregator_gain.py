"""What the aggregator gains over any single bureau: the measures of one run, put together.

:func:`read_aggregator_tables` reads what the assessment needs of the aggregator's database;
:func:`assess_aggregation` sets it, each bureau's files traced to the truth
(:class:`~bureau.analysis.provenance.BureauTruth`) and the world's truth, side by side, with
the measures of :mod:`bureau.analysis.aggregation`. It reads nothing itself: the reconcile
stage hands it every table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from bureau.analysis.aggregation import (
    consensus_performance,
    key_owners,
    linkage_quality,
    view_accuracy,
)
from bureau.analysis.metrics import rounded
from bureau.analysis.model_performance import TRUTH_METRICS, truth_performance
from bureau.analysis.provenance import BureauTruth
from bureau.store.aggregator import (
    ConsensusScore,
    ConsolidatedPublicRecord,
    ConsolidatedTradeline,
    Discrepancy,
    SubmittedIdentity,
    SubmittedPublicRecord,
    SubmittedTradeline,
)
from bureau.store.aggregator_reads import read_person_links, read_snapshot
from bureau.store.bulk import read_frame


@dataclass(frozen=True)
class AggregatorTables:
    """What the assessment reads of the aggregator's database (:func:`read_aggregator_tables`).

    Attributes
    ----------
    links
        Every method's person keys (``method``, ``bureau``, ``consumer_id``, ``person_key``).
    identities, tradelines, public_records
        What was submitted at the evaluation snapshot.
    consolidated_tradelines, consolidated_public_records
        The consolidated view at the evaluation snapshot.
    consensus
        The consensus scores at the evaluation snapshot.
    discrepancies
        Every disagreement found, at every snapshot.
    """

    links: pd.DataFrame
    identities: pd.DataFrame
    tradelines: pd.DataFrame
    public_records: pd.DataFrame
    consolidated_tradelines: pd.DataFrame
    consolidated_public_records: pd.DataFrame
    consensus: pd.DataFrame
    discrepancies: pd.DataFrame


def read_aggregator_tables(engine: Engine, evaluation: int) -> AggregatorTables:
    """Read what :func:`assess_aggregation` needs of a reconciled aggregator database.

    Parameters
    ----------
    engine
        The aggregator's database, reconciled.
    evaluation
        The evaluation snapshot.

    Returns
    -------
    AggregatorTables
        Its tables.
    """
    with engine.connect() as conn:
        return AggregatorTables(
            links=read_person_links(conn),
            identities=read_snapshot(conn, SubmittedIdentity, evaluation),
            tradelines=read_snapshot(conn, SubmittedTradeline, evaluation),
            public_records=read_snapshot(conn, SubmittedPublicRecord, evaluation),
            consolidated_tradelines=read_snapshot(conn, ConsolidatedTradeline, evaluation),
            consolidated_public_records=read_snapshot(conn, ConsolidatedPublicRecord, evaluation),
            consensus=read_snapshot(conn, ConsensusScore, evaluation),
            discrepancies=read_frame(conn, select(Discrepancy.__table__)).drop(
                columns="discrepancy_id"
            ),
        )


def _bureau_performance(
    traced: Mapping[str, BureauTruth],
    scores: Mapping[str, pd.DataFrame],
    outcomes: pd.DataFrame,
) -> list[dict[str, object]]:
    """Each bureau's scores against the truth, as the train stage judged them."""
    rows = []
    for bureau in sorted(traced):
        found: dict[str, float] = {}
        if bureau in scores:
            owners = traced[bureau].owners
            of_file = pd.Series(
                owners["person_id"].to_numpy(), index=owners["consumer_id"].to_numpy()
            )
            found = rounded(truth_performance(scores[bureau], of_file, outcomes))
        rows.append({"view": bureau, **{m: found.get(m, np.nan) for m in TRUTH_METRICS}})
    return rows


def assess_aggregation(
    held: AggregatorTables,
    traced: Mapping[str, BureauTruth],
    scores: Mapping[str, pd.DataFrame],
    adults: int,
    account_months: pd.Series,
    wrongful_world: set[int],
    outcomes: Mapping[int, pd.DataFrame],
    method: str,
    snapshots: list[int],
) -> dict[str, pd.DataFrame]:
    """Measure the aggregator and each bureau alone against the truth.

    Parameters
    ----------
    held
        :func:`read_aggregator_tables`.
    traced
        Each bureau's files and items traced to the truth
        (:func:`~bureau.analysis.provenance.bureau_truth`).
    scores
        The scores of each bureau that has a model (``consumer_id``, ``pd``, ``in_default``)
        at the evaluation snapshot, as its train stage made them.
    adults
        Persons in the world.
    account_months
        The world's status code per ``(account_id, month)``, of every account the bureaus
        hold at least.
    wrongful_world
        World public record ids that are wrongful.
    outcomes
        The true outcomes (``default_12m``, ``in_default`` by ``person_id``) at the
        development and the evaluation snapshot.
    method
        The linkage method the consolidated tables were built with.
    snapshots
        The development and evaluation snapshots.

    Returns
    -------
    dict of pandas.DataFrame
        ``linkage`` (one row per method, :func:`~bureau.analysis.aggregation.linkage_quality`),
        ``coverage_accuracy`` (one row per bureau and one for the aggregator,
        :func:`~bureau.analysis.aggregation.view_accuracy`), ``consensus`` (out-of-time
        discrimination against the truth of the consensus and of each bureau),
        ``discrepancies`` (every disagreement found) and ``discrepancies_by_rule`` (counted by
        snapshot, item, field, kind and rule).
    """
    development, evaluation = snapshots[0], snapshots[-1]
    truths = [traced[b] for b in sorted(traced)]
    owners = pd.concat([t.owners for t in truths], ignore_index=True)
    links = held.links
    linkage = pd.DataFrame(
        [
            {"method": m, **linkage_quality(links[links["method"] == m], owners)}
            for m in sorted(links["method"].unique())
        ]
    )

    accounts = pd.concat([t.accounts for t in truths]).drop_duplicates(["furnisher", "account_ref"])
    record_truth = pd.concat([t.records for t in truths]).drop_duplicates(
        ["furnisher", "record_ref"]
    )
    before = outcomes[development]
    defaulters = before.index[
        before["default_12m"].to_numpy(dtype=bool) & ~before["in_default"].to_numpy(dtype=bool)
    ].to_numpy()

    owner_of = owners.set_index(["bureau", "consumer_id"])["person_id"]
    identities = held.identities

    def owned(frame: pd.DataFrame) -> np.ndarray:
        index = pd.MultiIndex.from_arrays([frame["bureau"], frame["consumer_id"]])
        return owner_of.reindex(index).fillna(-1).to_numpy(dtype=np.int64)

    common = {
        "accounts": accounts,
        "record_truth": record_truth,
        "account_months": account_months,
        "wrongful_world": wrongful_world,
        "defaulters": defaulters,
        "development": development,
        "evaluation": evaluation,
        "adults": adults,
    }
    rows = []
    for bureau in sorted(traced):
        mine = identities[identities["bureau"] == bureau]
        lines = held.tradelines[held.tradelines["bureau"] == bureau]
        records = held.public_records[held.public_records["bureau"] == bureau]
        rows.append(
            view_accuracy(
                bureau,
                lines.assign(owner=owned(lines)),
                records.assign(owner=owned(records)),
                owned(mine),
                **common,
            )
        )
    keys = links[links["method"] == method][["bureau", "consumer_id", "person_key"]]
    of_key = key_owners(keys, owners)

    def key_owned(frame: pd.DataFrame) -> np.ndarray:
        return of_key.reindex(frame["person_key"].to_numpy()).fillna(-1).to_numpy(np.int64)

    lines, records = held.consolidated_tradelines, held.consolidated_public_records
    rows.append(
        view_accuracy(
            "aggregator",
            lines.assign(owner=key_owned(lines)),
            records.assign(owner=key_owned(records)),
            owned(identities),
            **common,
        )
    )

    consensus_rows: list[dict[str, object]] = []
    if len(held.consensus):
        truth = consensus_performance(held.consensus, of_key, outcomes[evaluation])
        consensus_rows.append({"view": "aggregator", **truth})
    consensus_rows += _bureau_performance(traced, scores, outcomes[evaluation])
    discrepancies = held.discrepancies
    by_rule = (
        discrepancies.groupby(["snapshot", "item", "field", "kind", "rule"])
        .size()
        .rename("discrepancies")
        .reset_index()
    )
    return {
        "linkage": linkage,
        "coverage_accuracy": pd.DataFrame(rows),
        "consensus": pd.DataFrame(consensus_rows),
        "discrepancies": discrepancies,
        "discrepancies_by_rule": by_rule,
    }
