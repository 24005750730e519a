"""The aggregator's work on what was submitted: link, reconcile, score.

:func:`reconcile_all` reads the submissions in the aggregator's database and writes back the
person keys of both linkage methods, the consolidated tradelines and public records of each
snapshot (with the chosen method's keys), the discrepancies and the consensus scores. It is
keyed by a hash of its inputs (the submissions and the settings): run again on the same
submissions with the same settings, it writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, delete, func, select

from bureau.aggregator.consensus import (
    ConsensusError,
    ConsensusModel,
    consensus_features,
    fit_consensus,
    observed_defaults,
)
from bureau.aggregator.linkage import METHODS, LinkageError, LinkResult, link
from bureau.aggregator.reconcile import Consolidated, reconcile
from bureau.store.aggregator import (
    ConsensusScore,
    ConsolidatedPublicRecord,
    ConsolidatedTradeline,
    Discrepancy,
    Linkage,
    PersonLink,
    Reconciliation,
    Submission,
    SubmittedIdentity,
    SubmittedPublicRecord,
    SubmittedScore,
    SubmittedTradeline,
)
from bureau.store.aggregator_reads import read_person_links, read_snapshot
from bureau.store.bulk import insert, read_frame

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


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


def latest_identities(conn: Connection) -> pd.DataFrame:
    """Every submitted consumer file, with the identity of its latest submission.

    Parameters
    ----------
    conn
        A connection to the aggregator's database.

    Returns
    -------
    pandas.DataFrame
        ``bureau``, ``consumer_id``, ``name``, ``national_id``, ``phone``, ``birth_month``,
        sorted by bureau and consumer id.
    """
    return _latest(read_frame(conn, select(SubmittedIdentity.__table__)))


def _latest(frame: pd.DataFrame) -> pd.DataFrame:
    """The latest submission of every file among identities of all snapshots."""
    if frame.empty:
        return frame.drop(columns="snapshot", errors="ignore")
    frame = frame.sort_values(["bureau", "consumer_id", "snapshot"], kind="stable")
    latest = frame.drop_duplicates(["bureau", "consumer_id"], keep="last")
    return latest.drop(columns="snapshot").reset_index(drop=True)


@dataclass(frozen=True)
class _Submitted:
    """One snapshot's submitted tradelines, public records and scores."""

    tradelines: pd.DataFrame
    public_records: pd.DataFrame
    scores: pd.DataFrame


def _read_snapshot(engine: Engine, snapshot: int) -> _Submitted:
    with engine.connect() as conn:
        return _Submitted(
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


def person_links(engine: Engine, method: str) -> pd.DataFrame:
    """The person keys of one linkage method.

    Parameters
    ----------
    engine
        The aggregator's database.
    method
        ``splink`` or ``exact``.

    Returns
    -------
    pandas.DataFrame
        ``bureau``, ``consumer_id``, ``person_key``.
    """
    with engine.connect() as conn:
        return read_person_links(conn, method)


def _inputs_hash(submissions: pd.DataFrame, settings: dict[str, Any]) -> str:
    state = {
        "submissions": submissions[["snapshot", "bureau", "sha256"]].to_numpy().tolist(),
        "settings": settings,
    }
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode("utf-8")).hexdigest()


def _write_linkage(engine: Engine, result: LinkResult, sha: str, records: int) -> None:
    parameters = json.dumps(result.parameters, sort_keys=True, ensure_ascii=False, default=str)
    with engine.begin() as conn:
        conn.execute(delete(PersonLink).where(PersonLink.method == result.method))
        conn.execute(delete(Linkage).where(Linkage.method == result.method))
        insert(conn, PersonLink.__table__, result.keys.assign(method=result.method))
        insert(
            conn,
            Linkage.__table__,
            pd.DataFrame(
                [
                    {
                        "method": result.method,
                        "sha256": sha,
                        "records": records,
                        "persons": result.persons,
                        "links": result.links,
                        "parameters": parameters,
                    }
                ]
            ),
        )


