"""Training a bureau's model on its own credit file, and scoring its consumers.

The bureau builds features at the development snapshot from what it held then, labels each
consumer by the defaults reported to it in the 12 months after (leaving out those already in
default), fits the model family its profile names, and checks it out of time: features at the
evaluation snapshot against the defaults reported to it in the 12 months after that. It never
sees the truth; measuring against the truth is the analysis' job.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from bureau.analysis.metrics import discrimination, rounded
from bureau.bureaus.feature_catalog import FEATURE_BY_NAME, feature_names
from bureau.bureaus.features import snapshot_features
from bureau.bureaus.labels import observed_outcomes
from bureau.bureaus.models.artifacts import BureauModel, model_text, score_frame
from bureau.bureaus.models.card import (
    MODEL_FILES,
    CardMetrics,
    Discrimination,
    EvaluationWindow,
    ModelCard,
    TrainingWindow,
)
from bureau.bureaus.models.gbm import GradientBoostedModel
from bureau.bureaus.models.scale import scale_for
from bureau.bureaus.models.scorecard import WOEScorecard
from bureau.config.loader import scenario_to_toml
from bureau.config.scenario import Scenario
from bureau.errors import TrainingError
from bureau.formats.schema import month_labels
from bureau.rng import library_seed
from bureau.version import __version__

HORIZON = 12


@dataclass(frozen=True)
class TrainingResult:
    """A trained bureau model and what it scored.

    Attributes
    ----------
    bureau
        The bureau.
    model
        The fitted model, with its card (complete: what :func:`save_model` writes).
    metrics
        ``development`` (in time) and ``out_of_time`` discrimination against the outcomes
        the bureau observed (as on the card).
    scores
        Every consumer on file at the evaluation snapshot: ``consumer_id``, ``pd``,
        ``score``, ``reason_1`` .. ``reason_4``, the observed ``bad`` and ``in_default``.
    tables
        The :func:`modelling_table` of the development and the evaluation snapshot.
    """

    bureau: str
    model: BureauModel
    metrics: dict[str, dict[str, float]]
    scores: pd.DataFrame
    tables: dict[int, pd.DataFrame]


def estimator_for(
    family: str, features: list[str], seed: int, partitions: int | None = None
) -> GradientBoostedModel | WOEScorecard:
    """The unfitted estimator of a model family for a list of features.

    Parameters
    ----------
    family
        ``lightgbm`` or ``scorecard``.
    features
        The features, in order (their known directions become constraints).
    seed
        LightGBM's random state.
    partitions
        LightGBM only: train with ``lightgbm.dask`` on this many row partitions (see
        :class:`GradientBoostedModel`); None trains in one process.

    Returns
    -------
    GradientBoostedModel or WOEScorecard
        The estimator.
    """
    directions = [FEATURE_BY_NAME[f].direction for f in features]
    if family == "lightgbm":
        return GradientBoostedModel(directions=directions, random_state=seed, partitions=partitions)
    if family == "scorecard":
        return WOEScorecard(directions=directions)
    raise ValueError(f"unknown model family {family!r}")


def training_seed(scn: Scenario, bureau: str) -> int:
    """The random state of a bureau's model: fixed by the scenario's seed and the bureau.

    Parameters
    ----------
    scn
        The scenario.
    bureau
        The bureau.

    Returns
    -------
    int
        The seed.
    """
    return library_seed(scn.seed, f"train:{bureau}")


#: The outcome columns of a modelling table, after its features.
OUTCOME_COLUMNS = ("bad", "in_default")


def modelling_table(
    engine: Engine, snapshot: int, groups: list[str], start: dt.date, horizon: int = HORIZON
) -> pd.DataFrame:
    """Every consumer's features at a snapshot and what the bureau saw happen after it.

    The files are read as furnished: what a model learns and how it is judged do not depend
    on whether the disputes of the run have been settled yet.

    Parameters
    ----------
    engine
        The bureau's database.
    snapshot
        The month of the snapshot.
    groups
        The feature groups.
    start
        The first day of month 0.
    horizon
        Months of outcome after the snapshot.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``consumer_id``: the features (:func:`snapshot_features`), then ``bad``
        and ``in_default`` (:func:`~bureau.bureaus.labels.observed_outcomes`).
    """
    X = snapshot_features(engine, snapshot, groups, start, corrected=False)
    outcome = observed_outcomes(engine, snapshot, horizon).reindex(X.index)
    return X.assign(**{c: outcome[c].to_numpy(dtype=bool) for c in OUTCOME_COLUMNS})


def development_sample(
    table: pd.DataFrame, bureau: str
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """What a bureau's model learns from: its modelling table at the development snapshot.

    Parameters
    ----------
    table
        The :func:`modelling_table` at the development snapshot.
    bureau
        The bureau (for the error message).

    Returns
    -------
    tuple
        The features of every consumer, which of them the model learns from (those not
        already in default in the bureau's view), and their labels (bool).

    Raises
    ------
    TrainingError
        If the sample has no defaults or no non-defaults.
    """
    X = table.drop(columns=list(OUTCOME_COLUMNS))
    sample = ~table["in_default"].to_numpy(dtype=bool)
    y = table["bad"].to_numpy(dtype=bool)[sample]
    if y.sum() == 0 or y.sum() == len(y):
        raise TrainingError(
            f"{bureau}: the development sample has {int(y.sum())} defaults among {len(y)} "
            "consumers; a model needs both"
        )
    return X, sample, y


def _month(scn: Scenario, month: int) -> str:
    return str(month_labels(scn.start_date, np.array([month]))[0])


def _median_odds(pd_: np.ndarray) -> float:
    """The median good:bad odds of a sample, to two significant figures.

    Anchoring the middle of the range there centres a bureau's scores on its own consumers,
    as real scales are, whatever share of defaults the bureau gets to see.
    """
    odds = float(np.median((1.0 - pd_) / np.clip(pd_, 1e-9, None)))
    return float(f"{odds:.2g}")


def train_bureau(
    engine: Engine,
    scn: Scenario,
    bureau: str,
    family: str | None = None,
    groups: list[str] | None = None,
) -> TrainingResult:
    """Train one bureau's model and score every consumer at the evaluation snapshot.

    Parameters
    ----------
    engine
        The bureau's database.
    scn
        The scenario (its profile, snapshots and calendar).
    bureau
        The bureau.
    family
        ``lightgbm`` or ``scorecard``; the profile's choice when None.
    groups
        The feature groups to use; the profile's when None (an ablation passes fewer).

    Returns
    -------
    TrainingResult
        The model with its card, the metrics and the evaluation scores.

    Raises
    ------
    TrainingError
        If the development sample has no defaults or no non-defaults.
    """
    profile = scn.bureaus[bureau]
    family = family or profile.model
    groups = list(groups or profile.feature_groups)
    features = feature_names(groups)
    development = scn.scoring.development_snapshot
    evaluation = scn.scoring.evaluation_snapshot

    tables = {
        snapshot: modelling_table(engine, snapshot, groups, scn.start_date)
        for snapshot in (development, evaluation)
    }
    X, sample, y = development_sample(tables[development], bureau)
    partitions = profile.model_partitions
    estimator = estimator_for(family, features, training_seed(scn, bureau), partitions)
    try:
        estimator.fit(X[sample], y)
    except TrainingError as exc:
        raise TrainingError(f"{bureau}: {exc.message}") from None

    in_time_pd = estimator.predict_proba(X[sample])[:, 1]
    scale = scale_for(
        profile.score_min,
        profile.score_max,
        profile.points_to_double_odds,
        profile.base_odds or _median_odds(in_time_pd),
        profile.base_score,
    )
    observed = tables[evaluation]
    scores = score_frame(estimator.tables_, scale, observed.drop(columns=list(OUTCOME_COLUMNS)))
    scores.insert(0, "consumer_id", observed.index.to_numpy())
    for column in OUTCOME_COLUMNS:
        scores[column] = observed[column].to_numpy()
    scores = scores.reset_index(drop=True)
    judged = scores[~scores["in_default"]]
    metrics = {
        "development": rounded(discrimination(y, in_time_pd)),
        "out_of_time": rounded(discrimination(judged["bad"].to_numpy(), judged["pd"].to_numpy())),
    }
    resolved = scenario_to_toml(scn)
    card = ModelCard(
        bureau=bureau,
        bureau_name=profile.name,
        scenario=scn.name,
        scenario_sha256=hashlib.sha256(resolved.encode("utf-8")).hexdigest(),
        seed=scn.seed,
        package_version=__version__,
        model_family=family,
        model_file=MODEL_FILES[family],
        model_sha256=hashlib.sha256(model_text(family, estimator).encode("utf-8")).hexdigest(),
        features=tuple(features),
        feature_groups=tuple(groups),
        feature_directions={f: FEATURE_BY_NAME[f].direction for f in features},
        feature_descriptions={f: FEATURE_BY_NAME[f].description for f in features},
        hyperparameters={k: v for k, v in estimator.get_params().items() if k != "directions"},
        training_window=TrainingWindow(
            development_snapshot=development,
            development_month=_month(scn, development),
            outcome_months=(development + 1, development + HORIZON),
            label="90+ days past due or written off, as reported to the bureau",
            excluded="consumers already in default at the snapshot",
        ),
        evaluation_window=EvaluationWindow(
            evaluation_snapshot=evaluation,
            evaluation_month=_month(scn, evaluation),
            outcome_months=(evaluation + 1, evaluation + HORIZON),
        ),
        metrics=CardMetrics(**{k: Discrimination(**v) for k, v in metrics.items()}),
        score_scale=scale,
    )
    return TrainingResult(bureau, BureauModel(estimator, card), metrics, scores, tables)
