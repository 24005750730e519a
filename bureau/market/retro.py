"""Lenders' retro tests: how each bureau, or combination, would have ranked the lender's book.

At each round start a lender sends its past applicants, as of their application months, to
every bureau it could buy from and compares their scores with the outcomes it has seen on its
own book. An option's value is what its ranking is worth to the lender less what it costs:
``ranking_value`` (yuan per application for a perfect ranking over a random one) times the
option's Gini on the book, less the inquiry prices of its bureaus. The lender switches to the
best option when it beats the current one by more than its inertia (switching costs), so
market shares, inquiry volumes and bureau revenue follow from these choices.
"""

from __future__ import annotations

from itertools import combinations, permutations

import numpy as np
import pandas as pd

from bureau.analysis.metrics import discrimination
from bureau.market.policies import AGGREGATOR, lender_pd, policy_for

#: The columns of :func:`retro_values`.
RETRO_COLUMNS = ("option", "rows", "coverage", "gini", "cost", "value")


def options_for(
    policy: str, bureaus: list[str], size: int, aggregator: bool
) -> list[tuple[str, ...]]:
    """Return what a lender with a policy could buy.

    Parameters
    ----------
    policy
        The lender's policy.
    bureaus
        The bureaus that sell scores to this lender.
    size
        How many bureaus the lender's policy combines (1 for ``single``).
    aggregator
        Whether the sharing regime lets lenders buy the aggregator's consensus.

    Returns
    -------
    list of tuple of str
        The options, each a tuple of sources in the order the policy reads them: one bureau
        for ``single``, ordered ``size``-tuples for ``waterfall`` (order matters), unordered
        ones for ``worst_of``; the consensus is an option wherever the regime offers it.
    """
    bureaus = sorted(bureaus)
    if policy == "waterfall":
        found = list(permutations(bureaus, min(size, len(bureaus))))
    elif policy == "worst_of":
        found = list(combinations(bureaus, min(size, len(bureaus))))
    elif policy == "single":
        found = [(b,) for b in bureaus]
    else:
        found = []
    return [*found, (AGGREGATOR,)] if aggregator else found


def retro_values(
    bad: np.ndarray,
    scores: dict[str, np.ndarray],
    options: list[tuple[str, ...]],
    policy: str,
    prices: dict[str, float],
    ranking_value: float,
) -> pd.DataFrame:
    """Value each option on a lender's book.

    Parameters
    ----------
    bad
        The outcome the lender saw on each booked application (True: it went bad).
    scores
        Each source's PD for each booked application, NaN where it had no file.
    options
        The options to value (see :func:`options_for`).
    policy
        The lender's policy (the consensus option is read as ``consensus``).
    prices
        Each source's price per inquiry, in yuan.
    ranking_value
        Yuan per application that a perfect ranking is worth over a random one.

    Returns
    -------
    pandas.DataFrame
        One row per option (columns :data:`RETRO_COLUMNS`): the applications valued, the share
        an option scored, its Gini (an applicant it could not score ranks at the middle), its
        cost per application and its value. The Gini is 0 when the book has one class only.
    """
    bad = np.asarray(bad, dtype=bool)
    rows = []
    for option in options:
        read_as = policy_for(policy, option)
        pds = np.column_stack([scores[s] for s in option]) if len(bad) else np.empty((0, 1))
        pd_, _ = lender_pd(read_as, pds, list(option))
        scored = ~np.isnan(pd_)
        middle = float(np.median(pd_[scored])) if scored.any() else 0.5
        gini = discrimination(bad, np.where(scored, pd_, middle)).get("gini", np.nan)
        gini = 0.0 if np.isnan(gini) else float(gini)
        cost = float(sum(prices[s] for s in option))
        rows.append(
            {
                "option": "+".join(option),
                "rows": len(bad),
                "coverage": float(scored.mean()) if len(bad) else 0.0,
                "gini": gini,
                "cost": cost,
                "value": ranking_value * gini - cost,
            }
        )
    return pd.DataFrame(rows, columns=list(RETRO_COLUMNS))


def choose(values: pd.DataFrame, current: tuple[str, ...], inertia: float) -> tuple[str, ...]:
    """Return the option a lender buys next: the best one if it beats the current by the inertia.

    Parameters
    ----------
    values
        The options' values from :func:`retro_values`.
    current
        The option the lender buys now.
    inertia
        Yuan per application the best option must gain over the current one to switch.

    Returns
    -------
    tuple of str
        The option to buy. Ties go to the first option in ``values``; a current option that is
        no longer on offer is always left.
    """
    if values.empty:
        return current
    best = values.loc[values["value"].idxmax()]
    now = values[values["option"] == "+".join(current)]
    if now.empty or best["value"] - float(now["value"].iloc[0]) > inertia:
        return tuple(str(best["option"]).split("+"))
    return current
