"""The aggregator's work on what was submitted: link, reconcile, score.

:func:`reconcile_all` reads the submissions in the aggregator's database and writes back the
person keys of both linkage methods, the consolidated tradelines and public records of each
snapshot (with the chosen method's keys), the discrepancies and the consensus scores. It is
keyed by a hash of its inputs (the submissions and the settings): run again on the same
submissions with the same settings, it writes nothing.

The linkages are stored by :mod:`~bureau.aggregator.linkage_store`, each snapshot's tables
read and written by :mod:`~bureau.aggregator.snapshot_tables`, the consensus scores made by
:mod:`~bureau.aggregator.consensus_scores`; this module runs them in order, the reads and
writes on an I/O thread beside the computation.
"""

from __future__ import annotations

import contextvars
import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from bureau.aggregator.consensus_scores import score_snapshots, write_consensus_scores
from bureau.aggregator.fingerprint import inputs_hash
from bureau.aggregator.linkage import METHODS, LinkageError, link
from bureau.aggregator.linkage_store import (
    latest_of,
    link_and_store,
    person_links,
    submitted_identities,
    write_linkage,
)
from bureau.aggregator.reconcile import Consolidated, reconcile
from bureau.aggregator.snapshot_tables import read_submitted, write_consolidated
from bureau.aggregator.summary import ReconcileSummary, stored_summary
from bureau.store.aggregator import Linkage, Reconciliation, Submission
from bureau.store.bulk import read_frame

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


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
    sha = inputs_hash(submissions, settings)
    with engine.connect() as conn:
        previous = read_frame(conn, select(Reconciliation))
        linkages = read_frame(conn, select(Linkage))
    if len(previous) == len(snapshots) and (previous["sha256"] == sha).all():
        return stored_summary(engine, method, snapshots, missing, linkages, unchanged=True)

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
        every = submitted_identities(conn)
    identities = latest_of(every)
    if identities.empty:
        raise LinkageError("nothing to reconcile: no bureau has submitted an identity")
    identity_sha = inputs_hash(submissions, {"threshold": work.threshold})
    stored = {
        name: linkages[(linkages["method"] == name) & (linkages["sha256"] == identity_sha)]
        for name in METHODS
    }
    # The comparison method is linked and stored on the I/O thread, then each snapshot's
    # submissions are read there, all while the chosen method links here.
    others = {
        # In this context, so that the I/O thread links on the backend asked for.
        name: io.submit(
            contextvars.copy_context().run,
            link_and_store,
            engine,
            identities,
            name,
            identity_sha,
            threshold=work.threshold,
            chosen=work.method,
        )
        for name in METHODS
        if name != work.method and stored[name].empty
    }
    submitted = {s: io.submit(read_submitted, engine, s) for s in work.snapshots}
    chosen = None
    if stored[work.method].empty:
        chosen = link(identities, work.method, threshold=work.threshold)
        # Stored after the comparison method's keys (the I/O thread's queue keeps order).
        writes = [io.submit(write_linkage, engine, chosen, identity_sha, len(identities))]
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
        writes.append(
            io.submit(
                write_consolidated,
                engine,
                snapshot,
                consolidated[snapshot],
                work.method,
                work.rules,
            )
        )
        work.step()

    held = every[["snapshot", "bureau", "consumer_id"]].astype({"consumer_id": np.int64})
    del every
    model, consensus = score_snapshots(
        consolidated, scores, held, keys, work.bureaus, work.snapshots
    )
    writes.append(io.submit(write_consensus_scores, engine, consensus))
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
