"""The central aggregator's settings: linkage, reconciliation rules and consumers' disputes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from bureau.config.base import Model, Share

ReconciliationRule = Literal["furnisher_of_record", "most_recent", "majority"]
Severity = Literal["severe", "moderate", "mild", "favourable"]


class Disputes(Model):
    """How consumers dispute errors in their files, and how the bureaus answer.

    Consumers look at their files after the development snapshot. An error is disputed with a
    chance that grows with its harm (``dispute_rate`` by severity); the bureau asks the furnisher
    and answers ``investigation_lag`` months later, correcting when the furnisher confirms the
    error (``confirm_rate``) and rejecting the dispute otherwise. Every figure is an assumption.
    """

    dispute_rate: dict[Severity, Share] = Field(
        default_factory=lambda: {
            "severe": 0.40,
            "moderate": 0.15,
            "mild": 0.05,
            "favourable": 0.01,
        }
    )
    review_months: int = Field(default=6, ge=1, le=24)
    investigation_lag: int = Field(default=1, ge=0, le=12)
    confirm_rate: Share = 0.9

    @field_validator("dispute_rate")
    @classmethod
    def _every_severity(cls, value: dict[str, float]) -> dict[str, float]:
        missing = {"severe", "moderate", "mild", "favourable"} - set(value)
        if missing:
            raise ValueError(f"dispute_rate needs a rate for {', '.join(sorted(missing))}")
        return value


class Aggregator(Model):
    """The central aggregator: how it links identities and settles conflicting reports.

    Bureaus submit at the scoring snapshots. ``linkage`` chooses the person keys that
    reconciliation uses (both methods are always measured); ``match_threshold`` is the Splink
    match probability at or above which two records are linked; ``rules`` is the order in which
    conflicting values of one account are settled. In the credit market, where the sharing
    regime lets lenders reach the central body, lenders may buy its consensus score at
    ``price`` per inquiry.
    """

    linkage: Literal["splink", "exact"] = "splink"
    match_threshold: float = Field(default=0.3, gt=0.0, lt=1.0)
    rules: list[ReconciliationRule] = Field(
        default_factory=lambda: ["furnisher_of_record", "most_recent", "majority"],
        min_length=1,
    )
    disputes: Disputes = Field(default_factory=Disputes)
    price: float = Field(
        default=2.0,
        ge=0.0,
        le=1000.0,
        description="yuan a lender pays per inquiry for the consensus score, where the sharing "
        "regime offers it (an assumption)",
    )

    @field_validator("rules")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("rules must not repeat a rule")
        return value
