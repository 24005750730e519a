"""How well each bureau's scores predict what truly happened.

A bureau judges its model against the defaults reported to it; the world knows every default,
including those on accounts the bureau never heard of, and whose file is whose. Each consumer
file is traced to the person whose identity created it (through the provenance every loaded row
keeps), and its score at the evaluation snapshot is set against that person's true
``default_12m``. The figures go into the run's ``report/model_performance`` (the
``out_of_time_truth_*`` columns), never onto a model card: a card holds only what its bureau
knows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bureau.analysis.metrics import discrimination

#: The figures of :func:`truth_performance`, in order.
TRUTH_METRICS = ("rows", "bad_rate", "auc", "gini", "ks")


def truth_performance(
    scores: pd.DataFrame, owners: pd.Series, outcomes: pd.DataFrame
) -> dict[str, float]:
    """Discrimination of a bureau's scores against the true outcomes of the persons scored.

    Parameters
    ----------
    scores
        ``consumer_id``, ``pd`` and ``in_default`` (the bureau's view) at the snapshot.
    owners
        :func:`~bureau.analysis.provenance.file_owners`.
    outcomes
        The true outcomes at the same snapshot, indexed by ``person_id`` (``default_12m``,
        ``in_default``), of every owner at least.

    Returns
    -------
    dict
        :func:`~bureau.analysis.metrics.discrimination` over the files the bureau would
        score (not in default in its own view), whose owner was not truly in default already.
    """
    person = owners.reindex(scores["consumer_id"].to_numpy()).fillna(-1).to_numpy(np.int64)
    truth = outcomes.reindex(person)
    keep = (
        (person >= 0)
        & ~scores["in_default"].to_numpy(dtype=bool)
        & ~truth["in_default"].fillna(True).to_numpy(dtype=bool)
    )
    return discrimination(
        truth["default_12m"].to_numpy()[keep].astype(bool), scores["pd"].to_numpy()[keep]
    )
