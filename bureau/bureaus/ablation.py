"""Data-source ablation: what each feature group adds to a bureau's model.

The bureau's model family is trained again at the development snapshot on every feature group
of its profile, and once without each group in turn, on the same sample with the same seed as
:func:`~bureau.bureaus.train.train_bureau`; each model scores the bureau's consumers at the
evaluation snapshot. The features are computed once and the columns of a group left out, so
the ablation costs a fit per group, not a feature pass per group.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine

from bureau.bureaus.feature_catalog import feature_names
from bureau.bureaus.features import snapshot_features
from bureau.bureaus.labels import observed_outcomes
from bureau.bureaus.train import HORIZON, development_sample, estimator_for, training_seed
from bureau.config.scenario import Scenario

#: The ``removed`` value of the model trained on every group.
NOTHING_REMOVED = "none"


def ablation_scores(engine: Engine, scn: Scenario, bureau: str) -> dict[str, pd.DataFrame]:
    """Scores at the evaluation snapshot of the bureau's model with and without each group.

    Parameters
    ----------
    engine
        The bureau's database.
    scn
        The scenario (the bureau's profile, snapshots and calendar).
    bureau
        The bureau.

    Returns
    -------
    dict of str to pandas.DataFrame
        By group removed (:data:`NOTHING_REMOVED` for the full model): ``consumer_id``,
        ``pd``, ``bad`` and ``in_default`` (the outcome the bureau observed) of every consumer
        at the evaluation snapshot. A profile with a single group has no ablations.

    Raises
    ------
    bureau.bureaus.train.TrainingError
        If the development sample has no defaults or no non-defaults.
    """
    profile = scn.bureaus[bureau]
    groups = list(profile.feature_groups)
    evaluation = scn.scoring.evaluation_snapshot
    X, sample, y = development_sample(engine, scn, bureau, groups)
    X_eval = snapshot_features(engine, evaluation, groups, scn.start_date, corrected=False)
    observed = observed_outcomes(engine, evaluation, HORIZON).reindex(X_eval.index)
    seed = training_seed(scn, bureau)
    scores = {}
    for removed in [NOTHING_REMOVED, *groups]:
        kept = [g for g in groups if g != removed]
        features = feature_names(kept)
        if not features:
            continue
        estimator = estimator_for(profile.model, features, seed)
        estimator.fit(X.loc[sample, features], y)
        scores[removed] = pd.DataFrame(
            {
                "consumer_id": X_eval.index.to_numpy(),
                "pd": estimator.predict_proba(X_eval[features])[:, 1],
                "bad": observed["bad"].to_numpy(),
                "in_default": observed["in_default"].to_numpy(),
            }
        )
    return scores
