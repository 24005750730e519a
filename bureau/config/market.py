"""The vocabulary of the credit market, shared by the world and the lenders' policies.

``decided_by`` in the world's applications names who decided: ``own_judgment`` (the lender's
own screening), a bureau id, or ``aggregator`` (the consensus of the central body).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from bureau.config.base import Model

#: Who decided an application when no bureau score was used: the lender's own screening.
OWN_JUDGMENT = "own_judgment"
#: The aggregator's name: its consensus as a source of scores, its database, its view in the
#: reports.
AGGREGATOR = "aggregator"

#: The policies a scenario's lender may have; ``consensus`` buys the aggregator's score, which
#: only a sharing regime with a central body (``shared``, ``licensed_only``) offers.
Policy = Literal["own_judgment", "single", "waterfall", "worst_of", "consensus"]
ThinFile = Literal["decline", "own_judgment", "smaller_amount"]
POLICIES: tuple[str, ...] = ("own_judgment", "single", "waterfall", "worst_of", "consensus")
THIN_FILE_RULES: tuple[str, ...] = ("decline", "own_judgment", "smaller_amount")
#: The columns of a table of lenders' decisions, as the world takes it.
DECISION_COLUMNS = ("application_id", "approved", "decided_by", "pd", "amount_factor")


class Market(Model):
    """The credit market: from ``start`` on, lenders decide with the scores they buy.

    From the first month of the market the run proceeds in rounds of ``round_months``: at
    each round start the bureaus refit their models on what they have received, every lender
    runs a retro test and may switch bureaus (only for a gain per application above
    ``inertia``), and during the round every application is sent to the lender's bureaus and
    decided with their scores. With ``enabled = false`` lenders decide on their own throughout.
    """

    enabled: bool = True
    start: int | None = Field(
        default=None,
        ge=2,
        description="the first month lenders use bureau scores; the month after the "
        "development snapshot when unset",
    )
    round_months: int = Field(default=6, ge=1, le=120)
    inertia: float = Field(
        default=2.0,
        ge=0.0,
        le=10_000.0,
        description="yuan per application a lender must gain to switch bureaus (switching costs)",
    )

    def first_month(self, development_snapshot: int) -> int:
        """The first month of the market.

        Parameters
        ----------
        development_snapshot
            The scenario's development snapshot.

        Returns
        -------
        int
            ``start``, or the month after the development snapshot.
        """
        return self.start if self.start is not None else development_snapshot + 1


class LenderMarket(Model):
    """What a lender buys and how it decides with it: the lender's side of the market.

    ``bureaus`` are the bureaus it subscribes to when the market opens, in the order its
    policy reads them (none for ``consensus``, which buys the aggregator's score);
    ``policy`` one of :data:`POLICIES`; ``thin_file``
    what it does when none of them has a file on the applicant; its risk appetite is either
    ``max_pd`` or ``target_approval``; ``ranking_value`` is what a perfect ranking of its
    applicants is worth to it over a random one, in yuan per application (what a retro test
    weighs against the bureaus' prices).
    """

    bureaus: list[str] = Field(default_factory=list)
    policy: Policy = "own_judgment"
    thin_file: ThinFile = "own_judgment"
    thin_file_amount: float = Field(default=0.5, gt=0.0, le=1.0)
    max_pd: float | None = Field(default=None, gt=0.0, le=1.0)
    target_approval: float | None = Field(default=None, gt=0.0, le=1.0)
    ranking_value: float = Field(default=40.0, ge=0.0, le=100_000.0)

    @model_validator(mode="after")
    def _consistent(self) -> LenderMarket:
        if self.policy == OWN_JUDGMENT:
            return self
        if self.policy == "consensus":
            if self.bureaus:
                raise ValueError(
                    "policy 'consensus' buys the aggregator's score: leave bureaus empty"
                )
        elif not self.bureaus:
            raise ValueError(f"policy {self.policy!r} needs at least one bureau in bureaus")
        if len(set(self.bureaus)) != len(self.bureaus):
            raise ValueError("bureaus must not repeat a bureau")
        if self.policy == "single" and len(self.bureaus) != 1:
            raise ValueError("policy 'single' reads exactly one bureau")
        if (self.max_pd is None) == (self.target_approval is None):
            raise ValueError("give exactly one risk appetite: max_pd or target_approval")
        return self
