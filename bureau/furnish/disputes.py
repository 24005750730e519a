"""Consumers dispute the errors they find on their files; furnishers answer the bureau.

Consumers read their reports after a snapshot. Each error is disputed with a chance set by its
severity (``aggregator.disputes.dispute_rate``), at a month within ``review_months`` after the
snapshot. The bureau asks the furnisher, who holds the truth: a real error is confirmed with
chance ``confirm_rate`` (the rest are answered "verified as reported" and the dispute is
rejected), and the answer reaches the file ``investigation_lag`` months after the filing.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from bureau.config.aggregator import Disputes

DISPUTE_COLUMNS = (
    "dispute_ref",
    "consumer_id",
    "item",
    "furnisher",
    "ref",
    "month",
    "shown",
    "claimed",
    "severity",
    "filed",
    "resolved",
    "outcome",
)


def dispute_refs(bureau: str, errors: pd.DataFrame) -> np.ndarray:
    """A stable reference per disputed item: the same item gets the same reference every run.

    Parameters
    ----------
    bureau
        The bureau disputed with.
    errors
        ``consumer_id``, ``item``, ``furnisher``, ``ref``, ``month``.

    Returns
    -------
    numpy.ndarray
        References of 20 characters.
    """
    keys = (
        bureau
        + "|"
        + errors["consumer_id"].astype(str)
        + "|"
        + errors["item"].astype(str)
        + "|"
        + errors["furnisher"].astype(str)
        + "|"
        + errors["ref"].astype(str)
        + "|"
        + errors["month"].astype(str)
    )
    return np.array(
        ["D" + hashlib.sha1(k.encode("utf-8")).hexdigest()[:19] for k in keys], dtype=object
    )


def file_disputes(
    bureau: str,
    errors: pd.DataFrame,
    settings: Disputes,
    rng: np.random.Generator,
    snapshot: int,
) -> pd.DataFrame:
    """Which errors consumers dispute, when, and what the furnisher answers.

    Parameters
    ----------
    bureau
        The bureau.
    errors
        :func:`bureau.analysis.file_errors.item_errors` at the snapshot, sorted.
    settings
        The dispute rates, timings and confirmation rate.
    rng
        The bureau's dispute generator.
    snapshot
        The month the consumers read their files.

    Returns
    -------
    pandas.DataFrame
        :data:`DISPUTE_COLUMNS`, one row per disputed error; ``outcome`` is ``corrected`` or
        ``rejected``.
    """
    n = len(errors)
    # Three draws per error, always in this order, so one setting never shifts another's.
    chance = rng.random(n)
    delay = rng.integers(1, settings.review_months + 1, n)
    confirmed = rng.random(n) < settings.confirm_rate
    rate = errors["severity"].map(settings.dispute_rate).fillna(0.0).to_numpy(dtype=float)
    disputed = chance < rate
    chosen = errors[disputed].reset_index(drop=True)
    filed = snapshot + delay[disputed]
    out = pd.DataFrame(
        {
            "dispute_ref": dispute_refs(bureau, chosen),
            "consumer_id": chosen["consumer_id"].to_numpy(dtype=np.int64),
            "item": chosen["item"].to_numpy(),
            "furnisher": chosen["furnisher"].to_numpy(),
            "ref": chosen["ref"].to_numpy(),
            "month": chosen["month"].to_numpy(dtype=np.int64),
            "shown": chosen["shown"].to_numpy(),
            "claimed": chosen["claimed"].to_numpy(),
            "severity": chosen["severity"].to_numpy(),
            "filed": filed.astype(np.int64),
            "resolved": (filed + settings.investigation_lag).astype(np.int64),
            "outcome": np.where(confirmed[disputed], "corrected", "rejected"),
        }
    )
    return out[list(DISPUTE_COLUMNS)]
