"""How well each bureau's scores predict what truly happened.

A bureau judges its model against the defaults reported to it; the world knows every default,
including those on accounts the bureau never heard of, and whose file is whose. Each consumer
file is traced to the person whose identity created it (through the provenance every loaded row
keeps), and its score at the evaluation snapshot is set against that person's true
``default_12m``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
from sqlalchemy import Engine, func, select

from bureau.analysis.metrics import discrimination
from bureau.store.bulk import read_frame
from bureau.store.credit_file import Consumer
from bureau.store.parquet import read_table, write_table


def file_owners(
    engine: Engine, truth_dir: Path, bureau: str, truth: pd.DataFrame | None = None
) -> pd.Series:
    """The person behind each of a bureau's consumer files.

    Most stages after ingestion need this, and it changes only when consumers are added: it
    is kept in ``truth/owners/``, named by the number of consumer files, the last consumer
    id and the size of the truth table it was traced in, and found again there while those
    stay the same.

    Parameters
    ----------
    engine
        The bureau's database.
    truth_dir
        The run's ``truth/`` directory.
    bureau
        The bureau.
    truth
        Its ``truth/furnished`` table, when already read (``file``, ``line`` and
        ``identity_of`` at least); read here otherwise.

    Returns
    -------
    pandas.Series
        ``person_id`` indexed by ``consumer_id``: the person whose identity the record that
        created the file carried.
    """
    furnished = truth_dir / "furnished" / f"{bureau}.parquet"
    with engine.connect() as conn:
        files, last = conn.execute(select(func.count(), func.max(Consumer.consumer_id))).one()
    kept = truth_dir / "owners" / f"{bureau}-{files}-{last or 0}-{furnished.stat().st_size}.parquet"
    if kept.exists():
        owners = pd.read_parquet(kept)
    else:
        owners = _traced_owners(engine, furnished, truth)
        # Keeping it only saves time: a run directory that cannot be written to goes without.
        with contextlib.suppress(OSError):
            write_table(owners, kept)
            for stale in kept.parent.glob(f"{bureau}-*.parquet"):
                if stale != kept:
                    stale.unlink(missing_ok=True)
    return pd.Series(
        owners["person_id"].to_numpy(dtype=np.int64),
        index=owners["consumer_id"].to_numpy(dtype=np.int64),
        name="person_id",
    )


def _traced_owners(engine: Engine, furnished: Path, truth: pd.DataFrame | None) -> pd.DataFrame:
    with engine.connect() as conn:
        consumers = read_frame(
            conn, select(Consumer.consumer_id, Consumer.source_file, Consumer.source_line)
        )
    if truth is None:
        truth = pd.read_parquet(furnished, columns=["file", "line", "identity_of"])
    traced = consumers.merge(
        truth[["file", "line", "identity_of"]],
        left_on=["source_file", "source_line"],
        right_on=["file", "line"],
        how="left",
    )
    return pd.DataFrame(
        {
            "consumer_id": traced["consumer_id"].to_numpy(dtype=np.int64),
            "person_id": traced["identity_of"].fillna(-1).to_numpy(dtype=np.int64),
        }
    )


def true_outcomes(world_dir: Path, snapshot: int) -> pd.DataFrame:
    """Every person's true outcome at a snapshot.

    Parameters
    ----------
    world_dir
        The run's ``world/`` directory.
    snapshot
        The snapshot month.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``person_id``: ``default_12m`` and ``in_default``.
    """
    table = read_table(
        world_dir / "outcomes",
        ["person_id", "default_12m", "in_default"],
        ds.field("snapshot_month") == snapshot,
    )
    return table.set_index("person_id")


def truth_performance(
    scores: pd.DataFrame, owners: pd.Series, outcomes: pd.DataFrame
) -> dict[str, float]:
    """Discrimination of a bureau's scores against the true outcomes of the persons scored.

    Parameters
    ----------
    scores
        ``consumer_id``, ``pd`` and ``in_default`` (the bureau's view) at the snapshot.
    owners
        :func:`file_owners`.
    outcomes
        :func:`true_outcomes` at the same snapshot.

    Returns
    -------
    dict
        :func:`~bureau.analysis.metrics.discrimination` over the files the bureau would
        score (not in default in its own view), whose owner was not truly in default already.
    """
    person = owners.reindex(scores["consumer_id"].to_numpy()).fillna(-1).to_numpy(np.int64)
    truth = outcomes.reindex(person)
    keep = (
        (person >= 0)
        & ~scores["in_default"].to_numpy(dtype=bool)
        & ~truth["in_default"].fillna(True).to_numpy(dtype=bool)
    )
    return discrimination(
        truth["default_12m"].to_numpy()[keep].astype(bool), scores["pd"].to_numpy()[keep]
    )
