"""A person's consolidated file: what the aggregator holds about them, field by field.

The person is found through an identity number: every submitted file carrying it leads to the
person keys of the linkage used for reconciliation, and those keys to every file linked with
them (under other numbers, or none). The consolidated file lists those files, each bureau's
score, the consensus probability of default, the consolidated tradelines and public records
with the bureau and rule behind every field, and the discrepancies found on them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select, tuple_

from bureau.errors import BureauError
from bureau.formats.national_id import check_national_id
from bureau.formats.schema import month_labels
from bureau.store.aggregator import (
    RECORD_FIELDS,
    TRADELINE_FIELDS,
    ConsensusScore,
    ConsolidatedPublicRecord,
    ConsolidatedTradeline,
    Discrepancy,
    PersonLink,
    Reconciliation,
    SubmittedIdentity,
    SubmittedScore,
)
from bureau.store.bulk import read_frame


class NotReconciled(BureauError):
    """The aggregator has no reconciliation yet, or knows no one under the number asked for."""


def _plain(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (numpy scalars to Python, missing to None)."""
    out = frame.astype(object).where(frame.notna(), None)
    return [
        {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
        for row in out.to_dict("records")
    ]


def _provenance(frame: pd.DataFrame, key: list[str], fields: tuple[str, ...]) -> list[dict]:
    """Each consolidated row as its key, who reported it, and its fields with provenance."""
    rows = []
    for row in _plain(frame):
        item = {k: row[k] for k in key}
        item["bureaus"] = row["bureaus"].split("+")
        if "history" in row:
            item["history"] = row["history"]
        item["fields"] = {
            name: {
                "value": row[name],
                "bureau": row[f"{name}_bureau"],
                "rule": row[f"{name}_rule"],
            }
            for name in fields
            if name != "person_key"
        }
        rows.append(item)
    return rows


def _pairs(files: pd.DataFrame) -> list[tuple[str, int]]:
    """``(bureau, consumer_id)`` of consumer files, as plain values for an IN list."""
    return [(str(b), int(c)) for b, c in zip(files["bureau"], files["consumer_id"], strict=True)]


def consolidated_file(
    engine: Engine, national_id: str, snapshot: int | None = None, *, start: dt.date | None = None
) -> ConsolidatedFile:
    """The consolidated file of the person(s) behind an identity number.

    Parameters
    ----------
    engine
        The aggregator's database, reconciled.
    national_id
        The identity number asked for.
    snapshot
        The snapshot; the latest reconciled when None.
    start
        The first day of month 0, to name months as ``YYYY-MM`` in errors (as numbers if None).

    Returns
    -------
    ConsolidatedFile
        The person keys found and, as DataFrames, their files, scores, consensus PD,
        consolidated tradelines and public records, and discrepancies.

    Raises
    ------
    bureau.errors.BureauError
        If the number is not a valid identity number (saying what is wrong with it).
    NotReconciled
        If nothing is reconciled, or no submitted file carries the number.
    """
    national_id = check_national_id(national_id)
    with engine.connect() as conn:
        done = read_frame(conn, select(Reconciliation).order_by(Reconciliation.snapshot))
        if done.empty or (done["sha256"] == "").any():
            raise NotReconciled("nothing reconciled yet: run bureau reconcile first")
        if snapshot is None:
            snapshot = int(done["snapshot"].max())
        elif snapshot not in set(done["snapshot"]):
            months = np.array([snapshot, *done["snapshot"]], dtype=np.int64)
            names = months.astype(str) if start is None else month_labels(start, months)
            raise NotReconciled(
                f"{names[0]} is not reconciled (months reconciled: {', '.join(names[1:])})",
                field="as_of",
            )
        method = str(done["method"].iloc[0])
        carriers = read_frame(
            conn,
            select(SubmittedIdentity.bureau, SubmittedIdentity.consumer_id)
            .where(SubmittedIdentity.national_id == national_id)
            .distinct(),
        )
        if carriers.empty:
            raise NotReconciled(
                f"no submitted file under identity number {national_id}", field="national_id"
            )
        # Every lookup goes through a key or an index: one person's report reads a few rows,
        # whatever the number of persons.
        keyed = read_frame(
            conn,
            select(PersonLink.person_key).where(
                PersonLink.method == method,
                tuple_(PersonLink.bureau, PersonLink.consumer_id).in_(_pairs(carriers)),
            ),
        )
        person_keys = sorted(int(k) for k in keyed["person_key"].unique())
        files = read_frame(
            conn,
            select(PersonLink.__table__).where(
                PersonLink.method == method, PersonLink.person_key.in_(person_keys)
            ),
        )
        identities = read_frame(
            conn,
            select(SubmittedIdentity.__table__).where(
                SubmittedIdentity.snapshot == snapshot,
                tuple_(SubmittedIdentity.bureau, SubmittedIdentity.consumer_id).in_(_pairs(files)),
            ),
        ).merge(files, on=["bureau", "consumer_id"])
        scores = read_frame(
            conn,
            select(SubmittedScore.__table__).where(
                SubmittedScore.snapshot == snapshot,
                tuple_(SubmittedScore.bureau, SubmittedScore.consumer_id).in_(_pairs(files)),
            ),
        ).merge(files, on=["bureau", "consumer_id"])
        consensus = read_frame(
            conn,
            select(ConsensusScore.person_key, ConsensusScore.pd).where(
                ConsensusScore.snapshot == snapshot,
                ConsensusScore.person_key.in_(person_keys),
            ),
        )
        lines = read_frame(
            conn,
            select(ConsolidatedTradeline.__table__)
            .where(
                ConsolidatedTradeline.snapshot == snapshot,
                ConsolidatedTradeline.person_key.in_(person_keys),
            )
            .order_by(ConsolidatedTradeline.furnisher, ConsolidatedTradeline.account_ref),
        )
        records = read_frame(
            conn,
            select(ConsolidatedPublicRecord.__table__)
            .where(
                ConsolidatedPublicRecord.snapshot == snapshot,
                ConsolidatedPublicRecord.person_key.in_(person_keys),
            )
            .order_by(ConsolidatedPublicRecord.furnisher, ConsolidatedPublicRecord.record_ref),
        )
        refs = list(lines["account_ref"].astype(str)) + list(records["record_ref"].astype(str))
        conflicts = read_frame(
            conn,
            select(Discrepancy.__table__)
            .where(Discrepancy.snapshot == snapshot, Discrepancy.ref.in_(refs))
            .order_by(Discrepancy.furnisher, Discrepancy.ref, Discrepancy.field),
        )
    return ConsolidatedFile(
        national_id=national_id,
        snapshot=snapshot,
        method=method,
        person_keys=person_keys,
        files=identities[["person_key", *FILE_COLUMNS]].reset_index(drop=True),
        scores=scores[["person_key", *SCORE_COLUMNS]].reset_index(drop=True),
        consensus=consensus.reset_index(drop=True),
        tradelines=lines.reset_index(drop=True),
        public_records=records.reset_index(drop=True),
        discrepancies=conflicts.reset_index(drop=True),
    )


FILE_COLUMNS = ("bureau", "consumer_id", "name", "national_id", "phone", "birth_month")
SCORE_COLUMNS = ("bureau", "consumer_id", "score", "pd", "in_default")
DISCREPANCY_COLUMNS = (
    *("item", "furnisher", "ref", "field", "kind"),
    *("values", "resolved", "bureau", "rule"),
)


@dataclass(frozen=True, eq=False)
class ConsolidatedFile:
    """What the aggregator holds about the person(s) behind an identity number.

    Each table carries the ``person_key`` of the person it is about (a number may lead to
    several persons, when linkage could not tell them apart or files mix people).

    Attributes
    ----------
    national_id
        The identity number asked for.
    snapshot
        The snapshot reconciled.
    method
        The linkage method whose person keys reconciliation used.
    person_keys
        The persons found, in order.
    files
        The bureaus' files linked to each person: bureau, consumer id, identity attributes.
    scores
        Each bureau's score and PD of its file.
    consensus
        ``person_key``, ``pd``: the aggregator's consensus probability of default.
    tradelines, public_records
        The consolidated items: each field, with the bureau (``<field>_bureau``) and the
        reconciliation rule (``<field>_rule``) behind it.
    discrepancies
        Where the bureaus disagreed on an item's field, and how it was resolved.
    """

    national_id: str
    snapshot: int
    method: str
    person_keys: list[int]
    files: pd.DataFrame
    scores: pd.DataFrame
    consensus: pd.DataFrame
    tradelines: pd.DataFrame
    public_records: pd.DataFrame
    discrepancies: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        """The consolidated file as JSON-ready values, one entry per person.

        Returns
        -------
        dict
            ``national_id``, ``snapshot``, ``method`` and ``persons``: for each person key,
            its ``files``, ``scores``, ``consensus_pd``, ``tradelines`` and
            ``public_records`` (each field with its value, bureau and rule) and
            ``discrepancies``.
        """
        pd_of = dict(zip(self.consensus["person_key"], self.consensus["pd"], strict=True))
        lines, records, conflicts = self.tradelines, self.public_records, self.discrepancies
        persons = []
        for key in self.person_keys:
            mine = lines[lines["person_key"] == key]
            held = records[records["person_key"] == key]
            refs_of = set(mine["account_ref"]) | set(held["record_ref"])
            persons.append(
                {
                    "person_key": key,
                    "files": _plain(
                        self.files[self.files["person_key"] == key][list(FILE_COLUMNS)]
                    ),
                    "scores": _plain(
                        self.scores[self.scores["person_key"] == key][list(SCORE_COLUMNS)]
                    ),
                    "consensus_pd": float(pd_of[key]) if key in pd_of else None,
                    "tradelines": _provenance(mine, ["furnisher", "account_ref"], TRADELINE_FIELDS),
                    "public_records": _provenance(held, ["furnisher", "record_ref"], RECORD_FIELDS),
                    "discrepancies": _plain(
                        conflicts[conflicts["ref"].isin(refs_of)][list(DISCREPANCY_COLUMNS)]
                    ),
                }
            )
        return {
            "national_id": self.national_id,
            "snapshot": self.snapshot,
            "method": self.method,
            "persons": persons,
        }

    def provenance(self, item: str = "tradelines") -> pd.DataFrame:
        """One row per consolidated field: its value and the bureau and rule behind it.

        Parameters
        ----------
        item
            ``tradelines`` or ``public_records``.

        Returns
        -------
        pandas.DataFrame
            ``person_key``, the item's key (``furnisher`` and ``account_ref`` or
            ``record_ref``), ``field``, ``value``, ``bureau``, ``rule``.
        """
        frame = self.tradelines if item == "tradelines" else self.public_records
        key = ["furnisher", "account_ref" if item == "tradelines" else "record_ref"]
        names = TRADELINE_FIELDS if item == "tradelines" else RECORD_FIELDS
        parts = [
            frame[["person_key", *key]].assign(
                field=name,
                value=frame[name].astype(object),
                bureau=frame[f"{name}_bureau"],
                rule=frame[f"{name}_rule"],
            )
            for name in names
            if name != "person_key"
        ]
        if not parts:
            return pd.DataFrame(columns=["person_key", *key, "field", "value", "bureau", "rule"])
        return pd.concat(parts, ignore_index=True).sort_values(
            ["person_key", *key], kind="stable", ignore_index=True
        )

    def __repr__(self) -> str:
        return (
            f"<consolidated file of {self.national_id} at month {self.snapshot}: "
            f"{len(self.person_keys)} person(s), {len(self.files)} files, "
            f"{len(self.tradelines)} tradelines, {len(self.discrepancies)} discrepancies>"
        )