def reconcile_all(
    engine: Engine,
    *,
    method: str,
    threshold: float,
    rules: list[str],
    bureaus: list[str],
    snapshots: list[int],
    progress: Progress | None = None,
) -> ReconcileSummary:
    """Link every submitted file, reconcile each snapshot and fit the consensus score.

    Parameters
    ----------
    engine
        The aggregator's database, holding the submissions.
    method
        The linkage whose keys reconciliation uses (both are run and stored).
    threshold
        Splink's match threshold.
    rules
        The reconciliation rule order.
    bureaus
        The bureaus expected to submit (a missing one is reported, not fatal).
    snapshots
        The development and evaluation snapshots.
    progress
        Called as ``progress(done, total)`` over the steps.

    Returns
    -------
    ReconcileSummary
        Persons, links, consolidated rows, discrepancies and the consensus model.

    Raises
    ------
    LinkageError
        If the method is unknown or nothing was submitted.
    """
    if method not in METHODS:
        raise LinkageError(
            f"no linkage method {method!r} (methods: {', '.join(METHODS)})", field="method"
        )
    steps = len(METHODS) + len(snapshots) + 1
    done = 0
    if progress:
        progress(0, steps)

    def step() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, steps)

    with engine.connect() as conn:
        submissions = read_frame(
            conn, select(Submission).order_by(Submission.snapshot, Submission.bureau)
        )
    if submissions.empty:
        raise LinkageError("nothing to reconcile: no bureau has submitted")
    held = set(zip(submissions["snapshot"], submissions["bureau"], strict=True))
    missing = [(s, b) for s in snapshots for b in bureaus if (s, b) not in held]
    for snapshot, bureau in missing:
        logger.warning("%s made no submission at month %d: reconciled without it", bureau, snapshot)
    settings = {"method": method, "threshold": threshold, "rules": rules, "snapshots": snapshots}
    sha = _inputs_hash(submissions, settings)
    with engine.connect() as conn:
        previous = read_frame(conn, select(Reconciliation))
        linkages = read_frame(conn, select(Linkage))
    if len(previous) == len(snapshots) and (previous["sha256"] == sha).all():
        return _summary_of(engine, method, snapshots, missing, linkages, unchanged=True)

    with engine.begin() as conn:
        # From here on the stored tables change: until the end, no reader may take them for
        # a finished reconciliation (a run killed midway is redone whole).
        conn.execute(Reconciliation.__table__.update().values(sha256=""))
    # One thread does all the reading ahead and all the writing, in the order given, while
    # this one computes: DuckDB (the linkage) and SQLite release the interpreter as they
    # work, so the two cores are both busy, and the writes never wait on one another.
    with ThreadPoolExecutor(max_workers=1) as io:
        try:
            return _reconcile(
                _Work(engine, io, method, threshold, rules, bureaus, snapshots, step),
                submissions,
                sha,
                missing,
                linkages,
            )
        except BaseException:
            # What is still queued would be wasted work: drop it (what runs, finishes).
            io.shutdown(wait=True, cancel_futures=True)
            raise


@dataclass(frozen=True)
class _Work:
    """What a reconciliation works with: the database, its I/O thread and the settings."""

    engine: Engine
    io: ThreadPoolExecutor
    method: str
    threshold: float
    rules: list[str]
    bureaus: list[str]
    snapshots: list[int]
    step: Callable[[], None]


def _link_and_store(
    work: _Work, name: str, identities: pd.DataFrame, identity_sha: str
) -> LinkResult | None:
    """Link by one method and store its keys; None if the comparison method cannot link."""
    try:
        result = link(identities, name, threshold=work.threshold)
    except LinkageError as exc:
        if name == work.method:
            raise
        # The other method is only there for comparison: go on without it.
        logger.warning("%s linkage not measured: %s", name, exc.message)
        return None
    _write_linkage(work.engine, result, identity_sha, len(identities))
    return result


def _write_snapshot(work: _Work, snapshot: int, result: Consolidated) -> None:
    with work.engine.begin() as conn:
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
            "method": work.method,
            "rules": ",".join(work.rules),
            # Set once everything is written: a run killed before then reconciles again.
            "sha256": "",
        }
        insert(conn, Reconciliation.__table__, pd.DataFrame([row]))


