"""The bureaus' model families, their additive scoring tables, score scales, artifacts and cards."""

from bureau.bureaus.models.additive import AdditiveModel, FeatureTable, reason_codes
from bureau.bureaus.models.artifacts import BureauModel, ModelError, load_model, save_model
from bureau.bureaus.models.card import ModelCard, read_card
from bureau.bureaus.models.gbm import GradientBoostedModel
from bureau.bureaus.models.scale import ScoreScale, scale_for, to_pd, to_score
from bureau.bureaus.models.scorecard import WOEScorecard

__all__ = [
    "AdditiveModel",
    "BureauModel",
    "FeatureTable",
    "GradientBoostedModel",
    "ModelCard",
    "ModelError",
    "ScoreScale",
    "WOEScorecard",
    "load_model",
    "read_card",
    "reason_codes",
    "save_model",
    "scale_for",
    "to_pd",
    "to_score",
]
