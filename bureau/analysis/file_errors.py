"""Errors on a bureau's files item by item, as a consumer reading their report would see them.

At a snapshot a file shows the last 24 months of each account, and the public records in
force. Traced to the truth, an item is wrong when:

- ``status``: a month's status differs from what the account truly was that month;
- ``account``: the account is another person's;
- ``public_record``: the record is wrongful, or about another person.

Each error has a severity, from the consumer's side: ``severe`` (a wrongful public record, a
default shown that is not theirs), ``moderate`` (a lesser delinquency that is not theirs),
``mild`` (another person's account in good standing) or ``favourable`` (the file shows them
better than they are).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from bureau.analysis.file_accuracy import STATUS_CODES
from bureau.analysis.provenance import trace
from bureau.formats.history import HISTORY_MONTHS, status_levels
from bureau.store.bulk import read_frame
from bureau.store.corrections import InForce
from bureau.store.credit_file import PublicRecord, Tradeline
from bureau.store.reports import in_force, monthly_reports

ERROR_COLUMNS = (
    "consumer_id",
    "item",
    "furnisher",
    "ref",
    "month",
    "shown",
    "claimed",
    "severity",
    "appeared",
)


def _severity_of_level(level: np.ndarray) -> np.ndarray:
    return np.where(level >= 4, "severe", np.where(level >= 1, "moderate", "mild"))


@dataclass(frozen=True)
class FileItems:
    """A bureau's accounts, their monthly reports and its public records, traced to the truth.

    Read once for every snapshot :func:`item_errors` is asked about (:func:`read_items`),
    as they had arrived by the last, then traced (:func:`trace_items`).
    """

    #: Every tradeline; traced, with its true account and person and ``owner``, the file's
    #: person.
    lines: pd.DataFrame
    #: Monthly reports in the window of any of the snapshots, every delivery of each (a
    #: furnisher's correction beside the first report), as :func:`monthly_reports` gives them.
    months: pd.DataFrame
    #: Public records filed and arrived by the last snapshot; traced, with ``owner``.
    records: pd.DataFrame


def read_items(engine: Engine, snapshots: Sequence[int]) -> FileItems:
    """Read what a bureau's files held, for the errors at each of some snapshots.

    Parameters
    ----------
    engine
        The bureau's database.
    snapshots
        The months the files will be read as of.

    Returns
    -------
    FileItems
        The rows every one of those snapshots shows, as furnished (corrections are applied
        per snapshot by :func:`item_errors`), not traced yet (:func:`trace_items`).
    """
    first, last = min(snapshots), max(snapshots)
    with engine.connect() as conn:
        lines = read_frame(
            conn,
            select(
                Tradeline.tradeline_id,
                Tradeline.consumer_id,
                Tradeline.furnisher,
                Tradeline.account_ref,
                Tradeline.source_file,
                Tradeline.source_line,
            ),
        )
        months = monthly_reports(
            conn,
            last,
            ("tradeline_id", "month", "status", "arrival"),
            first_month=first - HISTORY_MONTHS + 1,
            last_month=last,
            every_delivery=True,
        )
        records = read_frame(
            conn,
            select(
                PublicRecord.public_record_id,
                PublicRecord.consumer_id,
                PublicRecord.furnisher,
                PublicRecord.record_ref,
                PublicRecord.ended,
                PublicRecord.arrival,
                PublicRecord.filed,
                PublicRecord.source_file,
                PublicRecord.source_line,
            ).where(PublicRecord.arrival <= last, PublicRecord.filed <= last),
        )
    return FileItems(lines, months, records)


def trace_items(items: FileItems, truth: pd.DataFrame, owner: pd.Series) -> FileItems:
    """Trace a bureau's items to the truth, each with the person its file is about.

    Parameters
    ----------
    items
        :func:`read_items`.
    truth
        The bureau's furnished truth (:data:`~bureau.analysis.provenance.TRUTH_COLUMNS`).
    owner
        The person behind each of its files
        (:func:`~bureau.analysis.provenance.file_owners`).

    Returns
    -------
    FileItems
        The same rows, with the :data:`~bureau.analysis.provenance.TRACED` columns and
        ``owner``.
    """
    lines = trace(items.lines, truth)
    lines["owner"] = owner.reindex(lines["consumer_id"].to_numpy()).fillna(-1).to_numpy(np.int64)
    records = trace(items.records, truth)
    records["owner"] = owner.reindex(records["consumer_id"].to_numpy()).fillna(-1).to_numpy()
    return FileItems(lines, items.months, records)


def item_errors(
    items: FileItems,
    fixes: InForce,
    account_months: pd.Series,
    wrongful_world: set[int],
    snapshot: int,
) -> pd.DataFrame:
    """Every wrong item on a bureau's files as they read at a snapshot (corrections applied).

    Parameters
    ----------
    items
        Its files' items (:func:`trace_items`, with this snapshot among those read).
    fixes
        The corrections in force at the snapshot
        (:func:`~bureau.store.corrections.corrections_as_of`).
    account_months
        The world's status code per ``(account_id, month)``.
    wrongful_world
        World public record ids that are wrongful.
    snapshot
        The month the files are read as of.

    Returns
    -------
    pandas.DataFrame
        :data:`ERROR_COLUMNS`: the file, the item (``status``, ``account``,
        ``public_record``), its furnisher and account or record number, the month (for a
        status; -1 otherwise), what the file shows and what is true, the severity, and the
        month the wrong row arrived. Sorted by file, item, number and month.
    """
    months = in_force(items.months, snapshot)
    months = months[
        (months["month"].to_numpy() <= snapshot)
        & (months["month"].to_numpy() > snapshot - HISTORY_MONTHS)
    ]
    months = fixes.months(months)
    lines = items.lines[~items.lines["tradeline_id"].isin(fixes.removed_tradelines)]
    shown = months.merge(
        lines[
            [
                "tradeline_id",
                "consumer_id",
                "furnisher",
                "account_ref",
                "truth_key",
                "person_id",
                "owner",
            ]
        ],
        on="tradeline_id",
    )
    shown["level"] = status_levels(shown["status"])

    # Another person's account: the file's owner disputes the account itself.
    foreign = (shown["person_id"].fillna(-1) >= 0) & (shown["person_id"] != shown["owner"])
    accounts = (
        shown[foreign.to_numpy()]
        .groupby(["consumer_id", "furnisher", "account_ref"], as_index=False)
        .agg(level=("level", "max"), appeared=("arrival", "min"))
    )
    account_errors = pd.DataFrame(
        {
            "consumer_id": accounts["consumer_id"].to_numpy(),
            "item": "account",
            "furnisher": accounts["furnisher"].to_numpy(),
            "ref": accounts["account_ref"].to_numpy(),
            "month": -1,
            "shown": "on file",
            "claimed": "not mine",
            "severity": _severity_of_level(accounts["level"].to_numpy()),
            "appeared": accounts["appeared"].to_numpy(),
        }
    )

    own = shown[~foreign.to_numpy()]
    truth_code = account_months.reindex(
        pd.MultiIndex.from_arrays(
            [
                own["truth_key"].fillna(-1).to_numpy(dtype=np.int64),
                own["month"].to_numpy(dtype=np.int64),
            ]
        )
    ).to_numpy()
    known = ~np.isnan(truth_code)
    true_status = np.full(len(own), "", dtype=object)
    true_status[known] = STATUS_CODES[truth_code[known].astype(int)]
    wrong = known & (true_status != own["status"].astype(str).to_numpy())
    bad = own[wrong]
    true_level = status_levels(true_status[wrong])
    worse = bad["level"].to_numpy() > true_level
    status_errors = pd.DataFrame(
        {
            "consumer_id": bad["consumer_id"].to_numpy(),
            "item": "status",
            "furnisher": bad["furnisher"].to_numpy(),
            "ref": bad["account_ref"].to_numpy(),
            "month": bad["month"].to_numpy(dtype=np.int64),
            "shown": bad["status"].astype(str).to_numpy(),
            "claimed": true_status[wrong],
            "severity": np.where(
                worse, np.where(bad["level"].to_numpy() >= 4, "severe", "moderate"), "favourable"
            ),
            "appeared": bad["arrival"].to_numpy(),
        }
    )

    records = items.records
    records = records[
        (records["arrival"].to_numpy() <= snapshot)
        & (records["filed"].to_numpy() <= snapshot)
        & ~records["public_record_id"].isin(fixes.removed_records).to_numpy()
    ]
    ended = pd.to_numeric(records["ended"], errors="coerce").to_numpy(dtype=float)
    standing = ~(ended <= snapshot)
    wrongful = (
        (records["defect"] == "wrongful_record").to_numpy()
        | records["truth_key"].isin(wrongful_world).to_numpy()
        | (records["identity_of"].fillna(-1).to_numpy() != records["owner"].to_numpy())
    ) & standing
    held = records[wrongful]
    record_errors = pd.DataFrame(
        {
            "consumer_id": held["consumer_id"].to_numpy(),
            "item": "public_record",
            "furnisher": held["furnisher"].to_numpy(),
            "ref": held["record_ref"].to_numpy(),
            "month": -1,
            "shown": "on file",
            "claimed": "not mine",
            "severity": "severe",
            "appeared": held["arrival"].to_numpy(),
        }
    )
    errors = pd.concat([status_errors, account_errors, record_errors], ignore_index=True)
    errors = errors.astype({"consumer_id": np.int64, "month": np.int64, "appeared": np.int64})
    return errors.sort_values(
        ["consumer_id", "item", "furnisher", "ref", "month"], ignore_index=True
    )[list(ERROR_COLUMNS)]
