"""Lenders' decision policies: pure functions from the scores a lender bought to its decisions.

A lender that subscribes to bureaus asks each of them for an applicant's probability of default
(PD) and decides with one named policy:

- ``own_judgment``: its own noisy screening, as before any lender bought a score;
- ``single``: its one bureau's PD against its cut-off;
- ``waterfall``: the first of its bureaus, in its order, that has a file on the applicant;
- ``worst_of``: the highest PD among its bureaus that have a file;
- ``consensus``: the aggregator's consensus PD.

Where none of its bureaus has a file the lender's thin-file rule applies: ``decline``,
``own_judgment`` (fall back on its own screening) or ``smaller_amount`` (approve, at a fraction
of the amount). The cut-off comes from the lender's risk appetite: a maximum PD, or the PD that
approves a target share of applicants.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bureau.config.market import (
    AGGREGATOR,
    DECISION_COLUMNS,
    OWN_JUDGMENT,
    POLICIES,
    THIN_FILE_RULES,
)
from bureau.errors import BureauError


class PolicyError(BureauError, ValueError):
    """A policy asked for what it cannot do (an unknown name, scores it was not given)."""


@dataclass(frozen=True)
class Decisions:
    """A lender's decisions on a batch of applications, one entry per application.

    Attributes
    ----------
    approved
        Whether each application is approved.
    decided_by
        Whose score decided (a bureau id, ``aggregator``), or ``own_judgment``.
    pd
        The PD the lender saw (NaN where it decided without one).
    amount_factor
        The share of the amount asked that is lent (1 but under the ``smaller_amount`` rule).
    """

    approved: np.ndarray
    decided_by: np.ndarray
    pd: np.ndarray
    amount_factor: np.ndarray

    def frame(self, application_id: np.ndarray) -> pd.DataFrame:
        """Return the decisions as the table the world takes.

        Parameters
        ----------
        application_id
            The applications' ids, in the order of the decisions.

        Returns
        -------
        pandas.DataFrame
            ``application_id``, ``approved``, ``decided_by``, ``pd``, ``amount_factor``.
        """
        values = (
            np.asarray(application_id, dtype=np.int64),
            self.approved,
            self.decided_by,
            self.pd,
            self.amount_factor,
        )
        return pd.DataFrame(dict(zip(DECISION_COLUMNS, values, strict=True)))


def policy_for(policy: str, option: tuple[str, ...]) -> str:
    """Return how a lender reads an option it buys: the aggregator's score as ``consensus``.

    Parameters
    ----------
    policy
        The lender's policy.
    option
        The sources it buys.

    Returns
    -------
    str
        ``consensus`` for the aggregator alone, the lender's policy otherwise.
    """
    return "consensus" if tuple(option) == (AGGREGATOR,) else policy


def lender_pd(policy: str, pds: np.ndarray, sources: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Return the PD a policy reads from the scores, and whose score it is.

    Parameters
    ----------
    policy
        One of :data:`POLICIES` other than ``own_judgment``.
    pds
        Applications x sources: each source's PD, NaN where it has no file on the applicant.
    sources
        The sources of the columns, in the lender's order (bureau ids, or ``aggregator``).

    Returns
    -------
    tuple of numpy.ndarray
        The PD (NaN where no source has a file) and the source it came from (``""`` there).

    Raises
    ------
    PolicyError
        For an unknown policy, or a policy given sources it does not use.
    """
    pds = np.asarray(pds, dtype=np.float64).reshape(len(pds), len(sources))
    names = np.asarray(sources, dtype=object)
    has = ~np.isnan(pds)
    if policy in ("single", "consensus"):
        if len(sources) != 1 or (policy == "consensus") != (sources[0] == AGGREGATOR):
            wanted = "the aggregator alone" if policy == "consensus" else "one bureau"
            raise PolicyError(f"policy {policy!r} needs {wanted}, not {sources}")
        column = np.zeros(len(pds), dtype=np.int64)
    elif policy == "waterfall":
        column = np.argmax(has, axis=1)
    elif policy == "worst_of":
        column = np.argmax(np.where(has, pds, -np.inf), axis=1)
    else:
        raise PolicyError(f"unknown policy {policy!r}; expected one of {', '.join(POLICIES[1:])}")
    rows = np.arange(len(pds))
    found = has[rows, column] if len(sources) else np.zeros(len(pds), dtype=bool)
    pd_ = np.where(found, pds[rows, column], np.nan)
    return pd_, np.where(found, names[column], "")


