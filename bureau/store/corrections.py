"""Reading a credit file as of a month, with the corrections in force by then.

A dispute that the bureau upholds writes a :class:`~bureau.store.credit_file.Correction`
rather than changing the rows it corrects, so the file can be read as it stood at any month:
before the correction's ``effective`` month it shows what was furnished, from then on the
corrected status, without the account or record taken off. Features, submissions and the
measures of accuracy all read through :func:`corrections_as_of`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Connection, select

from bureau.store.bulk import read_frame
from bureau.store.credit_file import Correction


@dataclass(frozen=True)
class InForce:
    """The corrections in force at a month.

    Attributes
    ----------
    statuses
        ``tradeline_id``, ``month``, ``status``: monthly statuses replaced.
    removed_tradelines, removed_records
        Ids of accounts and public records taken off the file.
    """

    statuses: pd.DataFrame
    removed_tradelines: np.ndarray
    removed_records: np.ndarray

    @classmethod
    def nothing(cls) -> InForce:
        """No corrections at all."""
        empty = np.array([], dtype=np.int64)
        statuses = pd.DataFrame(
            {"tradeline_id": empty, "month": empty, "status": empty.astype(str)}
        )
        return cls(statuses, empty, empty)

    @property
    def empty(self) -> bool:
        """Whether there is no correction at all."""
        return (
            self.statuses.empty
            and self.removed_tradelines.size == 0
            and self.removed_records.size == 0
        )

    def fingerprint(self) -> str:
        """A digest of these corrections: equal for the same corrections, whatever their order.

        Returns
        -------
        str
            16 hexadecimal digits.
        """
        statuses = self.statuses.sort_values(["tradeline_id", "month"])
        digest = hashlib.sha256()
        digest.update(statuses.to_csv(index=False).encode("utf-8"))
        for ids in (self.removed_tradelines, self.removed_records):
            digest.update(b"|" + np.unique(ids).astype(np.int64).tobytes())
        return digest.hexdigest()[:16]

    def plus(self, other: InForce) -> InForce:
        """These corrections and another set together; where both replace a status, ``other``'s.

        Parameters
        ----------
        other
            The corrections added.

        Returns
        -------
        InForce
            Both sets.
        """
        return InForce(
            statuses=pd.concat([self.statuses, other.statuses], ignore_index=True).drop_duplicates(
                ["tradeline_id", "month"], keep="last"
            ),
            removed_tradelines=np.union1d(self.removed_tradelines, other.removed_tradelines),
            removed_records=np.union1d(self.removed_records, other.removed_records),
        )

    def months(self, months: pd.DataFrame) -> pd.DataFrame:
        """Monthly reports as corrected: replaced statuses, removed accounts left out.

        Parameters
        ----------
        months
            ``tradeline_id``, ``month``, ``status`` (and any other columns), in any order.

        Returns
        -------
        pandas.DataFrame
            The same rows in the same order, less the removed accounts' rows.
        """
        kept = months[~months["tradeline_id"].isin(self.removed_tradelines)]
        if self.statuses.empty or kept.empty:
            return kept
        fixes = self.statuses.set_index(["tradeline_id", "month"])["status"]
        index = pd.MultiIndex.from_arrays(
            [kept["tradeline_id"].to_numpy(), kept["month"].to_numpy()]
        )
        fixed = fixes.reindex(index).to_numpy()
        hit = pd.notna(fixed)
        if not hit.any():
            return kept
        kept = kept.copy()
        status = kept["status"].astype(object).to_numpy(copy=True)
        status[hit] = fixed[hit]
        kept["status"] = status
        return kept


def corrections_as_of(conn: Connection, month: int) -> InForce:
    """The corrections of a bureau's file in force at a month.

    Parameters
    ----------
    conn
        A connection to the bureau's database.
    month
        The month the file is read as of.

    Returns
    -------
    InForce
        Replaced statuses and removed accounts and records.
    """
    rows = read_frame(
        conn,
        select(
            Correction.tradeline_id,
            Correction.public_record_id,
            Correction.month,
            Correction.action,
            Correction.status,
        ).where(Correction.effective <= month),
    )
    if rows.empty:
        return InForce.nothing()
    status = rows[rows["action"] == "status"]
    removed = rows[rows["action"] == "remove"]
    return InForce(
        statuses=pd.DataFrame(
            {
                "tradeline_id": status["tradeline_id"].to_numpy(dtype=np.int64),
                "month": status["month"].to_numpy(dtype=np.int64),
                "status": status["status"].astype(str).to_numpy(),
            }
        ).drop_duplicates(["tradeline_id", "month"], keep="last"),
        removed_tradelines=removed["tradeline_id"].dropna().to_numpy(dtype=np.int64),
        removed_records=removed["public_record_id"].dropna().to_numpy(dtype=np.int64),
    )
