"""A bureau's credit files in SQL: SQLAlchemy 2.0 typed models.

Every bureau has its own database (a SQLite file, or its own schema on PostgreSQL) with the same
tables. Months are integers (0 = the scenario's first month); amounts are whole fen.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite numbers rows itself only for an INTEGER PRIMARY KEY; BIGINT elsewhere.
AutoId = BigInteger().with_variant(Integer(), "sqlite")


class CreditFileBase(DeclarativeBase):
    """Declarative base of a bureau's tables (schema-less; mapped per bureau at connection)."""


class Consumer(CreditFileBase):
    """A consumer as the bureau knows them, under the bureau's own id."""

    __tablename__ = "consumers"

    consumer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(40))
    # Not indexed: a consumer is found by identity through ``identifiers``, never here.
    national_id: Mapped[str | None] = mapped_column(String(18))
    phone: Mapped[str | None] = mapped_column(String(11))
    birth_month: Mapped[str | None] = mapped_column(String(8))
    first_seen: Mapped[int] = mapped_column(SmallInteger)
    source_file: Mapped[str] = mapped_column(Text)
    source_line: Mapped[int] = mapped_column(Integer)


class Identifier(CreditFileBase):
    """Every identity value a consumer has been reported under (the keys of matching)."""

    __tablename__ = "identifiers"
    # The unique key's index also serves matching's lookups by (kind, value), its prefix: a
    # second index on the prefix alone doubled the cost of loading identifiers.
    __table_args__ = (UniqueConstraint("kind", "value", "consumer_id"),)

    identifier_id: Mapped[int] = mapped_column(AutoId, primary_key=True)
    consumer_id: Mapped[int] = mapped_column(ForeignKey("consumers.consumer_id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(64))


class Tradeline(CreditFileBase):
    """One account as the bureau holds it: its latest state and a 24-month payment history."""

    __tablename__ = "tradelines"
    __table_args__ = (UniqueConstraint("furnisher", "account_ref"),)

    tradeline_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    consumer_id: Mapped[int] = mapped_column(ForeignKey("consumers.consumer_id"), index=True)
    furnisher: Mapped[str] = mapped_column(String(20))
    account_ref: Mapped[str] = mapped_column(String(24))
    product: Mapped[str] = mapped_column(String(16))
    opened: Mapped[int] = mapped_column(SmallInteger)
    term_months: Mapped[int] = mapped_column(SmallInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
    balance: Mapped[int] = mapped_column(BigInteger)
    payment: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(1))
    last_month: Mapped[int] = mapped_column(SmallInteger)
    last_arrival: Mapped[int] = mapped_column(SmallInteger)
    payment_history: Mapped[str] = mapped_column(String(24))
    source_file: Mapped[str] = mapped_column(Text)
    source_line: Mapped[int] = mapped_column(Integer)


class TradelineMonth(CreditFileBase):
    """The first report of an account-month, kept with the month it arrived in (as-of views).

    A later month's delivery that reports the account-month again with other values does not
    change it: it is a :class:`TradelineRevision`.
    """

    __tablename__ = "tradeline_months"
    # Rows live in their primary-key B-tree: one tree to update per insert instead of two.
    __table_args__ = ({"sqlite_with_rowid": False},)

    tradeline_id: Mapped[int] = mapped_column(
        ForeignKey("tradelines.tradeline_id"), primary_key=True
    )
    month: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    arrival: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(String(1))
    balance: Mapped[int] = mapped_column(BigInteger)
    payment: Mapped[int] = mapped_column(BigInteger)


class TradelineRevision(CreditFileBase):
    """A furnisher's correction of an account-month: a report of it in a later delivery.

    The first report stays as it arrived; read as of a month, an account-month shows the last
    report that had arrived by then (see :mod:`bureau.store.reports`).
    """

    __tablename__ = "tradeline_revisions"
    __table_args__ = ({"sqlite_with_rowid": False},)

    tradeline_id: Mapped[int] = mapped_column(
        ForeignKey("tradelines.tradeline_id"), primary_key=True
    )
    month: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    arrival: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    status: Mapped[str] = mapped_column(String(1))
    balance: Mapped[int] = mapped_column(BigInteger)
    payment: Mapped[int] = mapped_column(BigInteger)


class Inquiry(CreditFileBase):
    """A credit application reported by a lender."""

    __tablename__ = "inquiries"
    __table_args__ = (UniqueConstraint("furnisher", "inquiry_ref"),)

    inquiry_id: Mapped[int] = mapped_column(AutoId, primary_key=True)
    consumer_id: Mapped[int] = mapped_column(ForeignKey("consumers.consumer_id"), index=True)
    furnisher: Mapped[str] = mapped_column(String(20))
    inquiry_ref: Mapped[str] = mapped_column(String(24))
    product: Mapped[str] = mapped_column(String(16))
    month: Mapped[int] = mapped_column(SmallInteger)
    approved: Mapped[bool] = mapped_column(Boolean)
    arrival: Mapped[int] = mapped_column(SmallInteger)
    source_file: Mapped[str] = mapped_column(Text)
    source_line: Mapped[int] = mapped_column(Integer)


class PublicRecord(CreditFileBase):
    """A court judgment, dishonest-debtor listing or administrative penalty."""

    __tablename__ = "public_records"
    __table_args__ = (UniqueConstraint("furnisher", "record_ref"),)

    public_record_id: Mapped[int] = mapped_column(AutoId, primary_key=True)
    consumer_id: Mapped[int] = mapped_column(ForeignKey("consumers.consumer_id"), index=True)
    furnisher: Mapped[str] = mapped_column(String(20))
    record_ref: Mapped[str] = mapped_column(String(24))
    kind: Mapped[str] = mapped_column(String(16))
    filed: Mapped[int] = mapped_column(SmallInteger)
    ended: Mapped[int | None] = mapped_column(SmallInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
    arrival: Mapped[int] = mapped_column(SmallInteger)
    source_file: Mapped[str] = mapped_column(Text)
    source_line: Mapped[int] = mapped_column(Integer)


class Signal(CreditFileBase):
    """A platform's monthly data on one of its members."""

    __tablename__ = "signals"
    __table_args__ = ({"sqlite_with_rowid": False},)

    consumer_id: Mapped[int] = mapped_column(ForeignKey("consumers.consumer_id"), primary_key=True)
    furnisher: Mapped[str] = mapped_column(String(20), primary_key=True)
    month: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    arrival: Mapped[int] = mapped_column(SmallInteger)
    ecommerce_spend: Mapped[int | None] = mapped_column(BigInteger)
    ecommerce_returns: Mapped[int | None] = mapped_column(Integer)
    payment_volume: Mapped[int | None] = mapped_column(BigInteger)
    utility_on_time: Mapped[bool | None] = mapped_column(Boolean)
    phone_bill_on_time: Mapped[bool | None] = mapped_column(Boolean)
    social_activity: Mapped[int | None] = mapped_column(Integer)
    gaming_minutes: Mapped[int | None] = mapped_column(Integer)
    address_changed: Mapped[bool | None] = mapped_column(Boolean)


class Contact(CreditFileBase):
    """An entry of a consumer's contact list on a messaging platform: whom they are in touch with.

    The contact is known only by phone number; a bureau links it to its own consumers by that
    number when it computes social features.
    """

    __tablename__ = "contacts"
    __table_args__ = ({"sqlite_with_rowid": False},)

    consumer_id: Mapped[int] = mapped_column(ForeignKey("consumers.consumer_id"), primary_key=True)
    furnisher: Mapped[str] = mapped_column(String(20), primary_key=True)
    contact_phone: Mapped[str] = mapped_column(String(11), primary_key=True)
    month: Mapped[int] = mapped_column(SmallInteger)
    arrival: Mapped[int] = mapped_column(SmallInteger)


class LoadedFile(CreditFileBase):
    """A feed file loaded whole, recorded by content hash so a second load changes nothing."""

    __tablename__ = "loaded_files"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    file: Mapped[str] = mapped_column(Text)
    arrival: Mapped[int] = mapped_column(SmallInteger)
    record_type: Mapped[str] = mapped_column(String(16))
    rows_read: Mapped[int] = mapped_column(Integer)
    rows_loaded: Mapped[int] = mapped_column(Integer)
    rows_rejected: Mapped[int] = mapped_column(Integer)


class Reject(CreditFileBase):
    """A record refused by validation (or a field dropped), with the rule and the raw text."""

    __tablename__ = "rejects"

    reject_id: Mapped[int] = mapped_column(AutoId, primary_key=True)
    # Read whole (file accuracy counts them all): an index would only slow the loads.
    file: Mapped[str] = mapped_column(Text)
    line: Mapped[int] = mapped_column(Integer)
    rule_id: Mapped[str] = mapped_column(String(8))
    field: Mapped[str | None] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(16))


class Dispute(CreditFileBase):
    """A consumer's dispute of an item on their file, and the bureau's answer.

    ``item`` is ``status`` (the status of one month of an account), ``account`` (an account
    that is not the consumer's) or ``public_record`` (a record that is not about them); ``ref``
    is the account or record number, ``month`` the month disputed (for a status).
    """

    __tablename__ = "disputes"

    dispute_ref: Mapped[str] = mapped_column(String(24), primary_key=True)
    consumer_id: Mapped[int] = mapped_column(ForeignKey("consumers.consumer_id"), index=True)
    item: Mapped[str] = mapped_column(String(16))
    furnisher: Mapped[str] = mapped_column(String(20))
    ref: Mapped[str] = mapped_column(String(24))
    month: Mapped[int | None] = mapped_column(SmallInteger)
    shown: Mapped[str] = mapped_column(String(16))
    claimed: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(12))
    filed: Mapped[int] = mapped_column(SmallInteger)
    resolved: Mapped[int] = mapped_column(SmallInteger)
    outcome: Mapped[str] = mapped_column(String(12))


class Correction(CreditFileBase):
    """A change a dispute made to the file, in force from month ``effective``.

    Nothing is overwritten: reading the file as of a month applies the corrections in force
    by then (a status replaced, an account or record taken off the file), so every earlier
    view stays as it was.
    """

    __tablename__ = "corrections"

    dispute_ref: Mapped[str] = mapped_column(ForeignKey("disputes.dispute_ref"), primary_key=True)
    tradeline_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    public_record_id: Mapped[int | None] = mapped_column(BigInteger)
    month: Mapped[int | None] = mapped_column(SmallInteger)
    action: Mapped[str] = mapped_column(String(8))
    status: Mapped[str | None] = mapped_column(String(1))
    effective: Mapped[int] = mapped_column(SmallInteger)
