"""Ties between persons: households and a social graph with homophily.

Social ties are drawn inside a chunk. Persons are ordered by a similarity key (province, then
age, education and creditworthiness, with noise); most ties join near neighbours in that
order, the rest join random persons. Similar people are therefore tied more often than chance,
creditworthiness included, which is what makes a consumer's ties informative about them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bureau.config.scenario import Scenario
from bureau.rng import generator

TIE_KINDS = ("household", "social")


def _household_pairs(household: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All pairs of members of the same household (households have at most four adults)."""
    left, right = [], []
    for lag in (1, 2, 3):
        same = household[lag:] == household[:-lag]
        idx = np.flatnonzero(same)
        left.append(idx)
        right.append(idx + lag)
    return np.concatenate(left), np.concatenate(right)


def generate_ties(scn: Scenario, chunk: int, persons: pd.DataFrame) -> pd.DataFrame:
    """Generate the household and social ties of one chunk.

    Parameters
    ----------
    scn
        The scenario.
    chunk
        The 0-based chunk index.
    persons
        The chunk's persons, in ``person_id`` order.

    Returns
    -------
    pandas.DataFrame
        One row per undirected tie: ``person_id`` < ``other_id``, ``kind`` (household or
        social) and ``strength`` (0-1, how close the tie is).
    """
    rng = generator(scn.seed, "world.ties", chunk)
    social = scn.social
    n = len(persons)
    ids = persons["person_id"].to_numpy()

    h_left, h_right = _household_pairs(persons["household_id"].to_numpy())

    province = persons["province"].cat.codes.to_numpy()
    similarity = (
        0.6 * persons["creditworthiness"].to_numpy()
        + 0.04 * persons["age"].to_numpy()
        + 0.3 * persons["education"].cat.codes.to_numpy()
        + rng.normal(0, 0.3, n)
    )
    order = np.lexsort((similarity, province))
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)

    degree = rng.poisson(social.ties_per_person / 2.0, n)
    source = np.repeat(np.arange(n), degree)
    m = source.size
    near = rng.random(m) < social.homophily
    step = 1 + rng.geometric(1.0 / social.neighbour_reach, m)
    sign = np.where(rng.random(m) < 0.5, -1, 1)
    near_target = order[np.clip(position[source] + sign * step, 0, n - 1)]
    target = np.where(near, near_target, rng.integers(0, n, m))

    left = np.concatenate([h_left, np.minimum(source, target)])
    right = np.concatenate([h_right, np.maximum(source, target)])
    kind = np.concatenate([np.zeros(h_left.size, np.int8), np.ones(m, np.int8)])
    strength = np.concatenate([np.full(h_left.size, 1.0), rng.beta(2.0, 5.0, m)]).astype(np.float32)

    keep = left != right
    ties = pd.DataFrame(
        {"a": left[keep], "b": right[keep], "kind": kind[keep], "strength": strength[keep]}
    )
    # A household tie outranks a social tie between the same two people.
    ties = ties.sort_values(["a", "b", "kind"], kind="stable").drop_duplicates(["a", "b"])
    return pd.DataFrame(
        {
            "person_id": ids[ties["a"].to_numpy()],
            "other_id": ids[ties["b"].to_numpy()],
            "kind": pd.Categorical.from_codes(ties["kind"].to_numpy(), TIE_KINDS),
            "strength": ties["strength"].to_numpy(),
        }
    )
