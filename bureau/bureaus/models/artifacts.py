"""Model artifacts on disk: the model file and its model card, safe to load and checked.

A bureau's model directory holds the model itself (LightGBM's text format, or the scorecard as
JSON) and ``model_card.json``: features, training window, scenario hash, package version,
metrics and score scale, and the SHA-256 of the model file. Nothing is pickled: loading parses
text, and a model file that does not match its card's hash (corrupted, truncated, edited) is
refused with a clear error rather than scored.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from bureau.bureaus.models.additive import REASONS, AdditiveModel, reason_indices
from bureau.bureaus.models.gbm import GradientBoostedModel
from bureau.bureaus.models.scale import ScoreScale, to_score
from bureau.bureaus.models.scorecard import WOEScorecard
from bureau.errors import BureauError
from bureau.rundir import write_text_atomic

CARD = "model_card.json"
MODEL_FILES = {"lightgbm": "model.txt", "scorecard": "scorecard.json"}


class ModelError(BureauError):
    """A model directory is missing, incomplete, corrupted or does not match its card."""


@dataclass(frozen=True)
class BureauModel:
    """A fitted model with what it needs to score: features, family, scale and card.

    Attributes
    ----------
    family
        ``lightgbm`` or ``scorecard``.
    estimator
        The fitted estimator (:class:`GradientBoostedModel` or :class:`WOEScorecard`).
    features
        The input features, in order.
    scale
        The bureau's score scale.
    card
        The model card.
    """

    family: str
    estimator: GradientBoostedModel | WOEScorecard
    features: list[str]
    scale: ScoreScale
    card: dict[str, Any]

    @property
    def tables(self) -> AdditiveModel:
        """The additive tables the model scores with."""
        return self.estimator.tables_

    def score_arrays(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Score rows of features as arrays (for scoring many rows without Python objects).

        Parameters
        ----------
        X
            One row per consumer with (at least) the model's features.

        Returns
        -------
        pd_ : numpy.ndarray
            Probabilities of default.
        score : numpy.ndarray
            Scores on the model's scale.
        reasons : numpy.ndarray
            ``(rows, 4)`` indices into the model's features of the reason codes (one past
            the last feature where there is no reason).
        """
        tables = self.tables
        contributions = tables.contributions(X)
        pd_ = 1.0 / (1.0 + np.exp(-tables.log_odds(contributions)))
        return pd_, to_score(pd_, self.scale), reason_indices(contributions)

    def score(self, X: pd.DataFrame) -> pd.DataFrame:
        """Score rows of features: probability of default, score and four reason codes.

        Parameters
        ----------
        X
            One row per consumer with (at least) the model's features.

        Returns
        -------
        pandas.DataFrame
            ``pd``, ``score`` and ``reason_1`` .. ``reason_4``, on ``X``'s index.
        """
        pd_, score, reasons = self.score_arrays(X)
        names = np.array([*self.tables.features, None], dtype=object)
        out = {"pd": pd_, "score": score}
        for i in range(REASONS):
            out[f"reason_{i + 1}"] = names[reasons[:, i]]
        return pd.DataFrame(out, index=X.index)

    def model_text(self) -> str:
        """The model file's text."""
        if self.family == "lightgbm":
            return self.estimator.to_text()
        return json.dumps(self.estimator.to_dict(), indent=1, sort_keys=True) + "\n"


def save_model(model: BureauModel, directory: Path) -> Path:
    """Write a model and its card into a directory (each file replaced atomically).

    Parameters
    ----------
    model
        The model.
    directory
        Where to write (created if needed).

    Returns
    -------
    pathlib.Path
        The directory.
    """
    directory.mkdir(parents=True, exist_ok=True)
    text = model.model_text()
    name = MODEL_FILES[model.family]
    card = {
        **model.card,
        "model_family": model.family,
        "model_file": name,
        "model_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "features": model.features,
        "score_scale": model.scale.to_dict(),
    }
    # The model file first: a card never points at a model file that is not there yet.
    write_text_atomic(directory / name, text)
    write_text_atomic(directory / CARD, json.dumps(card, indent=1, sort_keys=True) + "\n")
    return directory


def load_model(directory: str | Path) -> BureauModel:
    """Load a model directory, checking the model file against its card.

    Parameters
    ----------
    directory
        A directory written by :func:`save_model`.

    Returns
    -------
    BureauModel
        The model, ready to score.

    Raises
    ------
    ModelError
        If the card or model file is missing, unreadable, does not match the card's hash, or
        does not parse.
    """
    directory = Path(directory)
    card_path = directory / CARD
    if not card_path.is_file():
        raise ModelError("not a model directory (no model_card.json)", path=directory)
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
        family = card["model_family"]
        model_path = directory / card["model_file"]
        expected = card["model_sha256"]
        features = [str(f) for f in card["features"]]
        scale = ScoreScale.from_dict(card["score_scale"])
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ModelError(f"model card unreadable or incomplete ({exc})", path=card_path) from None
    if family not in MODEL_FILES or card["model_file"] != MODEL_FILES[family]:
        raise ModelError(f"unknown model family {family!r}", path=card_path, field="model_family")
    if not model_path.is_file():
        raise ModelError("model file missing", path=model_path)
    raw = model_path.read_bytes()
    if hashlib.sha256(raw).hexdigest() != expected:
        raise ModelError(
            "model file does not match the SHA-256 in its model card: corrupted or altered",
            path=model_path,
        )
    try:
        text = raw.decode("utf-8")
        if family == "lightgbm":
            estimator: GradientBoostedModel | WOEScorecard = GradientBoostedModel.from_text(text)
        else:
            estimator = WOEScorecard.from_dict(json.loads(text))
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"model file does not parse ({exc})", path=model_path) from None
    except lgb.basic.LightGBMError as exc:
        raise ModelError(f"model file does not parse ({exc})", path=model_path) from None
    if list(estimator.feature_names_in_) != features:
        raise ModelError("model features differ from its card's", path=model_path)
    return BureauModel(family, estimator, features, scale, card)
