"""The bureaus: each one's ingestion pipeline, credit files and models (never the world's truth)."""

from bureau.bureaus.applicants import score_applicants
from bureau.bureaus.batch_features import score_feature_table
from bureau.bureaus.feature_catalog import FEATURES, feature_names
from bureau.bureaus.features import snapshot_features
from bureau.bureaus.ingest import IngestSummary, ingest_all, ingest_bureau
from bureau.bureaus.labels import observed_outcomes
from bureau.bureaus.models import (
    BureauModel,
    GradientBoostedModel,
    ModelCard,
    ModelError,
    WOEScorecard,
    load_model,
    save_model,
)
from bureau.bureaus.rules import RULES
from bureau.bureaus.train import TrainingResult, train_bureau

__all__ = [
    "FEATURES",
    "RULES",
    "BureauModel",
    "GradientBoostedModel",
    "IngestSummary",
    "ModelCard",
    "ModelError",
    "TrainingResult",
    "WOEScorecard",
    "feature_names",
    "ingest_all",
    "ingest_bureau",
    "load_model",
    "observed_outcomes",
    "save_model",
    "score_applicants",
    "score_feature_table",
    "snapshot_features",
    "train_bureau",
]