def decide(
    policy: str,
    pds: np.ndarray,
    sources: list[str],
    cutoff: float,
    own_approved: np.ndarray,
    *,
    thin_file: str = "own_judgment",
    thin_file_amount: float = 0.5,
) -> Decisions:
    """Decide on applications with a lender's policy.

    Parameters
    ----------
    policy
        One of :data:`POLICIES`.
    pds
        Applications x sources: each source's PD, NaN where it has no file.
    sources
        The sources of the columns, in the lender's order.
    cutoff
        The highest PD approved.
    own_approved
        The lender's own screening of each application.
    thin_file
        What to do where no source has a file: one of :data:`THIN_FILE_RULES`.
    thin_file_amount
        The share of the amount lent under the ``smaller_amount`` rule.

    Returns
    -------
    Decisions
        One decision per application.

    Raises
    ------
    PolicyError
        For an unknown policy or thin-file rule.
    """
    own = np.asarray(own_approved, dtype=bool)
    n = own.size
    if thin_file not in THIN_FILE_RULES:
        raise PolicyError(
            f"unknown thin-file rule {thin_file!r}; expected one of {', '.join(THIN_FILE_RULES)}"
        )
    if policy == OWN_JUDGMENT:
        return Decisions(
            own, np.full(n, OWN_JUDGMENT, dtype=object), np.full(n, np.nan), np.ones(n)
        )
    pd_, source = lender_pd(policy, pds, sources)
    scored = ~np.isnan(pd_)
    approved = scored & (pd_ <= cutoff)
    decided_by = source.astype(object)
    factor = np.ones(n)
    thin = ~scored
    if thin_file == "own_judgment":
        approved = np.where(thin, own, approved)
        decided_by = np.where(thin, OWN_JUDGMENT, decided_by)
    else:
        # The lender's rule decides for want of a file: it is named after its first source.
        decided_by = np.where(thin, sources[0] if sources else OWN_JUDGMENT, decided_by)
        if thin_file == "smaller_amount":
            approved = approved | thin
            factor = np.where(thin, thin_file_amount, 1.0)
    return Decisions(approved, decided_by.astype(object), pd_, factor)


def cutoff_for(
    *, max_pd: float | None = None, target_approval: float | None = None, pds: np.ndarray
) -> float:
    """Return a lender's cut-off from its risk appetite.

    Parameters
    ----------
    max_pd
        The highest PD the lender accepts: the cut-off itself.
    target_approval
        The share of scored applicants to approve: the cut-off is the PD at that quantile of
        ``pds``.
    pds
        The PDs of recent applicants (used only with ``target_approval``).

    Returns
    -------
    float
        The cut-off; with a target and no PD to set it by, 1 (approve every scored applicant
        until there are some).

    Raises
    ------
    PolicyError
        Unless exactly one of ``max_pd`` and ``target_approval`` is given.
    """
    if (max_pd is None) == (target_approval is None):
        raise PolicyError("a risk appetite is either max_pd or target_approval, exactly one")
    if max_pd is not None:
        return float(max_pd)
    seen = np.asarray(pds, dtype=np.float64)
    seen = seen[~np.isnan(seen)]
    if not seen.size:
        return 1.0
    return float(np.quantile(seen, target_approval, method="inverted_cdf"))
