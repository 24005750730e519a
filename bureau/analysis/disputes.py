"""How disputes correct the files: what was disputed, what was corrected, what it changed.

For each bureau, from the errors on its files at the development snapshot
(:func:`bureau.analysis.file_errors.item_errors`), the disputes filed, the errors still on
file at the evaluation snapshot, and the scores of the corrected consumers with and without
their corrections.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

KEY = ["consumer_id", "item", "furnisher", "ref", "month"]
SEVERITIES = ("severe", "moderate", "mild", "favourable")


def dispute_statistics(
    bureau: str,
    errors: pd.DataFrame,
    disputes: pd.DataFrame,
    later: pd.DataFrame,
    scores: pd.DataFrame,
) -> tuple[dict[str, object], pd.DataFrame]:
    """Summarise one bureau's disputes.

    Parameters
    ----------
    bureau
        The bureau.
    errors
        Errors on its files at the development snapshot.
    disputes
        The disputes filed about them (``outcome``, ``resolved`` and the error's key).
    later
        Errors on its files at the evaluation snapshot (corrections applied).
    scores
        ``consumer_id``, ``before``, ``after``: the evaluation scores of the consumers with a
        correction, without and with it.

    Returns
    -------
    tuple
        One row (``bureau``, ``errors``, ``disputed``, ``disputed_share``, ``corrected``,
        ``corrected_share``, ``rejected``, ``months_to_correction``, ``still_present``,
        ``still_present_share``, ``consumers_rescored``, ``mean_score_change``,
        ``share_score_up``) and the same counts by severity.
    """
    n = len(errors)
    corrected = disputes[disputes["outcome"] == "corrected"]
    timed = corrected.merge(errors[[*KEY, "appeared"]], on=KEY, how="left")
    remaining = errors.merge(later[KEY], on=KEY, how="inner")
    change = scores["after"].to_numpy(dtype=float) - scores["before"].to_numpy(dtype=float)
    row = {
        "bureau": bureau,
        "errors": n,
        "disputed": len(disputes),
        "disputed_share": len(disputes) / n if n else float("nan"),
        "corrected": len(corrected),
        "corrected_share": len(corrected) / n if n else float("nan"),
        "rejected": int((disputes["outcome"] == "rejected").sum()),
        "months_to_correction": float((timed["resolved"] - timed["appeared"]).mean())
        if len(timed)
        else float("nan"),
        "still_present": len(remaining),
        "still_present_share": len(remaining) / n if n else float("nan"),
        "consumers_rescored": len(scores),
        "mean_score_change": float(change.mean()) if len(change) else float("nan"),
        "share_score_up": float((change > 0).mean()) if len(change) else float("nan"),
    }
    by = []
    for severity in SEVERITIES:
        mine = errors["severity"] == severity
        filed = disputes[disputes["severity"] == severity]
        count = int(mine.sum())
        by.append(
            {
                "bureau": bureau,
                "severity": severity,
                "errors": count,
                "disputed": len(filed),
                "disputed_share": len(filed) / count if count else np.nan,
                "corrected": int((filed["outcome"] == "corrected").sum()),
            }
        )
    return row, pd.DataFrame(by)
