"""Financial hardship: the person-level episodes that make people miss payments.

Each month a person may fall into hardship (job loss, illness, a failed business); the monthly
chance rises as creditworthiness falls and impulsivity rises, and an income shock multiplies it
for the people it touches. An episode lasts a geometric number of months, longer for the less
creditworthy. Episodes are truth only: bureaus see their consequences (missed payments, more
applications, fewer purchases), never the episodes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bureau.config.scenario import IncomeShock, Scenario
from bureau.rng import generator
from bureau.world.common import expit, logit

# Months simulated before month 0 so that episodes already under way at the start exist.
BURN_IN = 12

# Relative exposure of each occupation to an economy-wide income shock (an assumption:
# services and small businesses were hit hardest in 2020, civil servants and retirees least).
_SHOCK_EXPOSURE = np.array([0.8, 1.1, 1.6, 1.8, 0.7, 0.6, 0.2, 0.5, 0.2])


def episode_cover(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Mark the months covered by episodes, given their starts and lengths.

    Parameters
    ----------
    starts
        Boolean matrix (units x months), True where an episode starts.
    lengths
        Integer matrix of the same shape: the length of the episode starting there.

    Returns
    -------
    numpy.ndarray
        Boolean matrix, True where at least one episode is under way.
    """
    n, t = starts.shape
    row, col = np.nonzero(starts)
    return interval_cover(n, t, row, col, col + lengths[row, col])


def interval_cover(
    n: int, t: int, rows: np.ndarray, first: np.ndarray, end: np.ndarray
) -> np.ndarray:
    """Mark the months that intervals cover, unit by unit.

    Parameters
    ----------
    n, t
        Units and months.
    rows
        The unit of each interval.
    first, end
        Its first month and the month after its last; months outside ``0 .. t-1`` are cut.

    Returns
    -------
    numpy.ndarray
        Boolean matrix (units x months), True where at least one interval covers the month.
    """
    first = np.maximum(np.asarray(first, dtype=np.int64), 0)
    end = np.minimum(np.asarray(end, dtype=np.int64), t)
    keep = first < end
    diff = np.zeros((n, t + 1), dtype=np.int32)
    np.add.at(diff, (rows[keep], first[keep]), 1)
    np.add.at(diff, (rows[keep], end[keep]), -1)
    return np.cumsum(diff[:, :t], axis=1) > 0


def hardship_matrix(scn: Scenario, chunk: int, persons: pd.DataFrame) -> np.ndarray:
    """Simulate who is in hardship in which month.

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
    numpy.ndarray
        Boolean matrix (persons x months), starting :data:`BURN_IN` months before month 0.
    """
    rng = generator(scn.seed, "world.hardship", chunk)
    beh = scn.behaviour
    n, t = len(persons), scn.months + BURN_IN
    cw = persons["creditworthiness"].to_numpy().astype(float)
    imp = persons["impulsivity"].to_numpy().astype(float)

    odds = (
        logit(beh.hardship_rate)
        - beh.hardship_creditworthiness_effect * cw
        + beh.hardship_impulsivity_effect * imp
    )
    hazard = np.broadcast_to(expit(odds)[:, None], (n, t)).copy()

    exposure = _SHOCK_EXPOSURE[persons["occupation"].cat.codes.to_numpy()]
    for shock_id in sorted(scn.shocks):
        shock = scn.shocks[shock_id]
        if not isinstance(shock, IncomeShock):
            continue
        touched = rng.random(n) < np.clip(shock.affected_share * exposure, 0, 1)
        first = BURN_IN + shock.month
        last = min(first + shock.duration, t)
        hazard[touched, first:last] = np.minimum(
            hazard[touched, first:last] * shock.hardship_multiplier, 0.9
        )

    starts = rng.random((n, t)) < hazard
    mean_len = beh.hardship_mean_months * np.exp(-beh.hardship_length_effect * cw)
    lengths = rng.geometric(np.clip(1.0 / mean_len, 0.02, 1.0)[:, None], size=(n, t))
    return episode_cover(starts, lengths)
