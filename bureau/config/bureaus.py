"""Bureau profiles: who each of the eight is, what data reaches it, and how well.

The profiles are data (``data/bureaus.toml``), validated like scenarios. A scenario starts from
them and may change any field, switch a bureau off (``enabled = false``) or add one.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from bureau.config.base import Identifier, Model, Share

IntakeFormat = Literal["jsonl", "csv_gb18030", "fixed_width"]
MatchRule = Literal["national_id", "phone_name", "name_birth"]
FeatureGroup = Literal[
    "credit",
    "inquiries",
    "public_records",
    "identity",
    "ecommerce",
    "payments",
    "social",
    "telecom",
]
Sharing = Literal["siloed", "shared", "licensed_only"]
COURTS = "courts"


class Defects(Model):
    """Rates of each defect a bureau's channels inject into what they furnish."""

    late: Share = Field(description="records that arrive one month later than the usual lag")
    skipped_month: Share = Field(description="account-months a furnisher fails to report")
    status_error: Share = Field(description="misreported delinquency status")
    stale_balance: Share = Field(description="balance repeated from the month before")
    name_typo: Share = Field(description="a wrong character in the name")
    id_transposed: Share = Field(description="two adjacent digits of the ID number swapped")
    id_missing: Share = Field(description="records without an ID number")
    old_phone: Share = Field(
        description="the person's previous phone number instead of the current"
    )
    duplicate: Share = Field(description="records sent twice")
    wrongful_record: Share = Field(
        description="public records attached to the wrong person, per record"
    )


class BureauProfile(Model):
    """One bureau: owner, data sources, intake, matching, score scale and model family."""

    name: str = Field(min_length=1, max_length=60)
    owner: Identifier
    enabled: bool = True
    licensed: bool = False
    intake_format: IntakeFormat
    sources: list[Identifier] = Field(min_length=1)
    reporting_lag: int = Field(ge=0, le=6)
    score_min: int = Field(ge=0, le=2000)
    score_max: int = Field(ge=1, le=2000)
    points_to_double_odds: float = Field(
        default=40.0, gt=0.0, le=500.0, description="score points that double the good:bad odds"
    )
    base_odds: float | None = Field(
        default=None,
        gt=0.0,
        le=1_000_000.0,
        description="good:bad odds at the base score; the development sample's median when unset",
    )
    base_score: int | None = Field(
        default=None, description="score at the base odds; the middle of the range when unset"
    )
    model: Literal["lightgbm", "scorecard"]
    feature_groups: list[FeatureGroup] = Field(min_length=1)
    matching: list[MatchRule] = Field(min_length=1)
    defects: Defects
    price: float = Field(
        default=2.0,
        ge=0.0,
        le=1000.0,
        description="yuan a lender pays per inquiry (an assumption unless a source is found)",
    )
    model_partitions: int | None = Field(
        default=None,
        ge=2,
        le=4096,
        description="train the LightGBM model with lightgbm.dask on this many row partitions "
        "over the Dask cluster (--scheduler), for a sample too large for one worker; the model "
        "then depends on the partitioning. Unset: one deterministic model in one process",
    )
    retrain: bool = Field(
        default=True,
        description="refit the model at every round start of the market; false: fit it once, "
        "at the first round where it can be fitted, and rescore with it after",
    )

    @model_validator(mode="after")
    def _range(self) -> BureauProfile:
        if self.score_min >= self.score_max:
            raise ValueError("score_min must be below score_max")
        if self.base_score is not None and not self.score_min <= self.base_score <= self.score_max:
            raise ValueError("base_score must lie in the score range")
        return self
