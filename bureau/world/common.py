"""Small pieces every part of the world uses: link functions, the income score, row lookup."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit, logit

__all__ = ["expit", "income_score", "logit", "rows_of"]

# Log income is centred on 5,000 yuan a month and scaled by a typical spread of 0.7.
_INCOME_CENTRE = np.log(5000.0)
_INCOME_SCALE = 0.7


def income_score(monthly_income: np.ndarray | pd.Series) -> np.ndarray:
    """Standardised log income, the scale on which income enters every behavioural equation.

    Parameters
    ----------
    monthly_income
        Monthly income in yuan (positive).

    Returns
    -------
    numpy.ndarray
        ``(log(income) - log(5000)) / 0.7``.
    """
    return (np.log(np.asarray(monthly_income, dtype=float)) - _INCOME_CENTRE) / _INCOME_SCALE


def rows_of(persons: pd.DataFrame, person_ids: np.ndarray | pd.Series) -> np.ndarray:
    """Positions in a chunk's persons table of the given person ids.

    A chunk's persons have consecutive ids in order, so the position is an offset.

    Parameters
    ----------
    persons
        One chunk's persons, in ``person_id`` order.
    person_ids
        Ids of persons of that chunk.

    Returns
    -------
    numpy.ndarray
        int64 positions.
    """
    first = int(persons["person_id"].iloc[0]) if len(persons) else 0
    return np.asarray(person_ids, dtype=np.int64) - first
