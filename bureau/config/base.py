"""Shared pieces of the configuration models."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Share = Annotated[float, Field(ge=0.0, le=1.0)]
Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]


class Model(BaseModel):
    """Base of every configuration model: unknown keys and non-finite numbers are errors.

    Instances are immutable.
    """

    # TOML has inf and nan; no weight, rate or amount of a scenario may be either.
    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False
    )
