"""The privacy ledger: what personal data each bureau holds, and how much of it per consumer.

Each data point is one stored value about a consumer, counted in the bureau's own database by
category: identity (name, ID number, phone, and every identifier on file), credit (accounts,
their monthly reports, inquiries), payments (payment volume, utility and phone bills paid on
time), e-commerce (spend, returns), social ties (contact-list entries), location (address
changes), public records, and behaviour (social-media activity, gaming time). Set beside the
data-source ablation, it weighs the predictive value a category adds against what it exposes.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection, Engine, Table, func, select
from sqlalchemy.orm import InstrumentedAttribute

from bureau.store.credit_file import (
    Consumer,
    Contact,
    Identifier,
    Inquiry,
    PublicRecord,
    Signal,
    Tradeline,
    TradelineMonth,
    TradelineRevision,
)

#: The categories of personal data, each with the stored values that count towards it: a
#: table (every row a data point) or a column (every value that is not missing).
CATEGORIES: dict[str, tuple] = {
    "identity": (
        Consumer.name,
        Consumer.national_id,
        Consumer.phone,
        Identifier.__table__,
    ),
    "credit": (
        Tradeline.__table__,
        TradelineMonth.__table__,
        TradelineRevision.__table__,
        Inquiry.__table__,
    ),
    "payments": (Signal.payment_volume, Signal.utility_on_time, Signal.phone_bill_on_time),
    "e-commerce": (Signal.ecommerce_spend, Signal.ecommerce_returns),
    "social ties": (Contact.__table__,),
    "location": (Signal.address_changed,),
    "public records": (PublicRecord.__table__,),
    "behaviour": (Signal.social_activity, Signal.gaming_minutes),
}
#: The feature group of the bureaus' models that draws on each category: the group whose
#: ablation measures the category's predictive value.
FEATURE_GROUP = {
    "identity": "identity",
    "credit": "credit",
    "payments": "payments",
    "e-commerce": "ecommerce",
    "social ties": "social",
    "location": "ecommerce",
    "public records": "public_records",
    "behaviour": "social",
}


def _count(conn: Connection, item: Table | InstrumentedAttribute) -> int:
    """Rows of a table, or values present in a column."""
    if isinstance(item, Table):
        statement = select(func.count()).select_from(item)
    else:
        statement = select(func.count(item))
    return int(conn.execute(statement).scalar() or 0)


def privacy_ledger(engines: dict[str, Engine]) -> pd.DataFrame:
    """Per bureau and category: whether the bureau holds such data, and how much.

    Parameters
    ----------
    engines
        Each bureau's database, by bureau.

    Returns
    -------
    pandas.DataFrame
        ``bureau``, ``category``, ``feature_group``, ``held`` (any data point at all),
        ``data_points`` and ``per_consumer`` (data points over the bureau's consumers), one row
        per bureau and category of :data:`CATEGORIES`.
    """
    rows = []
    for bureau in sorted(engines):
        with engines[bureau].connect() as conn:
            consumers = _count(conn, Consumer.__table__)
            for category, items in CATEGORIES.items():
                points = sum(_count(conn, item) for item in items)
                rows.append(
                    {
                        "bureau": bureau,
                        "category": category,
                        "feature_group": FEATURE_GROUP[category],
                        "held": points > 0,
                        "data_points": points,
                        "per_consumer": points / consumers if consumers else 0.0,
                    }
                )
    return pd.DataFrame(rows)


def ledger_with_value(ledger: pd.DataFrame, ablation: pd.DataFrame) -> pd.DataFrame:
    """The ledger beside the out-of-time AUC each category's feature group adds.

    Parameters
    ----------
    ledger
        :func:`privacy_ledger`.
    ablation
        ``bureau``, ``removed`` (a feature group) and ``truth_auc_gain`` (the full model's AUC
        against the truth less the AUC without that group).

    Returns
    -------
    pandas.DataFrame
        The ledger with ``truth_auc_gain`` of the category's feature group where the bureau's
        model uses it (missing where it does not).
    """
    gains = ablation[["bureau", "removed", "truth_auc_gain"]].rename(
        columns={"removed": "feature_group"}
    )
    return ledger.merge(gains, on=["bureau", "feature_group"], how="left")
