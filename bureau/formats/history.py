"""The payment history string: a status character per month, oldest first.

A submitted or consolidated tradeline carries the statuses of the 24 months up to its snapshot
as one string (``N`` current, ``1``-``4`` months past due, ``W`` written off, ``C`` closed, ``-``
nothing reported), the form a credit report prints. Bureaus write it, the aggregator and the
analysis read it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Months a history holds, ending at its snapshot.
HISTORY_MONTHS = 24
#: Codes of a default: 90+ days past due, or written off.
DEFAULT_CODES = ("4", "W")
#: How delinquent each status code is: months past due, 5 for written off, 0 for current or
#: closed.
STATUS_LEVELS = {"N": 0, "1": 1, "2": 2, "3": 3, "4": 4, "W": 5, "C": 0}


def status_levels(status: pd.Series | np.ndarray) -> np.ndarray:
    """The delinquency level of each status code.

    Parameters
    ----------
    status
        One-character status codes.

    Returns
    -------
    numpy.ndarray
        float64 :data:`STATUS_LEVELS` of each code; 0 for ``-`` (no report), a missing value
        or any other text.
    """
    # Factorised first, not Series.map: mapping arrow-backed strings goes value by value.
    codes, values = pd.factorize(status)
    # Code -1, a missing value, takes the last entry.
    levels = np.array([*(STATUS_LEVELS.get(v, 0) for v in values), 0], dtype=np.float64)
    return levels[codes]


def history_strings(
    row: np.ndarray, month: np.ndarray, status: np.ndarray, rows: int, last: int
) -> np.ndarray:
    """Build history strings from monthly reports.

    Parameters
    ----------
    row
        The tradeline (0-based row of the result) of each monthly report.
    month, status
        Each report's month and one-character status code.
    rows
        How many tradelines.
    last
        The window's last month.

    Returns
    -------
    numpy.ndarray
        ``rows`` strings of :data:`HISTORY_MONTHS` characters, oldest first, ``-`` where no
        report.
    """
    grid = np.full((rows, HISTORY_MONTHS), ord("-"), dtype=np.uint8)
    column = np.asarray(month) - (last - HISTORY_MONTHS + 1)
    inside = (column >= 0) & (column < HISTORY_MONTHS)
    codes = np.frombuffer("".join(np.asarray(status)[inside].tolist()).encode("ascii"), np.uint8)
    grid[np.asarray(row)[inside], column[inside]] = codes
    return grid.view(f"S{HISTORY_MONTHS}").ravel().astype(str)


def history_defaulted(history: pd.Series, first: int, last: int, end: int) -> np.ndarray:
    """Whether each history shows a default (90+ or written off) in months ``first..last``.

    Parameters
    ----------
    history
        History strings whose last character is month ``end``.
    first, last
        The months asked about (inclusive).
    end
        The month of each string's last character.

    Returns
    -------
    numpy.ndarray
        One bool per history.
    """
    lo = max(first - (end - HISTORY_MONTHS + 1), 0)
    hi = min(last - (end - HISTORY_MONTHS + 1), HISTORY_MONTHS - 1)
    if hi < lo or len(history) == 0:
        return np.zeros(len(history), dtype=bool)
    window = history.astype(str).str.slice(lo, hi + 1)
    hit = np.zeros(len(history), dtype=bool)
    for code in DEFAULT_CODES:
        hit |= window.str.contains(code, regex=False).to_numpy(dtype=bool)
    return hit
