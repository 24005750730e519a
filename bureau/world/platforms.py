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

# Members who joined before the window joined up to this many months before it.
_PRE_WINDOW_MONTHS = 60


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return float(np.log(p / (1 - p)))


def collapse_month(scn: Scenario) -> int | None:
    """Return the month P2P lending collapses, or None if the scenario has no collapse."""
    months = [s.month for s in scn.shocks.values() if isinstance(s, P2PCollapse)]
    return min(months) if months else None


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
    income_z = (np.log(persons["monthly_income"].to_numpy()) - np.log(5000.0)) / 0.7

    member = np.zeros((n, len(platform_ids)), dtype=bool)
    logits = np.empty((n, len(platform_ids)))
    for j, pid in enumerate(platform_ids):
        plat = scn.platforms[pid]
        logits[:, j] = (
            _logit(plat.penetration)
            + plat.age_effect * (age - 35.0) / 10.0
            + plat.tier_effect * (tier - 2.0)
            + plat.digital_effect * digital
            + plat.income_effect * income_z
        )
    free = np.array([scn.platforms[p].exclusive_group is None for p in platform_ids])
    member[:, free] = rng.random((n, int(free.sum()))) < 1.0 / (1.0 + np.exp(-logits[:, free]))

    groups = sorted({scn.platforms[p].exclusive_group for p in platform_ids} - {None})
    for group in groups:
        cols = np.array([scn.platforms[p].exclusive_group == group for p in platform_ids])
        # Within an exclusive group, penetration is a relative weight, not a probability.
        pen = np.array([scn.platforms[p].penetration for p in platform_ids])[cols]
        logit_pen = np.log(pen / (1 - pen))
        weight = pen * np.exp(logits[:, cols] - logit_pen)
        cum = np.cumsum(weight, axis=1)
        pick = (cum < rng.random(n)[:, None] * cum[:, -1:]).sum(axis=1)
        member[np.arange(n), np.flatnonzero(cols)[pick]] = True

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
