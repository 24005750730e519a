"""What a reconciliation is keyed by: a hash of the submissions and the settings.

The submissions table holds each submission's content hash, so hashing it with the settings
says, without reading any submitted row, whether a stored result came from these inputs: the
whole reconciliation is keyed this way, and each linkage by the submissions and its threshold.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pandas as pd


def inputs_hash(submissions: pd.DataFrame, settings: dict[str, Any]) -> str:
    """A SHA-256 of the submissions held and the settings they are worked with.

    Parameters
    ----------
    submissions
        The ``submissions`` table: ``snapshot``, ``bureau`` and ``sha256`` (the content hash
        of each submission), in a fixed order.
    settings
        The settings the result depends on (JSON-serialisable).

    Returns
    -------
    str
        The hex digest.
    """
    state = {
        "submissions": submissions[["snapshot", "bureau", "sha256"]].to_numpy().tolist(),
        "settings": settings,
    }
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode("utf-8")).hexdigest()
