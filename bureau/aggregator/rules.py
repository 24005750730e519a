"""Reconciliation rules: how the aggregator settles bureaus' conflicting values of one field.

Each rule is a pure function of the candidates still standing: one row per bureau's value of
one field of one item (an account or a public record), with the item's ``group``, the bureau's
``token`` (the value as text, for comparing), ``direct`` (the bureau had it from the furnisher
itself) and ``last_month`` (the month the bureau last heard of it). A rule returns which
candidates survive; it never removes every candidate of a group.

:func:`settle` applies the rules in the configured order: a group is settled by the first rule
after which all its surviving candidates agree; what is still open after the last rule goes to
the first surviving bureau in alphabetical order (``tiebreak``). A field every bureau agreed on
is ``agreed``; a field only one bureau reported is ``single``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

Rule = Callable[[pd.DataFrame], np.ndarray]


def furnisher_of_record(candidates: pd.DataFrame) -> np.ndarray:
    """Keep the bureaus that had the item from its furnisher itself, if any did.

    Parameters
    ----------
    candidates
        ``group``, ``direct`` (and any other columns).

    Returns
    -------
    numpy.ndarray
        Survivors (bool).
    """
    direct = candidates["direct"].to_numpy(dtype=bool)
    any_direct = candidates.groupby("group", sort=False)["direct"].transform("any").to_numpy()
    return direct | ~any_direct


def most_recent(candidates: pd.DataFrame) -> np.ndarray:
    """Keep the bureaus that heard of the item most recently.

    Parameters
    ----------
    candidates
        ``group``, ``last_month``.

    Returns
    -------
    numpy.ndarray
        Survivors (bool).
    """
    last = candidates["last_month"].to_numpy()
    latest = candidates.groupby("group", sort=False)["last_month"].transform("max").to_numpy()
    return last == latest


def majority(candidates: pd.DataFrame) -> np.ndarray:
    """Keep the bureaus holding the value most of them hold (all tied values survive).

    Parameters
    ----------
    candidates
        ``group``, ``token``.

    Returns
    -------
    numpy.ndarray
        Survivors (bool).
    """
    votes = candidates.groupby(["group", "token"], sort=False)["token"].transform("size")
    most = votes.groupby(candidates["group"].to_numpy(), sort=False).transform("max")
    return (votes == most).to_numpy()


RULES: dict[str, Rule] = {
    "furnisher_of_record": furnisher_of_record,
    "most_recent": most_recent,
    "majority": majority,
}


def _starts(group: np.ndarray) -> np.ndarray:
    """Where each run of equal values of a sorted ``group`` begins."""
    return np.flatnonzero(np.r_[True, group[1:] != group[:-1]]) if len(group) else group


def _agree(group: np.ndarray, token: np.ndarray) -> np.ndarray:
    """Per candidate: do all candidates of its group (groups contiguous) hold one value."""
    if not len(group):
        return np.ones(0, dtype=bool)
    starts = _starts(group)
    sizes = np.diff(np.r_[starts, len(group)])
    first = np.repeat(token[starts], sizes)
    differs = np.logical_or.reduceat(token != first, starts)
    return np.repeat(~differs, sizes)


def settle(candidates: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """Settle one field of every group: the value kept, the bureau it came from, the rule.

    Parameters
    ----------
    candidates
        ``group``, ``bureau``, ``token``, ``direct``, ``last_month``, sorted by group then
        bureau. Tokens are compared for equality only: any values will do (codes, strings).
    order
        Names of :data:`RULES`, in the order they apply.

    Returns
    -------
    pandas.DataFrame
        One row per group (sorted): ``group``, ``row`` (the winning candidate's position in
        ``candidates``), ``bureau``, ``rule`` and ``conflict`` (whether bureaus disagreed).
    """
    frame = candidates[["group", "bureau", "token", "direct", "last_month"]].reset_index(drop=True)
    frame["row"] = np.arange(len(frame))
    group = frame["group"].to_numpy()
    token = frame["token"].to_numpy()
    starts = _starts(group)
    sizes = np.diff(np.r_[starts, len(group)])
    conflict = ~_agree(group, token)
    rule = np.where(conflict, "", np.where(np.repeat(sizes, sizes) == 1, "single", "agreed"))
    rule = rule.astype(object)
    alive = np.ones(len(frame), dtype=bool)
    for name in order:
        open_ = conflict & (rule == "") & alive
        if not open_.any():
            break
        standing = frame[open_]
        survives = RULES[name](standing)
        alive[np.flatnonzero(open_)[~survives]] = False
        rows = np.flatnonzero(open_)[survives]
        # A group is settled once its survivors agree; survivors keep the group order.
        agreed = _agree(group[rows], token[rows])
        settled_groups = np.unique(group[rows][agreed])
        rule[conflict & (rule == "") & np.isin(group, settled_groups)] = name
    rule[conflict & (rule == "")] = "tiebreak"
    # The first standing candidate of each group, by bureau: candidates are sorted so.
    alive_rows = np.flatnonzero(alive)
    winners = alive_rows[_starts(group[alive_rows])]
    return pd.DataFrame(
        {
            "group": group[starts],
            "row": winners,
            "bureau": frame["bureau"].to_numpy()[winners],
            "rule": rule[starts],
            "conflict": conflict[starts],
        }
    )
