"""The linkages of a reconciliation as stored: the identities linked and the keys they got.

Every consumer file is linked by the identity of its latest submission. Both linkage methods
are run and their person keys stored (with each one's counts and parameters, under a hash of
the submissions): the chosen method's keys are those reconciliation uses, the other's are there
to compare them with.
"""

from __future__ import annotations

import json
import logging

import pandas as pd
from sqlalchemy import Connection, Engine, delete, select

from bureau.aggregator.linkage import LinkageError, LinkResult, link
from bureau.store.aggregator import Linkage, PersonLink, SubmittedIdentity
from bureau.store.aggregator_reads import read_person_links
from bureau.store.bulk import insert, read_frame

logger = logging.getLogger(__name__)


def submitted_identities(conn: Connection) -> pd.DataFrame:
    """Every identity submitted to the aggregator, at every snapshot (``snapshot`` included)."""
    return read_frame(conn, select(SubmittedIdentity.__table__))


def latest_of(frame: pd.DataFrame) -> pd.DataFrame:
    """The latest submission of every file among identities of all snapshots.

    Parameters
    ----------
    frame
        Submitted identities, with their ``snapshot``.

    Returns
    -------
    pandas.DataFrame
        One row per ``(bureau, consumer_id)``, without ``snapshot``, sorted by bureau and
        consumer id.
    """
    if frame.empty:
        return frame.drop(columns="snapshot", errors="ignore")
    frame = frame.sort_values(["bureau", "consumer_id", "snapshot"], kind="stable")
    latest = frame.drop_duplicates(["bureau", "consumer_id"], keep="last")
    return latest.drop(columns="snapshot").reset_index(drop=True)


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


def write_linkage(engine: Engine, result: LinkResult, sha: str, records: int) -> None:
    """Store one method's person keys and counts in place of those it had.

    Parameters
    ----------
    engine
        The aggregator's database.
    result
        The linkage.
    sha
        The hash of the inputs it was linked from.
    records
        The identities linked.
    """
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


def link_and_store(
    engine: Engine,
    identities: pd.DataFrame,
    method: str,
    sha: str,
    *,
    threshold: float,
    chosen: str,
) -> LinkResult | None:
    """Link by one method and store its keys; None if the comparison method cannot link.

    Parameters
    ----------
    engine
        The aggregator's database.
    identities
        The latest identity of every submitted file (:func:`latest_of`).
    method
        The method to link by.
    sha
        The hash of the inputs, stored with the keys.
    threshold
        Splink's match threshold.
    chosen
        The method reconciliation uses: its failure is the reconciliation's.

    Returns
    -------
    LinkResult or None
        The linkage, or None when ``method`` is the comparison method and could not link.

    Raises
    ------
    LinkageError
        If ``method`` is the chosen one and cannot link.
    """
    try:
        result = link(identities, method, threshold=threshold)
    except LinkageError as exc:
        if method == chosen:
            raise
        # The other method is only there for comparison: go on without it.
        logger.warning("%s linkage not measured: %s", method, exc.message)
        return None
    write_linkage(engine, result, sha, len(identities))
    return result
