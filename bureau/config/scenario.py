"""The scenario: every parameter of one simulated world, as validated pydantic models.

A scenario is read from TOML (see :mod:`bureau.config.loader`). Unknown keys, wrong types and
out-of-range values are errors. Collections that users override one member at a time
(platforms, products, lenders, shocks) are tables keyed by id, so ``extends`` and ``--set`` can
change one lender without restating the others.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from bureau.config.aggregator import Aggregator
from bureau.config.base import Identifier, Model, Share
from bureau.config.bureaus import COURTS, BureauProfile, Sharing
from bureau.config.market import LenderMarket, Market

PRODUCTS = (
    "credit_card",
    "mortgage",
    "auto_loan",
    "consumer_loan",
    "credit_line",
    "cash_loan",
    "p2p_loan",
)
ProductId = Literal[
    "credit_card",
    "mortgage",
    "auto_loan",
    "consumer_loan",
    "credit_line",
    "cash_loan",
    "p2p_loan",
]
PlatformKind = Literal[
    "ecommerce", "payment", "messaging", "insurer", "pos_network", "telecom", "p2p", "bank"
]
LenderKind = Literal["bank", "platform", "consumer_finance", "p2p"]


#: The most chunks of persons a world may have: every truth key stays within 64 bits
#: (:mod:`bureau.world.keys`).
MAX_CHUNKS = 1_000_000


class Population(Model):
    """Who lives in the world: size, demography and how traits are shared in households."""

    persons: int = Field(gt=0, le=100_000_000)
    chunk_size: int = Field(gt=0, le=1_000_000)
    age_min: int = Field(ge=16, le=100)
    age_max: int = Field(ge=16, le=100)
    age_band_weights: list[float] = Field(min_length=6, max_length=6)
    male_share: Share
    household_adults: list[float] = Field(min_length=4, max_length=4)
    urban_hukou_by_tier: list[Share] = Field(min_length=4, max_length=4)
    income_median_by_tier: list[float] = Field(min_length=4, max_length=4)
    income_sigma: float = Field(gt=0.0, le=1.5)
    rural_income_factor: float = Field(gt=0.0, le=1.0)
    household_creditworthiness_share: float = Field(ge=0.0, lt=1.0)
    previous_phone_share: Share

    @model_validator(mode="after")
    def _ages_ordered(self) -> Population:
        if self.age_min >= self.age_max:
            raise ValueError("age_min must be below age_max")
        for name in ("age_band_weights", "household_adults"):
            weights = getattr(self, name)
            if any(w < 0 for w in weights) or sum(weights) <= 0:
                raise ValueError(f"{name} must be non-negative and not all zero")
        if any(m <= 0 for m in self.income_median_by_tier):
            raise ValueError("income_median_by_tier must be positive")
        if -(-self.persons // self.chunk_size) > MAX_CHUNKS:
            raise ValueError(f"persons / chunk_size must make at most {MAX_CHUNKS:,} chunks")
        return self


class Social(Model):
    """The social graph beyond households."""

    ties_per_person: float = Field(ge=0.0, le=100.0)
    homophily: Share
    neighbour_reach: float = Field(ge=1.0, le=1000.0)
    contact_strength: Share = Field(
        default=0.5,
        description="social ties at least this strong are in each other's messaging contacts",
    )


class Platform(Model):
    """A platform whose members generate data: e-commerce, payments, messaging, banks, ..."""

    kind: PlatformKind
    owner: Identifier
    penetration: Share
    age_effect: float = Field(ge=-5.0, le=5.0)
    tier_effect: float = Field(ge=-5.0, le=5.0)
    digital_effect: float = Field(ge=-5.0, le=5.0)
    income_effect: float = Field(default=0.0, ge=-5.0, le=5.0)
    joined_in_window: Share
    exclusive_group: Identifier | None = None


class Product(Model):
    """A credit product: its terms, how often people seek it and how it goes wrong."""

    revolving: bool
    terms: list[int] = Field(default_factory=list)
    amount_income_multiple: float = Field(gt=0.0, le=1000.0)
    annual_rate: float = Field(ge=0.0, le=1.0)
    held_at_start: Share
    application_rate: Share
    approval_cutoff: float = Field(ge=-5.0, le=5.0)
    miss_in_hardship: Share
    chargeoff_after: int = Field(ge=3, le=24)
    voluntary_close_rate: Share
    min_age: int = Field(default=18, ge=16, le=100)

    @model_validator(mode="after")
    def _terms_match_kind(self) -> Product:
        if self.revolving and self.terms:
            raise ValueError("a revolving product has no terms")
        if not self.revolving and (not self.terms or any(t < 1 or t > 480 for t in self.terms)):
            raise ValueError("an instalment product needs terms between 1 and 480 months")
        return self


class Lender(LenderMarket):
    """A lender: which products it offers, to whom, how well it screens, and what it buys.

    The fields of :class:`~bureau.config.market.LenderMarket` say which bureaus it buys scores
    from once the market opens, and how it decides with them.
    """

    kind: LenderKind
    products: list[ProductId] = Field(min_length=1)
    share: float = Field(gt=0.0)
    screening_noise: float = Field(ge=0.0, le=5.0)
    strictness: float = Field(ge=-5.0, le=5.0)
    requires_platform: Identifier | None = None
    member_preference: float = Field(default=0.0, ge=0.0, le=100.0)


class IncomeShock(Model):
    """A pandemic-like shock: for a few months, hardship becomes more likely for many."""

    kind: Literal["income"]
    month: int = Field(ge=0)
    duration: int = Field(ge=1, le=120)
    hardship_multiplier: float = Field(ge=1.0, le=100.0)
    affected_share: Share


class P2PCollapse(Model):
    """The collapse of P2P lending: P2P lenders stop lending, many borrowers stop paying."""

    kind: Literal["p2p_collapse"]
    month: int = Field(ge=0)
    strategic_default_share: Share


Shock = Annotated[IncomeShock | P2PCollapse, Field(discriminator="kind")]


class Behaviour(Model):
    """How hardship arises and how people seek credit."""

    hardship_rate: Share
    hardship_creditworthiness_effect: float = Field(ge=0.0, le=5.0)
    hardship_impulsivity_effect: float = Field(ge=0.0, le=5.0)
    hardship_mean_months: float = Field(ge=1.0, le=60.0)
    hardship_length_effect: float = Field(ge=0.0, le=3.0)
    idiosyncratic_miss_rate: Share
    application_hardship_multiplier: float = Field(ge=1.0, le=100.0)
    application_impulsivity_effect: float = Field(ge=0.0, le=5.0)


class Records(Model):
    """Public records: court judgments, the dishonest judgment-debtor list, penalties."""

    judgment_share: Share
    judgment_lag_months: float = Field(ge=0.0, le=120.0)
    listing_share: Share
    listing_lag_months: float = Field(ge=0.0, le=120.0)
    listing_mean_months: float = Field(ge=1.0, le=240.0)
    slow_removal_share: Share
    slow_removal_months: float = Field(ge=1.0, le=120.0)
    wrongful_listing_rate: Share
    listed_at_start: Share
    admin_penalty_rate: Share


class Signals(Model):
    """Monthly alternative data generated by platform members."""

    address_change_rate: Share
    bill_on_time_base: Share
    hardship_spend_drop: Share
    habit_signal: float = Field(
        default=1.0,
        ge=0.0,
        le=10.0,
        description=(
            "how strongly a person's own habits show in their signals: the loadings of "
            "creditworthiness on bill punctuality and of impulsivity on spending, returns and "
            "gaming, as multiples of the built-in ones (0: signals carry only the traces of "
            "hardship)"
        ),
    )


class Scoring(Model):
    """When the bureaus train and are judged: a development and an out-of-time snapshot.

    A model is trained on what a bureau held at the development snapshot, labelled by the
    defaults reported to it in the 12 months after; it is evaluated at the later snapshot on
    the 12 months after that, which must still lie inside the window.
    """

    development_snapshot: int = Field(default=11, ge=0)
    evaluation_snapshot: int = Field(default=23, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> Scoring:
        if self.evaluation_snapshot < self.development_snapshot + 12:
            raise ValueError(
                "evaluation_snapshot must be at least 12 months after development_snapshot, "
                "so that the development outcomes are known by then"
            )
        return self


#: Names a bureau may not take: the aggregator's database and the views set beside the bureaus'.
RESERVED_IDS = frozenset({"aggregator", "consensus", "truth", "world", "all"})


class Scenario(Model):
    """One simulated world: its size, its clock, its people, lenders, platforms and shocks."""

    name: Identifier
    seed: int = Field(ge=0, le=2**63 - 1)
    start: str
    months: int = Field(ge=13, le=240)
    population: Population
    social: Social
    behaviour: Behaviour
    platforms: dict[Identifier, Platform] = Field(min_length=1)
    products: dict[ProductId, Product] = Field(min_length=1)
    lenders: dict[Identifier, Lender] = Field(min_length=1)
    shocks: dict[Identifier, Shock] = Field(default_factory=dict)
    records: Records
    signals: Signals
    sharing: Sharing
    sharing_lag: int = Field(ge=0, le=12)
    bureaus: dict[Identifier, BureauProfile] = Field(min_length=1)
    scoring: Scoring = Field(default_factory=Scoring)
    aggregator: Aggregator = Field(default_factory=Aggregator)
    market: Market = Field(default_factory=Market)

    @field_validator("bureaus", mode="before")
    @classmethod
    def _free_names(cls, value: Any) -> Any:
        # Before the profiles are checked: a reserved name is the first thing to say.
        taken = sorted(set(value) & RESERVED_IDS) if isinstance(value, dict) else []
        if taken:
            raise ValueError(
                f"{taken[0]!r} cannot name a bureau: it is reserved for the run's own "
                f"databases and views ({', '.join(sorted(RESERVED_IDS))})"
            )
        return value

    @field_validator("start")
    @classmethod
    def _month_string(cls, value: str) -> str:
        try:
            dt.datetime.strptime(value, "%Y-%m")
        except ValueError:
            raise ValueError("start must be a month written YYYY-MM") from None
        return value

    @model_validator(mode="after")
    def _cross_references(self) -> Scenario:
        for lender_id, lender in self.lenders.items():
            for product in lender.products:
                if product not in self.products:
                    raise ValueError(f"lenders.{lender_id}: product {product!r} is not defined")
            if lender.requires_platform and lender.requires_platform not in self.platforms:
                raise ValueError(
                    f"lenders.{lender_id}: platform {lender.requires_platform!r} is not defined"
                )
        for lender_id, lender in self.lenders.items():
            for bureau in lender.bureaus:
                if bureau not in self.bureaus:
                    raise ValueError(f"lenders.{lender_id}.bureaus: {bureau!r} is not a bureau")
            if lender.policy == "consensus" and not self.consensus_offered:
                raise ValueError(
                    f"lenders.{lender_id}.policy: 'consensus' needs a central body that lenders "
                    f"reach: sharing 'shared' or 'licensed_only', not {self.sharing!r}"
                )
        first = self.market.first_month(self.scoring.development_snapshot)
        if self.market.enabled and first >= self.months:
            raise ValueError(f"market.start must be below months ({self.months})")
        for shock_id, shock in self.shocks.items():
            if shock.month >= self.months:
                raise ValueError(f"shocks.{shock_id}: month must be below months ({self.months})")
        for product in self.products:
            if not any(product in lender.products for lender in self.lenders.values()):
                raise ValueError(f"products.{product}: no lender offers it")
        known = set(self.platforms) | set(self.lenders) | {COURTS}
        for bureau_id, profile in self.bureaus.items():
            for source in profile.sources:
                if source not in known:
                    raise ValueError(
                        f"bureaus.{bureau_id}.sources: {source!r} is not a platform, a lender "
                        f"or {COURTS!r}"
                    )
        if self.scoring.evaluation_snapshot + 12 >= self.months:
            raise ValueError(
                f"scoring.evaluation_snapshot must leave 12 months of outcomes before month "
                f"{self.months - 1}"
            )
        if not any(profile.enabled for profile in self.bureaus.values()):
            raise ValueError("bureaus: at least one bureau must be enabled")
        return self

    @property
    def active_bureaus(self) -> list[str]:
        """Ids of the enabled bureaus, sorted."""
        return sorted(b for b, profile in self.bureaus.items() if profile.enabled)

    def lender_bureaus(self, lender: str) -> list[str]:
        """The enabled bureaus a lender subscribes to when the market opens, in its order.

        A bureau switched off leaves its subscribers; a lender left with none decides on its
        own.

        Parameters
        ----------
        lender
            The lender's id.

        Returns
        -------
        list of str
            Bureau ids.
        """
        return [b for b in self.lenders[lender].bureaus if self.bureaus[b].enabled]

    @property
    def consensus_offered(self) -> bool:
        """Whether lenders can buy the aggregator's consensus score in the market.

        Only where lenders share their data through the central body does the regime let
        them reach it (``shared``, ``licensed_only``); a siloed market has no hub to ask.
        """
        return self.sharing != "siloed"

    @property
    def market_start(self) -> int:
        """The first month lenders decide with bureau scores (``months`` with no market)."""
        if not self.market.enabled:
            return self.months
        return self.market.first_month(self.scoring.development_snapshot)

    @property
    def market_rounds(self) -> list[int]:
        """The first month of each round of the market (empty when it is not enabled)."""
        return list(range(self.market_start, self.months, self.market.round_months))

    @property
    def market_schedule(self) -> list[int]:
        """The first month of each round, whether or not the market is enabled.

        A run without a market reports its lending over the same windows of months, so that
        the two can be set side by side.
        """
        first = self.market.first_month(self.scoring.development_snapshot)
        return list(range(first, self.months, self.market.round_months))

    @property
    def start_date(self) -> dt.date:
        """The first day of month 0."""
        return dt.datetime.strptime(self.start, "%Y-%m").date()

    @property
    def product_ids(self) -> list[str]:
        """The scenario's products, in the fixed order of :data:`PRODUCTS`."""
        return [p for p in PRODUCTS if p in self.products]

    @property
    def chunks(self) -> int:
        """The number of chunks of persons."""
        return -(-self.population.persons // self.population.chunk_size)

    def chunk_bounds(self, chunk: int) -> tuple[int, int]:
        """Return the first person id and the number of persons of a chunk.

        Parameters
        ----------
        chunk
            The 0-based chunk index.

        Returns
        -------
        tuple of int
            ``(first_person_id, size)``.
        """
        size = self.population.chunk_size
        first = chunk * size
        return first, min(size, self.population.persons - first)

    @property
    def snapshots(self) -> list[int]:
        """The months at which the bureaus submit to the aggregator: the scoring snapshots."""
        return [self.scoring.development_snapshot, self.scoring.evaluation_snapshot]
