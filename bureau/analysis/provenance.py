"""Tracing what a bureau holds back to the world it came from.

Every row a bureau loads keeps its provenance (feed file and line), and the truth written at
furnishing knows, for each furnished line, whose identity it carried, which person and world
row it was about, and which defect was injected into it. These functions join the two, so that
every measure against the truth (file accuracy, model performance, disputes, the aggregator's
gain) starts from the same links, without a bureau ever seeing a truth key.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select

from bureau.store.bulk import read_frame
from bureau.store.credit_file import Consumer, PublicRecord, Tradeline
from bureau.store.parquet import write_table

#: What :func:`trace` attaches to each loaded record.
TRACED = ("person_id", "truth_key", "defect", "identity_of")


def read_truth(truth_dir: Path, bureau: str, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read the truth about a bureau's furnished records, as much as :func:`trace` needs.

    Parameters
    ----------
    truth_dir
        The run's ``truth/`` directory.
    bureau
        The bureau.
    extra
        Further columns of ``truth/furnished/<bureau>.parquet`` to read.

    Returns
    -------
    pandas.DataFrame
        ``file``, ``line``, the :data:`TRACED` columns and ``extra``.
    """
    columns = ["file", "line", *TRACED, *extra]
    return pd.read_parquet(truth_dir / "furnished" / f"{bureau}.parquet", columns=columns)


def trace(
    frame: pd.DataFrame, truth: pd.DataFrame, columns: tuple[str, ...] = TRACED
) -> pd.DataFrame:
    """Attach the true person, world key and record-level defect to loaded records.

    Parameters
    ----------
    frame
        Loaded rows with their provenance (``source_file``, ``source_line``).
    truth
        The bureau's ``truth/furnished`` table (:func:`read_truth`).
    columns
        The columns of ``truth`` to attach.

    Returns
    -------
    pandas.DataFrame
        ``frame`` with ``columns`` (by default ``person_id``, ``truth_key``, ``defect`` and
        ``identity_of``), missing where a row traces to no furnished line.
    """
    return frame.merge(
        truth[["file", "line", *columns]],
        left_on=["source_file", "source_line"],
        right_on=["file", "line"],
        how="left",
    ).drop(columns=["file", "line"])


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
    traced = trace(consumers, truth, ("identity_of",))
    return pd.DataFrame(
        {
            "consumer_id": traced["consumer_id"].to_numpy(dtype=np.int64),
            "person_id": traced["identity_of"].fillna(-1).to_numpy(dtype=np.int64),
        }
    )


def item_truth(engine: Engine, truth_dir: Path, bureau: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The world row behind each account and public record a bureau holds.

    Parameters
    ----------
    engine
        The bureau's database.
    truth_dir
        The run's ``truth/`` directory.
    bureau
        The bureau.

    Returns
    -------
    tuple of pandas.DataFrame
        Accounts: ``furnisher``, ``account_ref``, ``account_id``, ``account_person``;
        records: ``furnisher``, ``record_ref``, ``record_id``, ``record_person``, ``wrongful``
        (filed against someone it is not about).
    """
    truth = read_truth(truth_dir, bureau)
    with engine.connect() as conn:
        lines = read_frame(
            conn,
            select(
                Tradeline.furnisher,
                Tradeline.account_ref,
                Tradeline.source_file,
                Tradeline.source_line,
            ),
        )
        records = read_frame(
            conn,
            select(
                PublicRecord.furnisher,
                PublicRecord.record_ref,
                PublicRecord.source_file,
                PublicRecord.source_line,
            ),
        )
    lines = trace(lines, truth)
    records = trace(records, truth)
    accounts = pd.DataFrame(
        {
            "furnisher": lines["furnisher"].astype(str).to_numpy(),
            "account_ref": lines["account_ref"].astype(str).to_numpy(),
            "account_id": lines["truth_key"].fillna(-1).to_numpy(dtype=np.int64),
            "account_person": lines["person_id"].fillna(-1).to_numpy(dtype=np.int64),
        }
    )
    held = pd.DataFrame(
        {
            "furnisher": records["furnisher"].astype(str).to_numpy(),
            "record_ref": records["record_ref"].astype(str).to_numpy(),
            "record_id": records["truth_key"].fillna(-1).to_numpy(dtype=np.int64),
            "record_person": records["identity_of"].fillna(-1).to_numpy(dtype=np.int64),
            "wrongful": (records["defect"] == "wrongful_record").to_numpy(),
        }
    )
    return accounts, held


@dataclass(frozen=True)
class BureauTruth:
    """Whose each of a bureau's files is, and the world row behind each item it holds.

    Attributes
    ----------
    owners
        ``bureau``, ``consumer_id``, ``person_id`` (see
        :func:`~bureau.analysis.provenance.file_owners`).
    accounts, records
        The accounts and public records it holds, as :func:`item_truth` returns them.
    """

    owners: pd.DataFrame
    accounts: pd.DataFrame
    records: pd.DataFrame


def bureau_truth(engine: Engine, truth_dir: Path, bureau: str) -> BureauTruth:
    """Trace one bureau's files and items to the truth (its part of the aggregator's measure).

    Parameters
    ----------
    engine
        The bureau's database.
    truth_dir
        The run's ``truth/`` directory.
    bureau
        The bureau.

    Returns
    -------
    BureauTruth
        Its files' owners and its items' world rows.
    """
    owners = (
        file_owners(engine, truth_dir, bureau)
        .rename_axis("consumer_id")
        .reset_index()
        .assign(bureau=bureau)[["bureau", "consumer_id", "person_id"]]
    )
    accounts, records = item_truth(engine, truth_dir, bureau)
    return BureauTruth(owners, accounts, records)
