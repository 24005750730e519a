"""The consensus score of every snapshot: fitted at the first, applied to each.

The consensus model is fitted on the development snapshot's consolidated view of each person
key, with the defaults the evaluation snapshot's consolidated tradelines show in the year
after it, and scores every reconciled snapshot. A person key counts at a snapshot only through
the files submitted at that snapshot.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sqlalchemy import Engine, delete

from bureau.aggregator.consensus import (
    ConsensusError,
    ConsensusModel,
    consensus_features,
    fit_consensus,
    observed_defaults,
)
from bureau.aggregator.reconcile import Consolidated
from bureau.store.aggregator import ConsensusScore
from bureau.store.bulk import insert

logger = logging.getLogger(__name__)


def score_snapshots(
    consolidated: dict[int, Consolidated],
    scores: dict[int, pd.DataFrame],
    held: pd.DataFrame,
    keys: pd.DataFrame,
    bureaus: list[str],
    snapshots: list[int],
) -> tuple[ConsensusModel | None, pd.DataFrame]:
    """Fit the consensus at the first snapshot and score every snapshot.

    Parameters
    ----------
    consolidated
        Each snapshot's reconciliation.
    scores
        Each snapshot's submitted scores: ``bureau``, ``consumer_id``, ``pd``, ``in_default``.
    held
        ``snapshot``, ``bureau``, ``consumer_id`` of every submitted file.
    keys
        The person keys: ``bureau``, ``consumer_id``, ``person_key``.
    bureaus
        The bureaus expected to submit.
    snapshots
        The development and evaluation snapshots.

    Returns
    -------
    tuple
        The model (None if it cannot be fitted) and the consensus scores to store
        (``snapshot``, ``person_key``, ``pd``, ``bureaus``, ``in_default``; none without a
        model).
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


def write_consensus_scores(engine: Engine, scores: pd.DataFrame) -> None:
    """Store the consensus scores of :func:`score_snapshots` in place of those there were."""
    with engine.begin() as conn:
        conn.execute(delete(ConsensusScore))
        insert(conn, ConsensusScore.__table__, scores)