def _reconcile(
    work: _Work,
    submissions: pd.DataFrame,
    sha: str,
    missing: list[tuple[int, str]],
    linkages: pd.DataFrame,
) -> ReconcileSummary:
    """Link, reconcile every snapshot and fit the consensus (the body of reconcile_all)."""
    engine, io = work.engine, work.io
    with engine.connect() as conn:
        every = read_frame(conn, select(SubmittedIdentity.__table__))
    identities = _latest(every)
    if identities.empty:
        raise LinkageError("nothing to reconcile: no bureau has submitted an identity")
    identity_sha = _inputs_hash(submissions, {"threshold": work.threshold})
    stored = {
        name: linkages[(linkages["method"] == name) & (linkages["sha256"] == identity_sha)]
        for name in METHODS
    }
    # The comparison method is linked and stored on the I/O thread, then each snapshot's
    # submissions are read there, all while the chosen method links here.
    others = {
        name: io.submit(_link_and_store, work, name, identities, identity_sha)
        for name in METHODS
        if name != work.method and stored[name].empty
    }
    submitted = {s: io.submit(_read_snapshot, engine, s) for s in work.snapshots}
    chosen = None
    if stored[work.method].empty:
        chosen = link(identities, work.method, threshold=work.threshold)
        # Stored after the comparison method's keys (the I/O thread's queue keeps order).
        writes = [io.submit(_write_linkage, engine, chosen, identity_sha, len(identities))]
        keys = chosen.keys.astype({"consumer_id": np.int64, "person_key": np.int64})
    else:
        writes = []
        keys = person_links(engine, work.method)
    results: dict[str, dict[str, int]] = {}
    for name in METHODS:
        if not stored[name].empty:
            row = stored[name].iloc[0]
            results[name] = {k: int(row[k]) for k in ("records", "persons", "links")}
        else:
            result = chosen if name == work.method else others[name].result()
            if result is not None:
                results[name] = {
                    "records": len(identities),
                    "persons": result.persons,
                    "links": result.links,
                }
        work.step()

    consolidated: dict[int, Consolidated] = {}
    scores = {}
    for snapshot in work.snapshots:
        reports = submitted.pop(snapshot).result()
        scores[snapshot] = reports.scores
        consolidated[snapshot] = reconcile(
            reports.tradelines, reports.public_records, keys, work.rules
        )
        del reports
        writes.append(io.submit(_write_snapshot, work, snapshot, consolidated[snapshot]))
        work.step()

    held = every[["snapshot", "bureau", "consumer_id"]].astype({"consumer_id": np.int64})
    del every
    model, consensus = _consensus(consolidated, scores, held, keys, work.bureaus, work.snapshots)
    writes.append(io.submit(_write_consensus, engine, consensus))
    for done in writes:
        # A failed write fails the reconciliation: it is not marked complete.
        done.result()
    fitted = json.dumps(model.to_dict(), sort_keys=True) if model is not None else None
    with engine.begin() as conn:
        # Every snapshot's row now carries the hash: the reconciliation is complete.
        conn.execute(Reconciliation.__table__.update().values(sha256=sha, consensus=fitted))
    work.step()
    return ReconcileSummary(
        method=work.method,
        snapshots=list(work.snapshots),
        linkages=results,
        tradelines={s: len(c.tradelines) for s, c in consolidated.items()},
        public_records={s: len(c.public_records) for s, c in consolidated.items()},
        discrepancies={s: len(c.discrepancies) for s, c in consolidated.items()},
        missing=missing,
        consensus=model.to_dict() if model is not None else None,
    )


def _consensus(
    consolidated: dict[int, Consolidated],
    scores: dict[int, pd.DataFrame],
    held: pd.DataFrame,
    keys: pd.DataFrame,
    bureaus: list[str],
    snapshots: list[int],
) -> tuple[ConsensusModel | None, pd.DataFrame]:
    """Fit the consensus at the first snapshot and score every snapshot.

    Returns the model (None if it cannot be fitted) and the consensus scores to store (none
    without a model).
    """
    development, evaluation = snapshots[0], snapshots[-1]
    frames = {}
    for snapshot in snapshots:
        # Only the files submitted at this snapshot: a person first seen later is no one
        # yet, and a bureau's file counts from the snapshot it was submitted at.
        files = held.loc[held["snapshot"] == snapshot, ["bureau", "consumer_id"]]
        frames[snapshot] = consensus_features(
            consolidated[snapshot].tradelines,
            consolidated[snapshot].public_records,
            scores[snapshot],
            keys.merge(files, on=["bureau", "consumer_id"]),
            bureaus,
            snapshot,
        )
    dev = frames[development]
    bad = observed_defaults(
        consolidated[evaluation].tradelines, dev.index, development, 12, evaluation
    )
    empty = pd.DataFrame(
        {
            "snapshot": pd.Series(dtype=np.int64),
            "person_key": pd.Series(dtype=np.int64),
            "pd": pd.Series(dtype=float),
            "bureaus": pd.Series(dtype=np.int64),
            "in_default": pd.Series(dtype=bool),
        }
    )
    try:
        model = fit_consensus(dev, bad)
    except ConsensusError as exc:
        logger.warning("%s", exc.message)
        return None, empty
    scored = [
        pd.DataFrame(
            {
                "snapshot": snapshot,
                "person_key": frame.index.to_numpy(dtype=np.int64),
                "pd": model.predict(frame),
                "bureaus": frame["bureaus_with_file"].to_numpy(dtype=np.int64),
                "in_default": frame["in_default"].to_numpy(dtype=bool),
            }
        )
        for snapshot, frame in frames.items()
    ]
    return model, pd.concat(scored, ignore_index=True)


def _write_consensus(engine: Engine, scores: pd.DataFrame) -> None:
    with engine.begin() as conn:
        conn.execute(delete(ConsensusScore))
        insert(conn, ConsensusScore.__table__, scores)


def _summary_of(
    engine: Engine,
    method: str,
    snapshots: list[int],
    missing: list[tuple[int, str]],
    linkages: pd.DataFrame,
    unchanged: bool,
) -> ReconcileSummary:
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
