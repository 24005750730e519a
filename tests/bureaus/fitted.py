"""Small models fitted on synthetic data in a second, and complete cards for them."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from bureau.bureaus.models.artifacts import model_text
from bureau.bureaus.models.card import (
    MODEL_FILES,
    CardMetrics,
    Discrimination,
    EvaluationWindow,
    ModelCard,
    TrainingWindow,
)
from bureau.bureaus.models.gbm import GradientBoostedModel
from bureau.bureaus.models.scale import ScoreScale
from bureau.bureaus.models.scorecard import WOEScorecard


def synthetic(n: int = 4000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Four features (one missing a fifth of the time, one of no use) and labels (1 = bad)."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "risk": rng.normal(size=n),
            "safety": rng.normal(size=n),
            "noise": rng.normal(size=n),
            "count": rng.integers(0, 5, n).astype(float),
        }
    )
    X.loc[rng.random(n) < 0.2, "safety"] = np.nan
    logit = -3.0 + 1.2 * X["risk"] - 0.8 * X["safety"].fillna(0.5) + 0.3 * X["count"]
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    return X, y.astype(int)


#: The synthetic features' known directions: risk raises the risk, safety lowers it.
DIRECTIONS = [1, -1, 0, 1]


def model_card(
    family: str, estimator: GradientBoostedModel | WOEScorecard, scale: ScoreScale, **fields
) -> ModelCard:
    """A complete card for a model fitted on the synthetic data."""
    features = list(estimator.feature_names_in_)
    text = model_text(family, estimator)
    metrics = {"rows": 4000, "bad_rate": 0.08, "auc": 0.75, "gini": 0.5, "ks": float("nan")}
    values = {
        "bureau": "test",
        "bureau_name": "Test Credit",
        "scenario": "synthetic",
        "scenario_sha256": "0" * 64,
        "seed": 7,
        "package_version": "0+test",
        "model_family": family,
        "model_file": MODEL_FILES[family],
        "model_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "features": features,
        "feature_groups": ["credit", "inquiries"],
        "feature_directions": dict(zip(features, DIRECTIONS, strict=True)),
        "feature_descriptions": {f: f"the {f} column" for f in features},
        "hyperparameters": {"C": 1.0, "max_bins": 8, "name": None},
        "training_window": TrainingWindow(11, "2018-06", (12, 23), "bad", "in default"),
        "evaluation_window": EvaluationWindow(23, "2019-06", (24, 35)),
        "metrics": CardMetrics(Discrimination(**metrics), Discrimination(**metrics)),
        "score_scale": scale,
    }
    return ModelCard(**(values | fields))
