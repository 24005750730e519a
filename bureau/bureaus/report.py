"""A consumer's credit report as one bureau holds it."""

from __future__ import annotations

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


def credit_report(engine: Engine, national_id: str) -> dict[str, Any]:
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
    dict
        ``{"national_id": ..., "files": [...]}``; each file has the consumer's identity and
        their tradelines (with the 24-month payment history), inquiries, public records and
        a summary of the platform data held.

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
        files = []
        for cid in consumer_ids:
            person = conn.execute(
                select(Consumer.name, Consumer.national_id, Consumer.phone).where(
                    Consumer.consumer_id == cid
                )
            ).one()
            names = conn.execute(
                select(Identifier.kind, Identifier.value).where(Identifier.consumer_id == cid)
            ).all()
            tradelines = _frame(
                conn,
                select(
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
                .where(Tradeline.consumer_id == cid)
                .order_by(Tradeline.opened, Tradeline.furnisher, Tradeline.account_ref),
            )
            inquiries = _frame(
                conn,
                select(Inquiry.furnisher, Inquiry.product, Inquiry.month, Inquiry.approved)
                .where(Inquiry.consumer_id == cid)
                .order_by(Inquiry.month, Inquiry.furnisher),
            )
            records = _frame(
                conn,
                select(
                    PublicRecord.kind, PublicRecord.filed, PublicRecord.ended, PublicRecord.amount
                )
                .where(PublicRecord.consumer_id == cid)
                .order_by(PublicRecord.filed),
            )
            signals = _frame(
                conn,
                select(Signal.furnisher, Signal.month).where(Signal.consumer_id == cid),
            )
            files.append(
                {
                    "consumer_id": cid,
                    "name": person.name,
                    "national_id": person.national_id,
                    "phone": person.phone,
                    "identifiers": sorted({f"{kind}:{value}" for kind, value in names}),
                    "tradelines": tradelines.to_dict("records"),
                    "inquiries": inquiries.to_dict("records"),
                    "public_records": records.astype(object)
                    .where(records.notna(), None)
                    .to_dict("records"),
                    "platform_data": signals.groupby("furnisher")["month"]
                    .agg(["min", "max", "count"])
                    .rename(columns={"min": "first_month", "max": "last_month", "count": "months"})
                    .reset_index()
                    .to_dict("records"),
                }
            )
    return {"national_id": national_id, "files": files}
