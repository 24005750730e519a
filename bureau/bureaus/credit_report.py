"""A consumer's credit report as one bureau holds it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select

from bureau.errors import BureauError
from bureau.formats.national_id import check_national_id
from bureau.store.credit_file import Consumer, Identifier, Inquiry, PublicRecord, Signal, Tradeline


class NotOnFile(BureauError):
    """No consumer of the bureau matches the identity asked for."""


def _frame(conn, statement) -> pd.DataFrame:
    return pd.read_sql(statement, conn)


@dataclass(frozen=True, eq=False)
class CreditReport:
    """The credit report(s) a bureau holds under an identity number, as tables.

    Every table but ``files`` carries the ``consumer_id`` of the file it belongs to: one
    number may reach several files (fragmentation) or a file mixing people.

    Attributes
    ----------
    national_id
        The identity number asked for.
    files
        ``consumer_id``, ``name``, ``national_id``, ``phone``: each file's identity.
    identifiers
        ``consumer_id``, ``kind``, ``value``: every identifier a file is reached by.
    tradelines
        The accounts on file, with the 24-month payment history.
    inquiries
        Who asked for the file, when, for what product, and whether they approved.
    public_records
        Court judgments, listings and penalties on file.
    platform_data
        ``consumer_id``, ``furnisher``, ``first_month``, ``last_month``, ``months``: the
        platform data held, summarised by furnisher.
    """

    national_id: str
    files: pd.DataFrame
    identifiers: pd.DataFrame
    tradelines: pd.DataFrame
    inquiries: pd.DataFrame
    public_records: pd.DataFrame
    platform_data: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values, one entry per file.

        Returns
        -------
        dict
            ``{"national_id": ..., "files": [...]}``; each file has the consumer's identity,
            their identifiers and their tradelines, inquiries, public records and platform
            data as lists of records.
        """
        files = []
        for person in self.files.itertuples(index=False):
            cid = person.consumer_id

            def rows(frame: pd.DataFrame, cid: int = cid) -> pd.DataFrame:
                return frame[frame["consumer_id"] == cid].drop(columns="consumer_id")

            names = rows(self.identifiers)
            records = rows(self.public_records)
            files.append(
                {
                    "consumer_id": int(cid),
                    "name": person.name,
                    "national_id": person.national_id,
                    "phone": person.phone,
                    "identifiers": sorted(
                        {f"{k}:{v}" for k, v in zip(names["kind"], names["value"], strict=True)}
                    ),
                    "tradelines": rows(self.tradelines).to_dict("records"),
                    "inquiries": rows(self.inquiries).to_dict("records"),
                    "public_records": records.astype(object)
                    .where(records.notna(), None)
                    .to_dict("records"),
                    "platform_data": rows(self.platform_data).to_dict("records"),
                }
            )
        return {"national_id": self.national_id, "files": files}

    def __repr__(self) -> str:
        return (
            f"<credit report under {self.national_id}: {len(self.files)} file(s), "
            f"{len(self.tradelines)} tradelines, {len(self.inquiries)} inquiries, "
            f"{len(self.public_records)} public records>"
        )


def credit_report(engine: Engine, national_id: str) -> CreditReport:
    """Return the credit report(s) a bureau holds under an identity number.

    A bureau may hold several files for one number (fragmentation, when other records of the
    person were matched elsewhere) or one file mixing people; all files reached through the
    number are returned.

    Parameters
    ----------
    engine
        The bureau's database.
    national_id
        The identity number asked for (spaces around it and a lower-case ``x`` forgiven).

    Returns
    -------
    CreditReport
        The files and their identifiers, tradelines (with the 24-month payment history),
        inquiries, public records and platform data, as tables.

    Raises
    ------
    bureau.errors.BureauError
        If the number is not a valid identity number (saying what is wrong with it).
    NotOnFile
        If no file is reached through the number.
    """
    national_id = check_national_id(national_id)
    with engine.connect() as conn:
        ids = conn.execute(
            select(Identifier.consumer_id)
            .where(Identifier.kind == "national_id", Identifier.value == national_id)
            .order_by(Identifier.consumer_id)
        ).scalars()
        consumer_ids = sorted(set(ids))
        if not consumer_ids:
            raise NotOnFile(f"no file under identity number {national_id}", field="national_id")
        files = _frame(
            conn,
            select(Consumer.consumer_id, Consumer.name, Consumer.national_id, Consumer.phone)
            .where(Consumer.consumer_id.in_(consumer_ids))
            .order_by(Consumer.consumer_id),
        )
        identifiers = _frame(
            conn,
            select(Identifier.consumer_id, Identifier.kind, Identifier.value)
            .where(Identifier.consumer_id.in_(consumer_ids))
            .order_by(Identifier.consumer_id, Identifier.kind, Identifier.value),
        )
        tradelines = _frame(
            conn,
            select(
                Tradeline.consumer_id,
                Tradeline.furnisher,
                Tradeline.account_ref,
                Tradeline.product,
                Tradeline.opened,
                Tradeline.term_months,
                Tradeline.amount,
                Tradeline.balance,
                Tradeline.status,
                Tradeline.last_month,
                Tradeline.payment_history,
            )
            .where(Tradeline.consumer_id.in_(consumer_ids))
            .order_by(
                Tradeline.consumer_id, Tradeline.opened, Tradeline.furnisher, Tradeline.account_ref
            ),
        )
        inquiries = _frame(
            conn,
            select(
                Inquiry.consumer_id,
                Inquiry.furnisher,
                Inquiry.product,
                Inquiry.month,
                Inquiry.approved,
            )
            .where(Inquiry.consumer_id.in_(consumer_ids))
            .order_by(Inquiry.consumer_id, Inquiry.month, Inquiry.furnisher),
        )
        records = _frame(
            conn,
            select(
                PublicRecord.consumer_id,
                PublicRecord.kind,
                PublicRecord.filed,
                PublicRecord.ended,
                PublicRecord.amount,
            )
            .where(PublicRecord.consumer_id.in_(consumer_ids))
            .order_by(PublicRecord.consumer_id, PublicRecord.filed),
        )
        signals = _frame(
            conn,
            select(Signal.consumer_id, Signal.furnisher, Signal.month).where(
                Signal.consumer_id.in_(consumer_ids)
            ),
        )
    platform = (
        signals.groupby(["consumer_id", "furnisher"])["month"]
        .agg(["min", "max", "count"])
        .rename(columns={"min": "first_month", "max": "last_month", "count": "months"})
        .reset_index()
    )
    return CreditReport(national_id, files, identifiers, tradelines, inquiries, records, platform)
