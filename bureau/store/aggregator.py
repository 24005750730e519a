"""The aggregator's database: what the bureaus submitted, and what the aggregator made of it.

The aggregator sees nothing but submissions: at each snapshot every bureau sends the identities
it holds, its tradelines and public records (each with its furnisher and last reported month)
and its scores, under its own consumer ids. Linkage turns those ids into the aggregator's person
keys; reconciliation settles each account reported by several bureaus into one consolidated
tradeline whose every field names the bureau it came from and the rule that chose it.
Months are integers (0 = the scenario's first month); amounts are whole fen.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Float, Integer, SmallInteger, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bureau.store.credit_file import AutoId

#: The fields of a tradeline that reconciliation settles, each kept with its provenance.
TRADELINE_FIELDS = (
    "person_key",
    "product",
    "opened",
    "amount",
    "balance",
    "status",
    "last_month",
    "history",
)
#: The same for public records.
RECORD_FIELDS = ("person_key", "kind", "filed", "ended", "amount")


class AggregatorBase(DeclarativeBase):
    """Declarative base of the aggregator's tables."""


class Submission(AggregatorBase):
    """One bureau's submission at one snapshot: its content hash and what it held."""

    __tablename__ = "submissions"

    snapshot: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    bureau: Mapped[str] = mapped_column(String(40), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    identities: Mapped[int] = mapped_column(Integer)
    tradelines: Mapped[int] = mapped_column(Integer)
    public_records: Mapped[int] = mapped_column(Integer)
    scores: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)


class SubmittedIdentity(AggregatorBase):
    """A consumer as a bureau reported them: its own id and the identity attributes it holds."""

    __tablename__ = "submitted_identities"
    __table_args__ = ({"sqlite_with_rowid": False},)

    snapshot: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    bureau: Mapped[str] = mapped_column(String(40), primary_key=True)
    consumer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(40))
    national_id: Mapped[str | None] = mapped_column(String(18))
    phone: Mapped[str | None] = mapped_column(String(11))
    birth_month: Mapped[str | None] = mapped_column(String(8))


class SubmittedTradeline(AggregatorBase):
    """An account as one bureau held it at the snapshot.

    ``direct`` says the bureau received it from the furnisher itself rather than through
    sharing; ``history`` is the status of the 24 months up to the snapshot, oldest first
    (``-`` where nothing was reported).
    """

    __tablename__ = "submitted_tradelines"
    __table_args__ = ({"sqlite_with_rowid": False},)

    snapshot: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    bureau: Mapped[str] = mapped_column(String(40), primary_key=True)
    furnisher: Mapped[str] = mapped_column(String(20), primary_key=True)
    account_ref: Mapped[str] = mapped_column(String(24), primary_key=True)
    consumer_id: Mapped[int] = mapped_column(BigInteger)
    direct: Mapped[bool] = mapped_column(Boolean)
    product: Mapped[str] = mapped_column(String(16))
    opened: Mapped[int] = mapped_column(SmallInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
    balance: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(1))
    last_month: Mapped[int] = mapped_column(SmallInteger)
    history: Mapped[str] = mapped_column(String(24))


class SubmittedPublicRecord(AggregatorBase):
    """A public record as one bureau held it at the snapshot (``ended`` -1 while in force)."""

    __tablename__ = "submitted_public_records"
    __table_args__ = ({"sqlite_with_rowid": False},)

    snapshot: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    bureau: Mapped[str] = mapped_column(String(40), primary_key=True)
    furnisher: Mapped[str] = mapped_column(String(20), primary_key=True)
    record_ref: Mapped[str] = mapped_column(String(24), primary_key=True)
    consumer_id: Mapped[int] = mapped_column(BigInteger)
    direct: Mapped[bool] = mapped_column(Boolean)
    kind: Mapped[str] = mapped_column(String(16))
    filed: Mapped[int] = mapped_column(SmallInteger)
    ended: Mapped[int] = mapped_column(SmallInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
    last_month: Mapped[int] = mapped_column(SmallInteger)


class SubmittedScore(AggregatorBase):
    """A bureau's score of one of its consumers at the snapshot."""

    __tablename__ = "submitted_scores"
    __table_args__ = ({"sqlite_with_rowid": False},)

    snapshot: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    bureau: Mapped[str] = mapped_column(String(40), primary_key=True)
    consumer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    score: Mapped[int] = mapped_column(SmallInteger)
    pd: Mapped[float] = mapped_column(Float)
    in_default: Mapped[bool] = mapped_column(Boolean)


class SubmissionReject(AggregatorBase):
    """A submitted row the aggregator could not take, kept whole with the reason."""

    __tablename__ = "submission_rejects"

    reject_id: Mapped[int] = mapped_column(AutoId, primary_key=True)
    snapshot: Mapped[int] = mapped_column(SmallInteger, index=True)
    bureau: Mapped[str] = mapped_column(String(40))
    part: Mapped[str] = mapped_column(String(16))
    row: Mapped[int] = mapped_column(Integer)
    field: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)


