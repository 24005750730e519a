"""Platform memberships: who uses which e-commerce, payment, messaging, telecom, ... platform.

Each platform's penetration is the share of adults of average age, tier and digital footprint
who use it; age, city tier, digital footprint and income shift that on the log-odds scale. The
platforms of an exclusive group (the three mobile carriers) split their members: everyone has
exactly one. P2P platforms lose all their members when P2P lending collapses.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bureau.config.scenario import P2PCollapse, Scenario
from bureau.rng import generator
from bureau.world.common import expit, income_score, logit

# Members who joined before the window joined up to this many months before it.
_PRE_WINDOW_MONTHS = 60


def p2p_collapse(scn: Scenario) -> P2PCollapse | None:
    """Return the scenario's P2P collapse (the earliest, if several), or None.

    Parameters
    ----------
    scn
        The scenario.

    Returns
    -------
    P2PCollapse or None
        The shock.
    """
    shocks = [s for s in scn.shocks.values() if isinstance(s, P2PCollapse)]
    return min(shocks, key=lambda s: (s.month, -s.strategic_default_share)) if shocks else None


def collapse_month(scn: Scenario) -> int | None:
    """Return the month P2P lending collapses, or None if the scenario has no collapse."""
    shock = p2p_collapse(scn)
    return shock.month if shock else None


def generate_memberships(scn: Scenario, chunk: int, persons: pd.DataFrame) -> pd.DataFrame:
    """Generate which platforms each person of a chunk uses, and since when.

    Parameters
    ----------
    scn
        The scenario.
    chunk
        The 0-based chunk index.
    persons
        The chunk's persons.

    Returns
    -------
    pandas.DataFrame
        One row per (person, platform): ``person_id``, ``platform_id``, ``join_month``
        (negative when before the window) and ``leave_month`` (-1 when still a member).
    """
    rng = generator(scn.seed, "world.memberships", chunk)
    n = len(persons)
    platform_ids = sorted(scn.platforms)
    age = persons["age"].to_numpy().astype(float)
    tier = persons["city_tier"].to_numpy().astype(float)
    digital = persons["digital_footprint"].to_numpy().astype(float)
    income_z = income_score(persons["monthly_income"])

    # Each platform's pull on each person, on the log-odds scale, without its intercept.
    pull = np.empty((n, len(platform_ids)))
    for j, pid in enumerate(platform_ids):
        plat = scn.platforms[pid]
        pull[:, j] = (
            plat.age_effect * (age - 35.0) / 10.0
            + plat.tier_effect * (tier - 2.0)
            + plat.digital_effect * digital
            + plat.income_effect * income_z
        )
    penetration = np.array([scn.platforms[p].penetration for p in platform_ids])
    member = np.zeros((n, len(platform_ids)), dtype=bool)
    free = np.array([scn.platforms[p].exclusive_group is None for p in platform_ids])
    chance = expit(logit(penetration[free]) + pull[:, free])
    member[:, free] = rng.random((n, int(free.sum()))) < chance

    groups = sorted({scn.platforms[p].exclusive_group for p in platform_ids} - {None})
    for group in groups:
        cols = np.flatnonzero([scn.platforms[p].exclusive_group == group for p in platform_ids])
        # Within an exclusive group everyone has exactly one; penetration is a relative weight.
        weight = penetration[cols] * np.exp(pull[:, cols])
        cum = np.cumsum(weight, axis=1)
        pick = (cum < rng.random(n)[:, None] * cum[:, -1:]).sum(axis=1)
        chosen = cum[:, -1] > 0
        member[np.flatnonzero(chosen), cols[np.minimum(pick, cols.size - 1)][chosen]] = True

    person_idx, plat_idx = np.nonzero(member)
    k = person_idx.size
    in_window = (
        rng.random(k)
        < np.array([scn.platforms[p].joined_in_window for p in platform_ids])[plat_idx]
    )
    join = np.where(
        in_window,
        rng.integers(0, scn.months, k),
        -rng.integers(1, _PRE_WINDOW_MONTHS + 1, k),
    ).astype(np.int16)

    leave = np.full(k, -1, dtype=np.int16)
    collapse = collapse_month(scn)
    if collapse is not None:
        is_p2p = np.array([scn.platforms[p].kind == "p2p" for p in platform_ids])[plat_idx]
        # Nobody joins a P2P platform once the sector has collapsed.
        late = is_p2p & (join >= collapse)
        keep = ~late
        person_idx, plat_idx, join, leave = (
            person_idx[keep],
            plat_idx[keep],
            join[keep],
            leave[keep],
        )
        leave[is_p2p[keep]] = collapse

    return pd.DataFrame(
        {
            "person_id": persons["person_id"].to_numpy()[person_idx],
            "platform_id": pd.Categorical.from_codes(plat_idx.astype(np.int16), platform_ids),
            "join_month": join,
            "leave_month": leave,
        }
    )
