"""The credit market: lenders' policies, cut-offs, retro tests and choice of bureaus."""

from bureau.config.market import AGGREGATOR, OWN_JUDGMENT, POLICIES, THIN_FILE_RULES
from bureau.market.policies import (
    Decisions,
    PolicyError,
    cutoff_for,
    decide,
    lender_pd,
    policy_for,
)
from bureau.market.retro import RETRO_COLUMNS, choose, options_for, retro_values

__all__ = [
    "AGGREGATOR",
    "OWN_JUDGMENT",
    "POLICIES",
    "RETRO_COLUMNS",
    "THIN_FILE_RULES",
    "Decisions",
    "PolicyError",
    "choose",
    "cutoff_for",
    "decide",
    "lender_pd",
    "options_for",
    "policy_for",
    "retro_values",
]
