"""Tracing what a bureau holds back to the world it came from.

Every row a bureau loads keeps its provenance (feed file and line), and the truth written at
furnishing knows, for each furnished line, whose identity it carried, which person and world
row it was about, and which defect was injected into it. These functions join the two, so that
every measure against the truth (file accuracy, model performance, disputes, the aggregator's
gain) starts from the same links, without a bureau ever seeing a truth key.

The truth comes in as a table (the stage reads it, :mod:`bureau.pipeline.truth`); what a
bureau holds is read from its database by the ``read_*`` functions here, and traced by the
others, which read nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from bureau.store.bulk import read_frame
from bureau.store.credit_file import Consumer, PublicRecord, Tradeline

#: What :func:`trace` attaches to each loaded record.
TRACED = ("person_id", "truth_key", "defect", "identity_of")
#: The columns of a bureau's furnished truth that :func:`trace` joins on and attaches.
TRUTH_COLUMNS = ("file", "line", *TRACED)
#: The columns of a bureau's furnished truth that :func:`file_owners` needs.
OWNER_COLUMNS = ("file", "line", "identity_of")


def trace(
    frame: pd.DataFrame, truth: pd.DataFrame, columns: tuple[str, ...] = TRACED
) -> pd.DataFrame:
    """Attach the true person, world key and record-level defect to loaded records.

    Parameters
    ----------
    frame
        Loaded rows with their provenance (``source_file``, ``source_line``).
    truth
        The bureau's furnished truth: ``file``, ``line`` and ``columns``.
    columns
        The columns of ``truth`` to attach.

    Returns
    -------
    pandas.DataFrame
        ``frame`` with ``columns`` (by default ``person_id``, ``truth_key``, ``defect`` and
        ``identity_of``), missing where a row traces to no furnished line.
    """
    files = truth["file"]
    if isinstance(files.dtype, pd.CategoricalDtype):
        names, right = files.cat.categories, files.cat.codes.to_numpy(dtype=np.int64)
    else:
        codes, names = pd.factorize(files)
        right = codes.astype(np.int64)
    # Joined on the file's number rather than its name, a name being hashed once rather than
    # once per line. A name the truth does not know matches nothing; a missing one matches a
    # missing one, as in a join on names.
    left = names.get_indexer(frame["source_file"])
    left[(left < 0) & frame["source_file"].notna().to_numpy()] = -2
    # Only the lines of the files the rows come from can match them (the tradelines' files
    # are a small part of a bureau's truth): the join hashes those alone, in their order.
    wanted = np.isin(right, np.unique(left))
    return (
        frame.assign(_file=left)
        .merge(
            truth.loc[wanted, ["line", *columns]].assign(_file=right[wanted]),
            left_on=["_file", "source_line"],
            right_on=["_file", "line"],
            how="left",
        )
        .drop(columns=["_file", "line"])
    )


def read_consumers(engine: Engine) -> pd.DataFrame:
    """A bureau's consumer files with the provenance of the record that created each.

    Parameters
    ----------
    engine
        The bureau's database.

    Returns
    -------
    pandas.DataFrame
        ``consumer_id``, ``source_file``, ``source_line``.
    """
    with engine.connect() as conn:
        return read_frame(
            conn, select(Consumer.consumer_id, Consumer.source_file, Consumer.source_line)
        )


def file_owners(consumers: pd.DataFrame, truth: pd.DataFrame) -> pd.Series:
    """The person behind each of a bureau's consumer files.

    Parameters
    ----------
    consumers
        :func:`read_consumers`.
    truth
        The bureau's furnished truth (:data:`OWNER_COLUMNS` at least).

    Returns
    -------
    pandas.Series
        ``person_id`` indexed by ``consumer_id``: the person whose identity the record that
        created the file carried (-1 when it traces to no furnished line).
    """
    traced = trace(consumers, truth, ("identity_of",))
    return pd.Series(
        traced["identity_of"].fillna(-1).to_numpy(dtype=np.int64),
        index=traced["consumer_id"].to_numpy(dtype=np.int64),
        name="person_id",
    )


def read_item_provenance(engine: Engine) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The accounts and public records a bureau holds, with their provenance.

    Parameters
    ----------
    engine
        The bureau's database.

    Returns
    -------
    tuple of pandas.DataFrame
        Tradelines (``furnisher``, ``account_ref``, ``source_file``, ``source_line``) and
        public records (``furnisher``, ``record_ref``, ``source_file``, ``source_line``).
    """
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
    return lines, records


def item_truth(
    lines: pd.DataFrame, records: pd.DataFrame, truth: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The world row behind each account and public record a bureau holds.

    Parameters
    ----------
    lines, records
        :func:`read_item_provenance`.
    truth
        The bureau's furnished truth (:data:`TRUTH_COLUMNS`).

    Returns
    -------
    tuple of pandas.DataFrame
        Accounts: ``furnisher``, ``account_ref``, ``account_id``, ``account_person``;
        records: ``furnisher``, ``record_ref``, ``record_id``, ``record_person``, ``wrongful``
        (filed against someone it is not about).
    """
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
        ``bureau``, ``consumer_id``, ``person_id`` (see :func:`file_owners`).
    accounts, records
        The accounts and public records it holds, as :func:`item_truth` returns them.
    """

    owners: pd.DataFrame
    accounts: pd.DataFrame
    records: pd.DataFrame


def bureau_truth(
    bureau: str,
    owners: pd.Series,
    lines: pd.DataFrame,
    records: pd.DataFrame,
    truth: pd.DataFrame,
) -> BureauTruth:
    """Trace one bureau's files and items to the truth (its part of the aggregator's measure).

    Parameters
    ----------
    bureau
        The bureau.
    owners
        :func:`file_owners` of the bureau.
    lines, records
        :func:`read_item_provenance` of the bureau.
    truth
        The bureau's furnished truth (:data:`TRUTH_COLUMNS`).

    Returns
    -------
    BureauTruth
        Its files' owners and its items' world rows.
    """
    table = owners.rename_axis("consumer_id").reset_index().assign(bureau=bureau)
    accounts, held = item_truth(lines, records, truth)
    return BureauTruth(table[["bureau", "consumer_id", "person_id"]], accounts, held)
