"""The features a bureau can compute: name, group, direction of effect on risk, meaning, range.

Each feature belongs to a group (credit, inquiries, public records, identity, e-commerce,
payments, telecom, social); a bureau's profile says which groups it may use, so an experiment
can add or withhold a data source by editing one list. Each feature also states the direction
of its effect on risk where it is known (+1: a higher value means more risk, -1: less), which
the gradient-boosted model enforces as a monotone constraint and the scorecard as a monotone
binning trend.
"""

from __future__ import annotations

from dataclasses import dataclass

from bureau.config.scenario import PRODUCTS


@dataclass(frozen=True)
class Feature:
    """One feature: its group, its direction of effect on risk, and what it means."""

    name: str
    group: str
    direction: int
    description: str


def _spec(name: str, group: str, direction: int, description: str) -> Feature:
    return Feature(name, group, direction, description)


FEATURES: tuple[Feature, ...] = (
    _spec("tradelines", "credit", 0, "accounts on file"),
    _spec("open_tradelines", "credit", 0, "accounts open and reported in the last 3 months"),
    *(_spec(f"open_{p}", "credit", 0, f"open {p.replace('_', ' ')} accounts") for p in PRODUCTS),
    _spec("revolving_limit", "credit", -1, "total limit of open revolving accounts (yuan)"),
    _spec("revolving_balance", "credit", 1, "total balance of open revolving accounts (yuan)"),
    _spec("utilisation", "credit", 1, "revolving balance over revolving limit"),
    _spec("instalment_balance", "credit", 0, "total balance of open instalment loans (yuan)"),
    _spec(
        "current_worst_status", "credit", 1, "worst status now (months past due, 5 = written off)"
    ),
    _spec("worst_status_12m", "credit", 1, "worst status in the last 12 months"),
    _spec("worst_status_ever", "credit", 1, "worst status ever reported"),
    _spec(
        "months_since_delinquency",
        "credit",
        -1,
        "months since the last month past due (999: never, on the months reported)",
    ),
    _spec("delinquent_months_24m", "credit", 1, "account-months past due in the last 24 months"),
    _spec("on_time_share_24m", "credit", -1, "share of account-months current in the last 24"),
    _spec("written_off", "credit", 1, "accounts written off"),
    _spec("file_age_months", "credit", -1, "months since the oldest account was opened"),
    _spec("months_since_newest", "credit", -1, "months since the newest account was opened"),
    _spec("opened_12m", "credit", 1, "accounts opened in the last 12 months"),
    _spec("inquiries_3m", "inquiries", 1, "credit inquiries in the last 3 months"),
    _spec("inquiries_6m", "inquiries", 1, "credit inquiries in the last 6 months"),
    _spec("inquiries_12m", "inquiries", 1, "credit inquiries in the last 12 months"),
    _spec("declined_12m", "inquiries", 1, "applications declined in the last 12 months"),
    _spec("public_records", "public_records", 1, "public records on file"),
    _spec("active_public_records", "public_records", 1, "public records not yet ended"),
    _spec("dishonest_listed", "public_records", 1, "on the dishonest judgment-debtor list now"),
    _spec("court_judgments", "public_records", 1, "court judgments"),
    _spec(
        "months_since_public_record",
        "public_records",
        -1,
        "months since the latest record (999: none)",
    ),
    _spec("age", "identity", 0, "age in years, from the identity number"),
    _spec("city_tier", "identity", 0, "tier (1-4) of the city of the identity number"),
    _spec("months_on_file", "identity", -1, "months since the bureau first saw the consumer"),
    _spec("spend_6m", "ecommerce", -1, "average monthly e-commerce spend (yuan), 6 months"),
    _spec("spend_trend", "ecommerce", -1, "spend of the last 3 months over the 3 before"),
    _spec("returns_12m", "ecommerce", 0, "e-commerce returns in the last 12 months"),
    _spec("address_changes_12m", "ecommerce", 1, "delivery address changes, 12 months"),
    _spec("payment_volume_6m", "payments", -1, "average monthly payment volume (yuan), 6 months"),
    _spec("utility_on_time_12m", "payments", -1, "share of utility bills paid on time, 12 months"),
    _spec("phone_bill_on_time_12m", "telecom", -1, "share of phone bills paid on time, 12 months"),
    _spec("social_activity_6m", "social", 0, "average monthly messaging activity, 6 months"),
    _spec("gaming_minutes_6m", "social", 1, "average monthly gaming minutes, 6 months"),
    _spec("contacts", "social", 0, "close contacts on messaging platforms"),
    _spec("contacts_defaulted", "social", 1, "close contacts with a known default"),
    _spec("contacts_defaulted_share", "social", 1, "share of close contacts with a known default"),
)
FEATURE_BY_NAME = {f.name: f for f in FEATURES}
#: The values a feature can take (every other feature is a count, amount, month or ratio: 0 up).
BOUNDS: dict[str, tuple[float, float]] = {
    "age": (14.0, 120.0),
    "city_tier": (1.0, 4.0),
    "current_worst_status": (0.0, 5.0),
    "worst_status_12m": (0.0, 5.0),
    "worst_status_ever": (0.0, 5.0),
    "on_time_share_24m": (0.0, 1.0),
    "dishonest_listed": (0.0, 1.0),
    "utility_on_time_12m": (0.0, 1.0),
    "phone_bill_on_time_12m": (0.0, 1.0),
    "contacts_defaulted_share": (0.0, 1.0),
}


def feature_bounds(name: str) -> tuple[float, float]:
    """The lowest and highest possible value of a feature.

    Parameters
    ----------
    name
        A feature.

    Returns
    -------
    tuple of float
        ``(low, high)``; a value outside is impossible.
    """
    return BOUNDS.get(name, (0.0, float("inf")))


FEATURE_GROUPS = tuple(dict.fromkeys(f.group for f in FEATURES))


def feature_names(groups: list[str] | tuple[str, ...]) -> list[str]:
    """The features of the given groups, in registry order.

    Parameters
    ----------
    groups
        Feature groups (a bureau profile's ``feature_groups``).

    Returns
    -------
    list of str
        Feature names.
    """
    chosen = set(groups)
    return [f.name for f in FEATURES if f.group in chosen]
