"""Access to credit by group of applicants: who got credit in the market, and how it went.

Per round and group (the applicants' hukou, gender, age band, city tier and device, whether any
bureau had a file on them, whether they were on any e-commerce, payment or messaging platform),
the approval rate and the true default rate of the approved, with bootstrap 95% intervals: so
financial inclusion is measured beside risk.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from bureau.analysis.fairness import CONFIDENCE, GROUP_ATTRIBUTES, RESAMPLES, person_groups
from bureau.analysis.market import loan_outcome
from bureau.rng import generator

#: The platform kinds whose membership is a digital footprint a platform bureau sees.
FOOTPRINT_KINDS = ("ecommerce", "payment", "messaging")
#: The groups of ``credit_access``: the persons' attributes, then two of the application.
ACCESS_GROUPS = (*GROUP_ATTRIBUTES, "thin_file", "no_platform")


def applicant_groups(
    applications: pd.DataFrame,
    persons: pd.DataFrame,
    memberships: pd.DataFrame,
    platform_kinds: dict[str, str],
    answers: pd.DataFrame,
    start: dt.date,
) -> pd.DataFrame:
    """Every application's groups: the applicant's attributes, thin file, no platform.

    Parameters
    ----------
    applications
        The world's applications.
    persons
        The world's persons (see :func:`~bureau.analysis.fairness.person_groups`).
    memberships
        The world's platform memberships.
    platform_kinds
        Each platform's kind.
    answers
        The bureaus' answers in the market: ``application_id``, ``match_status``.
    start
        The first day of month 0.

    Returns
    -------
    pandas.DataFrame
        One row per application, one text column per :data:`ACCESS_GROUPS`. ``thin_file`` is
        ``yes`` when no bureau had a file on the applicant when asked, and empty before the
        market; ``no_platform`` is ``yes`` when the applicant was a member of no
        e-commerce, payment or messaging platform in the month applied.
    """
    month = applications["month"].to_numpy(dtype=np.int64)
    groups = person_groups(persons, start, 0).reindex(applications["person_id"].to_numpy())
    frame = groups.reset_index(drop=True)
    any_file = (
        answers.assign(found=answers["match_status"] == "matched")
        .groupby("application_id")["found"]
        .any()
    )
    found = any_file.reindex(applications["application_id"].to_numpy())
    frame["thin_file"] = np.where(found.isna(), "", np.where(found.fillna(False), "no", "yes"))
    kinds = memberships["platform_id"].astype(str).map(platform_kinds)
    footprint = memberships[kinds.isin(FOOTPRINT_KINDS).to_numpy()]
    joined = pd.DataFrame(
        {
            "person_id": applications["person_id"].to_numpy(),
            "month": month,
            "row": np.arange(len(month)),
        }
    ).merge(footprint[["person_id", "join_month", "leave_month"]], on="person_id", how="left")
    leave = joined["leave_month"].to_numpy(dtype=float)
    member = (joined["join_month"].to_numpy(dtype=float) <= joined["month"].to_numpy()) & (
        (leave < 0) | (joined["month"].to_numpy() < leave)
    )
    is_member = np.zeros(len(month), dtype=bool)
    is_member[joined.loc[member, "row"].to_numpy()] = True
    frame["no_platform"] = np.where(is_member, "no", "yes")
    return frame[list(ACCESS_GROUPS)]


def _rate_interval(
    rng: np.random.Generator, hits: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap percentile interval of proportions: a resample's hits are binomial."""
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(counts > 0, hits / np.maximum(counts, 1), np.nan)
        drawn = rng.binomial(counts[None, :], np.nan_to_num(p)[None, :], (RESAMPLES, counts.size))
        rates = drawn / np.maximum(counts, 1)[None, :]
    tail = (1 - CONFIDENCE) / 2
    low, high = np.quantile(rates, [tail, 1 - tail], axis=0)
    missing = counts == 0
    return np.where(missing, np.nan, low), np.where(missing, np.nan, high)


def credit_access_table(
    applications: pd.DataFrame, groups: pd.DataFrame, seed: int
) -> pd.DataFrame:
    """Per round and group of applicants: approval rate and default rate of the approved.

    Parameters
    ----------
    applications
        The world's applications with a ``round`` column.
    groups
        One row per application (:func:`applicant_groups`).
    seed
        The bootstrap's seed.

    Returns
    -------
    pandas.DataFrame
        ``round``, ``attribute``, ``group``, ``applications``, ``approval_rate`` with
        ``approval_rate_low`` and ``approval_rate_high``, ``approved_known`` (approved loans
        whose outcome is known), ``default_rate`` with ``default_rate_low`` and
        ``default_rate_high`` (95% bootstrap intervals).
    """
    rng = generator(seed, "analysis.credit_access", 0)
    approved = applications["approved"].to_numpy(dtype=bool)
    outcome = loan_outcome(applications)
    known = approved & ~np.isnan(outcome)
    bad = known & (np.nan_to_num(outcome) > 0)
    parts = []
    for attribute in ACCESS_GROUPS:
        label = groups[attribute].to_numpy(dtype=object)
        frame = pd.DataFrame(
            {
                "round": applications["round"].to_numpy(),
                "group": label,
                "n": 1,
                "approved": approved,
                "known": known,
                "bad": bad,
            }
        )[label != ""]
        summed = frame.groupby(["round", "group"], sort=True)[
            ["n", "approved", "known", "bad"]
        ].sum()
        n, k = summed["n"].to_numpy(), summed["approved"].to_numpy()
        seen, b = summed["known"].to_numpy(), summed["bad"].to_numpy()
        a_low, a_high = _rate_interval(rng, k, n)
        d_low, d_high = _rate_interval(rng, b, seen)
        with np.errstate(invalid="ignore", divide="ignore"):
            part = pd.DataFrame(
                {
                    "round": summed.index.get_level_values("round").to_numpy(),
                    "attribute": attribute,
                    "group": summed.index.get_level_values("group").to_numpy(),
                    "applications": n,
                    "approval_rate": k / n,
                    "approval_rate_low": a_low,
                    "approval_rate_high": a_high,
                    "approved_known": seen,
                    "default_rate": np.where(seen > 0, b / np.maximum(seen, 1), np.nan),
                    "default_rate_low": d_low,
                    "default_rate_high": d_high,
                }
            )
        parts.append(part)
    return pd.concat(parts, ignore_index=True)
