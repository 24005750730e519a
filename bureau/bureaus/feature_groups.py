"""How each feature group is computed from the parts of a credit file at a snapshot.

Every group works on whole columns of the file (accounts, their monthly reports, inquiries,
public records, identity, platform signals, contacts) and gives one value per consumer of the
index: a count, a sum, a worst status, months since an event. The features and their groups
are listed in :mod:`bureau.bureaus.feature_catalog`.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from bureau.config.scenario import PRODUCTS
from bureau.formats.history import status_levels
from bureau.reference import reference

REVOLVING = ("credit_card", "credit_line")
#: "Months since" an event that never happened. A number beyond any real one rather than a
#: missing value: models constrained to find risk falling with the months since a delinquency
#: then rank "never" as the safest, as they must (a missing value has no place in that order),
#: and correcting a consumer's only delinquency can only raise their score.
NEVER = 999.0


def group_features(
    data: dict[str, pd.DataFrame],
    snapshot: int,
    groups: list[str] | tuple[str, ...],
    start: dt.date,
    index: pd.Index,
) -> dict[str, np.ndarray]:
    """The features of the chosen groups, for every consumer of the index.

    Parameters
    ----------
    data
        The parts of the file at the snapshot (:func:`~bureau.bureaus.features.read_file`),
        corrections applied where they are to be.
    snapshot
        The month (0-based) of the snapshot.
    groups
        The feature groups wanted.
    start
        The first day of month 0 (for ages).
    index
        The consumers, ``consumer_id``.

    Returns
    -------
    dict of numpy.ndarray
        One float array per feature of the groups, aligned with ``index``.
    """
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
    return columns


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