class Linkage(AggregatorBase):
    """One linkage of every submitted identity: its method and how it went."""

    __tablename__ = "linkages"

    method: Mapped[str] = mapped_column(String(8), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    records: Mapped[int] = mapped_column(Integer)
    persons: Mapped[int] = mapped_column(Integer)
    links: Mapped[int] = mapped_column(Integer)
    parameters: Mapped[str] = mapped_column(Text)


class PersonLink(AggregatorBase):
    """The aggregator's person key of a bureau's consumer, under one linkage method."""

    __tablename__ = "person_links"
    __table_args__ = ({"sqlite_with_rowid": False},)

    method: Mapped[str] = mapped_column(String(8), primary_key=True)
    bureau: Mapped[str] = mapped_column(String(40), primary_key=True)
    consumer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    person_key: Mapped[int] = mapped_column(BigInteger, index=True)


class Reconciliation(AggregatorBase):
    """Which linkage and rule order the consolidated tables were built with, and the consensus.

    ``sha256`` is the hash of the inputs once the reconciliation is complete (empty while it
    is not); ``consensus`` is the fitted consensus model as JSON.
    """

    __tablename__ = "reconciliations"

    snapshot: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    method: Mapped[str] = mapped_column(String(8))
    rules: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    consensus: Mapped[str | None] = mapped_column(Text)


class ConsolidatedTradeline(AggregatorBase):
    """One account as the aggregator settled it: each field with its bureau and rule."""

    __tablename__ = "consolidated_tradelines"
    __table_args__ = ({"sqlite_with_rowid": False},)

    snapshot: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    furnisher: Mapped[str] = mapped_column(String(20), primary_key=True)
    account_ref: Mapped[str] = mapped_column(String(24), primary_key=True)
    bureaus: Mapped[str] = mapped_column(Text)
    person_key: Mapped[int] = mapped_column(BigInteger)
    person_key_bureau: Mapped[str] = mapped_column(String(40))
    person_key_rule: Mapped[str] = mapped_column(String(20))
    product: Mapped[str] = mapped_column(String(16))
    product_bureau: Mapped[str] = mapped_column(String(40))
    product_rule: Mapped[str] = mapped_column(String(20))
    opened: Mapped[int] = mapped_column(SmallInteger)
    opened_bureau: Mapped[str] = mapped_column(String(40))
    opened_rule: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(BigInteger)
    amount_bureau: Mapped[str] = mapped_column(String(40))
    amount_rule: Mapped[str] = mapped_column(String(20))
    balance: Mapped[int] = mapped_column(BigInteger)
    balance_bureau: Mapped[str] = mapped_column(String(40))
    balance_rule: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(1))
    status_bureau: Mapped[str] = mapped_column(String(40))
    status_rule: Mapped[str] = mapped_column(String(20))
    last_month: Mapped[int] = mapped_column(SmallInteger)
    last_month_bureau: Mapped[str] = mapped_column(String(40))
    last_month_rule: Mapped[str] = mapped_column(String(20))
    history: Mapped[str] = mapped_column(String(24))
    history_bureau: Mapped[str] = mapped_column(String(40))
    history_rule: Mapped[str] = mapped_column(String(20))


class ConsolidatedPublicRecord(AggregatorBase):
    """One public record as the aggregator settled it."""

    __tablename__ = "consolidated_public_records"
    __table_args__ = ({"sqlite_with_rowid": False},)

    snapshot: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    furnisher: Mapped[str] = mapped_column(String(20), primary_key=True)
    record_ref: Mapped[str] = mapped_column(String(24), primary_key=True)
    bureaus: Mapped[str] = mapped_column(Text)
    person_key: Mapped[int] = mapped_column(BigInteger)
    person_key_bureau: Mapped[str] = mapped_column(String(40))
    person_key_rule: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(16))
    kind_bureau: Mapped[str] = mapped_column(String(40))
    kind_rule: Mapped[str] = mapped_column(String(20))
    filed: Mapped[int] = mapped_column(SmallInteger)
    filed_bureau: Mapped[str] = mapped_column(String(40))
    filed_rule: Mapped[str] = mapped_column(String(20))
    ended: Mapped[int] = mapped_column(SmallInteger)
    ended_bureau: Mapped[str] = mapped_column(String(40))
    ended_rule: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(BigInteger)
    amount_bureau: Mapped[str] = mapped_column(String(40))
    amount_rule: Mapped[str] = mapped_column(String(20))


class Discrepancy(AggregatorBase):
    """A field on which bureaus disagreed about one account or record, and how it was settled.

    ``values`` lists each bureau's value (``bureau=value`` joined by ``;``); ``kind`` is
    ``stale`` when the bureaus last heard of the item in different months, ``conflict`` when
    they disagree about the same month.
    """

    __tablename__ = "discrepancies"

    discrepancy_id: Mapped[int] = mapped_column(AutoId, primary_key=True)
    snapshot: Mapped[int] = mapped_column(SmallInteger, index=True)
    item: Mapped[str] = mapped_column(String(16))
    furnisher: Mapped[str] = mapped_column(String(20))
    ref: Mapped[str] = mapped_column(String(24))
    field: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(8))
    values: Mapped[str] = mapped_column(Text)
    resolved: Mapped[str] = mapped_column(Text)
    bureau: Mapped[str] = mapped_column(String(40))
    rule: Mapped[str] = mapped_column(String(20))


class ConsensusScore(AggregatorBase):
    """The aggregator's consensus probability of default of a person at a snapshot."""

    __tablename__ = "consensus_scores"
    __table_args__ = ({"sqlite_with_rowid": False},)

    snapshot: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    person_key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    pd: Mapped[float] = mapped_column(Float)
    bureaus: Mapped[int] = mapped_column(SmallInteger)
    in_default: Mapped[bool] = mapped_column(Boolean)
