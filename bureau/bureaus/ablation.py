"""Data-source ablation: what each feature group adds to a bureau's model.

The bureau's model family is trained again at the development snapshot on every feature group
of its profile, and once without each group in turn, on the same sample with the same seed as
:func:`~bureau.bureaus.train.train_bureau`; each model scores the bureau's consumers at the
evaluation snapshot. The modelling tables training saved are reused and the columns of a group
left out, so the ablation costs a fit per group, not a feature pass per group; a scorecard's
bins, which each depend on one feature only, are found once.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from bureau.bureaus.feature_catalog import feature_names
from bureau.bureaus.models import GradientBoostedModel, WOEScorecard
from bureau.bureaus.train import development_sample, estimator_for, training_seed
from bureau.config.scenario import Scenario

#: The ``removed`` value of the model trained on every group.
NOTHING_REMOVED = "none"
#: The columns of each model's scores.
SCORE_COLUMNS = ("consumer_id", "pd", "bad", "in_default")


def ablation_scores(
    scn: Scenario,
    bureau: str,
    development: pd.DataFrame,
    evaluation: pd.DataFrame,
    full: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """Scores at the evaluation snapshot of the bureau's model with and without each group.

    Parameters
    ----------
    scn
        The scenario (the bureau's profile and the seed).
    bureau
        The bureau.
    development, evaluation
        Its :func:`~bureau.bureaus.train.modelling_table` at the development and the
        evaluation snapshot, as training saved them.
    full
        The scores of the model on every group, when training has already made them with the
        profile's family and groups (its ``scores/<bureau>.parquet``): that model is then not
        fitted again. Fitted with the same sample and seed, it would give the same PDs.

    Returns
    -------
    dict of str to pandas.DataFrame
        By group removed (:data:`NOTHING_REMOVED` for the full model): ``consumer_id``,
        ``pd``, ``bad`` and ``in_default`` (the outcome the bureau observed) of every consumer
        at the evaluation snapshot. A profile with a single group has no ablations.

    Raises
    ------
    bureau.errors.TrainingError
        If the development sample has no defaults or no non-defaults.
    """
    profile = scn.bureaus[bureau]
    groups = list(profile.feature_groups)
    X, sample, y = development_sample(development, bureau)
    X = X[sample]
    seed = training_seed(scn, bureau)
    everything = feature_names(groups)
    fit = _fitter(profile.model, everything, X, y, seed)
    scores = {}
    if full is not None:
        scores[NOTHING_REMOVED] = full[list(SCORE_COLUMNS)].reset_index(drop=True)
    for removed in [NOTHING_REMOVED, *groups]:
        features = feature_names([g for g in groups if g != removed])
        if not features or removed in scores:
            continue
        scores[removed] = pd.DataFrame(
            {
                "consumer_id": evaluation.index.to_numpy(),
                "pd": fit(features).predict_proba(evaluation[features])[:, 1],
                "bad": evaluation["bad"].to_numpy(dtype=bool),
                "in_default": evaluation["in_default"].to_numpy(dtype=bool),
            }
        )
    return scores


def _fitter(
    family: str, everything: list[str], X: pd.DataFrame, y: np.ndarray, seed: int
) -> Callable[[list[str]], GradientBoostedModel | WOEScorecard]:
    """Fit the family on any subset of the features, exactly as training would on that subset.

    A scorecard bins each feature on its own, so the bins of every feature are found once and
    each subset only refits the regression; a boosted model is trained again.
    """
    if family != "scorecard":
        return lambda features: estimator_for(family, features, seed).fit(X[features], y)
    bins = estimator_for(family, everything, seed).bin_features(X[everything], y)

    def fit(features: list[str]) -> WOEScorecard:
        chosen = set(features)
        card = estimator_for(family, features, seed)
        return card.fit_bins([b for b in bins if b.name in chosen], features, y)

    return fit
