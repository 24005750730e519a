"""A bureau's features: what its credit file says of each consumer as of a snapshot month.

Only what had arrived by the snapshot counts (every row of a credit file keeps the month it
arrived in), so a model trained at one snapshot and applied at another sees exactly what the
bureau knew then. Each feature belongs to a group (credit, inquiries, public records, identity,
e-commerce, payments, telecom, social); a bureau's profile says which groups it may use, so an
experiment can add or withhold a data source by editing one list.

The features themselves, their groups and directions are listed in
:mod:`bureau.bureaus.feature_catalog`; the labels in :mod:`bureau.bureaus.labels`.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, select

from bureau.bureaus.feature_catalog import feature_names
from bureau.config.scenario import PRODUCTS
from bureau.formats.history import status_levels
from bureau.reference import reference
from bureau.store.bulk import read_frame
from bureau.store.corrections import InForce, corrections_as_of
from bureau.store.credit_file import (
    Consumer,
    Contact,
    Inquiry,
    PublicRecord,
    Signal,
    Tradeline,
)
from bureau.store.reports import monthly_reports

REVOLVING = ("credit_card", "credit_line")
#: "Months since" an event that never happened. A number beyond any real one rather than a
#: missing value: models constrained to find risk falling with the months since a delinquency
#: then rank "never" as the safest, as they must (a missing value has no place in that order),
#: and correcting a consumer's only delinquency can only raise their score.
NEVER = 999.0


def _read(conn: Connection, snapshot: int) -> dict[str, pd.DataFrame]:
    """The parts of a credit file that had arrived by the snapshot, as furnished."""
    signals = Signal.__table__
    data = {
        "consumers": read_frame(
            conn,
            select(Consumer.consumer_id, Consumer.national_id, Consumer.phone, Consumer.first_seen)
            .where(Consumer.first_seen <= snapshot)
            .order_by(Consumer.consumer_id),
        ),
        "tradelines": read_frame(
            conn,
            select(
                Tradeline.tradeline_id,
                Tradeline.consumer_id,
                Tradeline.product,
                Tradeline.opened,
                Tradeline.amount,
            )
            .where(Tradeline.opened <= snapshot)
            .order_by(Tradeline.tradeline_id),
        ),
        "months": monthly_reports(conn, snapshot, last_month=snapshot),
        "inquiries": read_frame(
            conn,
            select(Inquiry.consumer_id, Inquiry.month, Inquiry.approved).where(
                Inquiry.arrival <= snapshot,
                Inquiry.month <= snapshot,
                Inquiry.month > snapshot - 12,
            ),
        ),
        "public_records": read_frame(
            conn,
            select(
                PublicRecord.public_record_id,
                PublicRecord.consumer_id,
                PublicRecord.kind,
                PublicRecord.filed,
                PublicRecord.ended,
            ).where(PublicRecord.arrival <= snapshot, PublicRecord.filed <= snapshot),
        ),
        "contacts": read_frame(
            conn,
            select(Contact.consumer_id, Contact.contact_phone).where(
                Contact.arrival <= snapshot, Contact.month <= snapshot
            ),
        ),
        "signals": read_frame(
            conn,
            select(signals).where(
                signals.c.arrival <= snapshot,
                signals.c.month <= snapshot,
                signals.c.month > snapshot - 12,
            ),
        ),
    }
    return data


def read_file(engine: Engine, snapshot: int) -> tuple[dict[str, pd.DataFrame], InForce]:
    """What a bureau's credit file held at a snapshot, as furnished, and the corrections then.

    One read serves every view of the file a caller needs at that month: as furnished, as
    corrected by the disputes settled by then, or corrected further (:func:`file_features`).

    Parameters
    ----------
    engine
        The bureau's database.
    snapshot
        The month (0-based) of the snapshot.

    Returns
    -------
    tuple
        The parts of the file (consumers, tradelines, monthly reports, inquiries, public
        records, contacts, signals) that had arrived by the snapshot, and the corrections of
        disputes in force then.
    """
    with engine.connect() as conn:
        return _read(conn, snapshot), corrections_as_of(conn, snapshot)


def _corrected(data: dict[str, pd.DataFrame], fixes: InForce) -> dict[str, pd.DataFrame]:
    lines = data["tradelines"]
    records = data["public_records"]
    return data | {
        "months": fixes.months(data["months"]),
        "tradelines": lines[~lines["tradeline_id"].isin(fixes.removed_tradelines)],
        "public_records": records[~records["public_record_id"].isin(fixes.removed_records)],
    }


def _count(
    keys: pd.Series | np.ndarray, index: pd.Index, mask: np.ndarray | None = None
) -> np.ndarray:
    """How many rows each consumer of ``index`` has (where ``mask``)."""
    keys = np.asarray(keys)
    if mask is not None:
        keys = keys[mask]
    return pd.Series(keys).value_counts().reindex(index, fill_value=0).to_numpy(dtype=float)


def _by(values: np.ndarray, keys: np.ndarray, index: pd.Index, how: str) -> np.ndarray:
    """Aggregate values per consumer of ``index`` (NaN where a consumer has none)."""
    if len(keys) == 0:
        return np.full(len(index), np.nan)
    grouped = pd.Series(values, dtype=float).groupby(np.asarray(keys))
    return getattr(grouped, how)().reindex(index).to_numpy(dtype=float)


def _credit(data: dict[str, pd.DataFrame], snapshot: int, index: pd.Index) -> dict[str, np.ndarray]:
    lines = data["tradelines"]
    months = data["months"]
    lines = lines[lines["tradeline_id"].isin(months["tradeline_id"].unique())]
    owner = pd.Series(lines["consumer_id"].to_numpy(), index=lines["tradeline_id"].to_numpy())
    months = months[months["tradeline_id"].isin(owner.index)]
    consumer = owner.reindex(months["tradeline_id"].to_numpy()).to_numpy()
    month = months["month"].to_numpy(dtype=np.int64)
    level = status_levels(months["status"])
    late = level >= 1

    # The latest report of each account is its state at the snapshot.
    latest = months.drop_duplicates("tradeline_id", keep="last").set_index("tradeline_id")
    latest = latest.reindex(lines["tradeline_id"].to_numpy())
    last_status = latest["status"].astype(str).to_numpy()
    last_month = latest["month"].to_numpy(dtype=np.int64)
    amount = lines["amount"].to_numpy(dtype=np.float64)
    product = lines["product"].astype(str).to_numpy()
    holder = lines["consumer_id"].to_numpy()
    is_open = ~np.isin(last_status, ["C", "W"]) & (last_month > snapshot - 3)
    revolving = is_open & np.isin(product, REVOLVING)
    balance_yuan = latest["balance"].to_numpy(dtype=float) / 100.0
    limit = _by(np.where(revolving, amount / 100.0, 0.0), holder, index, "sum")
    spent = _by(np.where(revolving, balance_yuan, 0.0), holder, index, "sum")
    opened = lines["opened"].to_numpy(dtype=np.int64)
    recent24 = month > snapshot - 24
    out = {
        "tradelines": _count(holder, index),
        "open_tradelines": _count(holder, index, is_open),
        **{f"open_{p}": _count(holder, index, is_open & (product == p)) for p in PRODUCTS},
        "revolving_limit": np.nan_to_num(limit),
        "revolving_balance": np.nan_to_num(spent),
        "utilisation": np.where(limit > 0, spent / np.where(limit > 0, limit, 1.0), np.nan),
        "instalment_balance": np.nan_to_num(
            _by(np.where(is_open & ~revolving, balance_yuan, 0.0), holder, index, "sum")
        ),
        "current_worst_status": _by(
            status_levels(last_status) * (last_month > snapshot - 3),
            holder,
            index,
            "max",
        ),
        "worst_status_12m": _by(
            level[month > snapshot - 12], consumer[month > snapshot - 12], index, "max"
        ),
        "worst_status_ever": _by(level, consumer, index, "max"),
        "months_since_delinquency": np.where(
            _count(consumer, index) > 0,
            np.nan_to_num(snapshot - _by(month[late], consumer[late], index, "max"), nan=NEVER),
            np.nan,
        ),
        "delinquent_months_24m": _count(consumer, index, late & recent24),
        "on_time_share_24m": _by(
            (level[recent24] == 0).astype(float), consumer[recent24], index, "mean"
        ),
        "written_off": _count(holder, index, last_status == "W"),
        "file_age_months": snapshot - _by(opened.astype(float), holder, index, "min"),
        "months_since_newest": snapshot - _by(opened.astype(float), holder, index, "max"),
        "opened_12m": _count(holder, index, opened > snapshot - 12),
    }
    return out


def _inquiries(
    data: dict[str, pd.DataFrame], snapshot: int, index: pd.Index
) -> dict[str, np.ndarray]:
    q = data["inquiries"]
    who = q["consumer_id"].to_numpy()
    month = q["month"].to_numpy(dtype=np.int64)
    approved = q["approved"].astype(bool).to_numpy()
    return {
        "inquiries_3m": _count(who, index, month > snapshot - 3),
        "inquiries_6m": _count(who, index, month > snapshot - 6),
        "inquiries_12m": _count(who, index),
        "declined_12m": _count(who, index, ~approved),
    }


def _public_records(
    data: dict[str, pd.DataFrame], snapshot: int, index: pd.Index
) -> dict[str, np.ndarray]:
    pr = data["public_records"]
    who = pr["consumer_id"].to_numpy()
    kind = pr["kind"].astype(str).to_numpy()
    ended = pd.to_numeric(pr["ended"], errors="coerce").to_numpy(dtype=float)
    active = ~(ended <= snapshot)
    return {
        "public_records": _count(who, index),
        "active_public_records": _count(who, index, active),
        "dishonest_listed": np.minimum(
            _count(who, index, active & (kind == "dishonest_debtor")), 1
        ),
        "court_judgments": _count(who, index, kind == "court_judgment"),
        "months_since_public_record": np.nan_to_num(
            snapshot - _by(pr["filed"].to_numpy(dtype=float), who, index, "max"), nan=NEVER
        ),
    }


def _identity(
    data: dict[str, pd.DataFrame], snapshot: int, start: dt.date, index: pd.Index
) -> dict[str, np.ndarray]:
    people = data["consumers"].set_index("consumer_id").reindex(index)
    national_id = people["national_id"].astype("string")
    born = pd.to_numeric(national_id.str.slice(6, 10), errors="coerce").to_numpy(dtype=float)
    born_month = pd.to_numeric(national_id.str.slice(10, 12), errors="coerce").to_numpy(dtype=float)
    calendar = start.year * 12 + (start.month - 1) + snapshot
    age = np.floor((calendar - (born * 12 + born_month - 1)) / 12.0)
    regions = reference().regions
    tier = pd.Series(regions["tier"].to_numpy(dtype=float), index=regions["region_code"].to_numpy())
    tier = tier[~tier.index.duplicated()]
    return {
        "age": np.where((age >= 14) & (age <= 110), age, np.nan),
        "city_tier": tier.reindex(national_id.str.slice(0, 6).to_numpy()).to_numpy(dtype=float),
        "months_on_file": snapshot - people["first_seen"].to_numpy(dtype=float),
    }


def _monthly(signals: pd.DataFrame, column: str, how: str) -> pd.DataFrame:
    """One value per consumer and month across the platforms that report it."""
    held = signals[signals[column].notna()]
    values = pd.to_numeric(held[column], errors="coerce").astype(float)
    return (
        values.groupby([held["consumer_id"].to_numpy(), held["month"].to_numpy()])
        .agg(how)
        .rename_axis(["consumer_id", "month"])
        .reset_index(name=column)
    )


def _per_consumer(
    frame: pd.DataFrame, column: str, index: pd.Index, mask: np.ndarray, how: str
) -> np.ndarray:
    kept = frame[mask]
    return _by(kept[column].to_numpy(dtype=float), kept["consumer_id"].to_numpy(), index, how)


def _signals(
    data: dict[str, pd.DataFrame], snapshot: int, index: pd.Index, groups: set[str]
) -> dict[str, np.ndarray]:
    signals = data["signals"]
    out: dict[str, np.ndarray] = {}
    if "ecommerce" in groups:
        spend = _monthly(signals, "ecommerce_spend", "sum")
        m = spend["month"].to_numpy()
        spend["ecommerce_spend"] /= 100.0
        last3 = _per_consumer(spend, "ecommerce_spend", index, m > snapshot - 3, "mean")
        prior3 = _per_consumer(
            spend, "ecommerce_spend", index, (m <= snapshot - 3) & (m > snapshot - 6), "mean"
        )
        returns = _monthly(signals, "ecommerce_returns", "sum")
        moved = _monthly(signals, "address_changed", "max")
        out |= {
            "spend_6m": _per_consumer(spend, "ecommerce_spend", index, m > snapshot - 6, "mean"),
            "spend_trend": np.where(prior3 > 0, last3 / np.where(prior3 > 0, prior3, 1), np.nan),
            "returns_12m": _per_consumer(
                returns, "ecommerce_returns", index, np.ones(len(returns), bool), "sum"
            ),
            "address_changes_12m": _per_consumer(
                moved, "address_changed", index, np.ones(len(moved), bool), "sum"
            ),
        }
    if "payments" in groups:
        volume = _monthly(signals, "payment_volume", "sum")
        volume["payment_volume"] /= 100.0
        bills = _monthly(signals, "utility_on_time", "mean")
        out |= {
            "payment_volume_6m": _per_consumer(
                volume, "payment_volume", index, volume["month"].to_numpy() > snapshot - 6, "mean"
            ),
            "utility_on_time_12m": _per_consumer(
                bills, "utility_on_time", index, np.ones(len(bills), bool), "mean"
            ),
        }
    if "telecom" in groups:
        phone = _monthly(signals, "phone_bill_on_time", "mean")
        out["phone_bill_on_time_12m"] = _per_consumer(
            phone, "phone_bill_on_time", index, np.ones(len(phone), bool), "mean"
        )
    if "social" in groups:
        for column, name in (
            ("social_activity", "social_activity_6m"),
            ("gaming_minutes", "gaming_minutes_6m"),
        ):
            monthly = _monthly(signals, column, "sum")
            out[name] = _per_consumer(
                monthly, column, index, monthly["month"].to_numpy() > snapshot - 6, "mean"
            )
    return out


def _social_ties(data: dict[str, pd.DataFrame], index: pd.Index) -> dict[str, np.ndarray]:
    """Contacts, and those of them the bureau knows to have defaulted (90+ or written off)."""
    ties = data["contacts"]
    people = data["consumers"]
    with_phone = people[people["phone"].notna()].drop_duplicates("phone", keep="first")
    owner = pd.Series(
        with_phone["consumer_id"].to_numpy(), index=with_phone["phone"].astype(str).to_numpy()
    )
    months = data["months"]
    lines = data["tradelines"]
    bad_lines = months.loc[months["status"].astype(str).isin(["4", "W"]), "tradeline_id"]
    defaulted = pd.Index(
        lines.loc[lines["tradeline_id"].isin(bad_lines.unique()), "consumer_id"].unique()
    )
    contact = owner.reindex(ties["contact_phone"].astype(str).to_numpy()).to_numpy()
    known_bad = pd.Index(contact).isin(defaulted) & ~np.isnan(contact.astype(float))
    who = ties["consumer_id"].to_numpy()
    total = _count(who, index)
    bad = _count(who, index, known_bad)
    return {
        "contacts": total,
        "contacts_defaulted": bad,
        "contacts_defaulted_share": np.where(
            total > 0, bad / np.where(total > 0, total, 1), np.nan
        ),
    }


def snapshot_features(
    engine: Engine,
    snapshot: int,
    groups: list[str] | tuple[str, ...],
    start: dt.date,
    corrected: bool = True,
) -> pd.DataFrame:
    """Compute every consumer's features as of a snapshot month, from what had arrived by then.

    Parameters
    ----------
    engine
        The bureau's database.
    snapshot
        The month (0-based) of the snapshot.
    groups
        The feature groups the bureau may use.
    start
        The first day of month 0 (for ages).
    corrected
        Apply the corrections of disputes in force at the snapshot (False reads the file as
        furnished, to measure what corrections change).

    Returns
    -------
    pandas.DataFrame
        One row per consumer on file at the snapshot, indexed by ``consumer_id`` (sorted), one
        float column per feature of the groups, in registry order; NaN where a feature does
        not apply (no revolving limit, never delinquent, no platform data).
    """
    with engine.connect() as conn:
        data = _read(conn, snapshot)
        fixes = corrections_as_of(conn, snapshot) if corrected else None
    return file_features(data, snapshot, groups, start, fixes)


def file_features(
    data: dict[str, pd.DataFrame],
    snapshot: int,
    groups: list[str] | tuple[str, ...],
    start: dt.date,
    fixes: InForce | None = None,
) -> pd.DataFrame:
    """Every consumer's features from a file read by :func:`read_file`, with corrections applied.

    Parameters
    ----------
    data
        The parts of the file at the snapshot, as furnished.
    snapshot
        The month (0-based) of the snapshot.
    groups
        The feature groups the bureau may use.
    start
        The first day of month 0 (for ages).
    fixes
        Corrections to apply (statuses replaced, accounts and records taken off); None reads
        the file as furnished.

    Returns
    -------
    pandas.DataFrame
        As :func:`snapshot_features`.
    """
    if fixes is not None:
        data = _corrected(data, fixes)
    index = pd.Index(data["consumers"]["consumer_id"].to_numpy(dtype=np.int64), name="consumer_id")
    chosen = set(groups)
    columns: dict[str, np.ndarray] = {}
    if "credit" in chosen:
        columns |= _credit(data, snapshot, index)
    if "inquiries" in chosen:
        columns |= _inquiries(data, snapshot, index)
    if "public_records" in chosen:
        columns |= _public_records(data, snapshot, index)
    if "identity" in chosen:
        columns |= _identity(data, snapshot, start, index)
    columns |= _signals(data, snapshot, index, chosen)
    if "social" in chosen:
        columns |= _social_ties(data, index)
    names = feature_names(groups)
    return pd.DataFrame({n: columns[n] for n in names}, index=index).astype(np.float64)
