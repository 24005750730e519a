"""What the errors on a bureau's files do to scores: every file rescored with its errors put right.

The errors still on a bureau's files at a snapshot (wrong statuses, other persons' accounts,
wrongful public records: :func:`~bureau.analysis.file_errors.item_errors`) are all corrected at
once, the bureau's own model scores the corrected files, and each consumer's score and risk
tier (:func:`~bureau.analysis.agreement.risk_tier`) are set beside those of the file as the
bureau reports it. A missing account cannot be put back by a correction, so it is not.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from bureau.analysis.agreement import risk_tier

RESCORING_COLUMNS = (
    "bureau",
    "snapshot",
    "scored",
    "with_errors",
    "with_errors_share",
    "score_changed",
    "score_changed_share",
    "tier_changed",
    "tier_changed_share",
    "score_up_share",
    "mean_abs_score_change",
    "max_abs_score_change",
)


def rescore_corrected(
    bureau: str,
    snapshot: int,
    before: pd.DataFrame,
    after: pd.DataFrame,
    errors: pd.DataFrame,
) -> dict[str, object]:
    """Set every file's score as reported beside its score with every error on it corrected.

    Parameters
    ----------
    bureau
        The bureau.
    snapshot
        The month scored.
    before, after
        ``consumer_id``, ``score`` and ``pd`` of every consumer the bureau scores at the
        snapshot, by its own model: from the file as the bureau reports it, and with every
        error on it corrected (the same consumers in the same order).
    errors
        The errors on the files at the snapshot (``consumer_id`` among them).

    Returns
    -------
    dict
        One row of :data:`RESCORING_COLUMNS`: consumers scored, those with at least one error,
        and the counts and shares (of those scored) whose score and whose risk tier change when
        their errors are corrected; the share whose score rises among those that change; the
        mean and largest absolute change in points among those that change.
    """
    if not np.array_equal(before["consumer_id"].to_numpy(), after["consumer_id"].to_numpy()):
        raise ValueError("the scores with and without corrections are of different consumers")
    change = after["score"].to_numpy(dtype=float) - before["score"].to_numpy(dtype=float)
    changed = change != 0
    tier_changed = risk_tier(after["pd"].to_numpy()) != risk_tier(before["pd"].to_numpy())
    scored = len(before)
    who = before["consumer_id"].to_numpy()
    with_errors = int(np.isin(who, errors["consumer_id"].to_numpy()).sum())
    moved = np.abs(change[changed])

    def share(n: int) -> float:
        return n / scored if scored else math.nan

    return {
        "bureau": bureau,
        "snapshot": snapshot,
        "scored": scored,
        "with_errors": with_errors,
        "with_errors_share": share(with_errors),
        "score_changed": int(changed.sum()),
        "score_changed_share": share(int(changed.sum())),
        "tier_changed": int(tier_changed.sum()),
        "tier_changed_share": share(int(tier_changed.sum())),
        "score_up_share": float((change[changed] > 0).mean()) if changed.any() else math.nan,
        "mean_abs_score_change": float(moved.mean()) if moved.size else math.nan,
        "max_abs_score_change": float(moved.max()) if moved.size else math.nan,
    }
