"""Model artifacts on disk: the model file and its model card, safe to load and checked.

A bureau's model directory holds the model itself (LightGBM's text format, or the scorecard as
JSON) and ``model_card.json``: features, training window, scenario hash, package version,
metrics and score scale, the SHA-256 of the model file (``model_sha256``) and the SHA-256 of
the card itself (``card_sha256``, over every other field of the card in canonical JSON, so it
seals the model file's hash too). Nothing is pickled: loading parses text, a card or model
file that does not match its hash (corrupted, truncated, edited) is refused, and so is one
that matches a forged hash but does not parse as a model of the bureaus' kind: every file is
checked in Python before LightGBM reads it (:mod:`bureau.bureaus.models.lgb_text`,
:mod:`bureau.bureaus.models.checks`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bureau.bureaus.models.additive import REASONS, AdditiveModel, reason_indices
from bureau.bureaus.models.checks import check_card, check_scorecard, read_json
from bureau.bureaus.models.gbm import GradientBoostedModel
from bureau.bureaus.models.scale import ScoreScale, to_score
from bureau.bureaus.models.scorecard import WOEScorecard
from bureau.errors import ModelError
from bureau.rundir import write_text_atomic

CARD = "model_card.json"
MODEL_FILES = {"lightgbm": "model.txt", "scorecard": "scorecard.json"}
SEAL = "card_sha256"

__all__ = ["BureauModel", "ModelError", "card_sha256", "load_model", "save_model"]


def card_sha256(card: dict[str, Any]) -> str:
    """The SHA-256 that seals a model card: of every field but the seal, in canonical JSON.

    Parameters
    ----------
    card
        The card (a ``card_sha256`` field in it is left out).

    Returns
    -------
    str
        The hash in hexadecimal.
    """
    fields = {k: v for k, v in card.items() if k != SEAL}
    # As the card reads back from its file: tuples as lists, number keys as text.
    fields = json.loads(json.dumps(fields))
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


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
    directory
        The directory it was loaded from (None for a model fitted in this process).
    """

    family: str
    estimator: GradientBoostedModel | WOEScorecard
    features: list[str]
    scale: ScoreScale
    card: dict[str, Any]
    directory: Path | None = None

    def files(self) -> list[Path]:
        """The files the model was loaded from (none for a model fitted in this process)."""
        if self.directory is None:
            return []
        return [self.directory / CARD, self.directory / MODEL_FILES[self.family]]

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
        **{k: v for k, v in model.card.items() if k != SEAL},
        "model_family": model.family,
        "model_file": name,
        "model_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "features": model.features,
        "score_scale": model.scale.to_dict(),
    }
    card[SEAL] = card_sha256(card)
    # The model file first: a card never points at a model file that is not there yet.
    write_text_atomic(directory / name, text)
    write_text_atomic(directory / CARD, json.dumps(card, indent=1, sort_keys=True) + "\n")
    return directory


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot be read ({exc.strerror or exc})", path=path) from None


def load_model(directory: str | Path) -> BureauModel:
    """Load a model directory, checking its card and model file before anything parses them.

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
        If the card or model file is missing, is not what :func:`save_model` writes, does not
        match its hash, or (with a forged hash) does not parse as a model of the bureaus'
        kind; the message names the file and the line or field.
    """
    directory = Path(directory)
    card_path = directory / CARD
    if not card_path.is_file():
        raise ModelError("not a model directory (no model_card.json)", path=directory)
    card = read_json(_read(card_path), card_path)
    if not isinstance(card, dict):
        raise ModelError("not a model card (a JSON object)", path=card_path)
    if SEAL not in card:
        raise ModelError(
            f"no {SEAL}: the card was written by an older version and cannot be checked;"
            " retrain the model (bureau train; make models for the reference models)",
            path=card_path,
        )
    if card[SEAL] != card_sha256(card):
        raise ModelError(f"the card does not match its {SEAL}: edited or corrupted", path=card_path)
    check_card(card, card_path, MODEL_FILES)
    family = card["model_family"]
    features = list(card["features"])
    model_path = directory / card["model_file"]
    if not model_path.is_file():
        raise ModelError("model file missing", path=model_path)
    raw = _read(model_path)
    if hashlib.sha256(raw).hexdigest() != card["model_sha256"]:
        raise ModelError(
            "model file does not match the SHA-256 in its model card: corrupted or altered",
            path=model_path,
        )
    if family == "lightgbm":
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            raise ModelError(
                "not UTF-8 text (binary or damaged?)", path=model_path, row=line
            ) from None
        estimator: GradientBoostedModel | WOEScorecard = GradientBoostedModel.from_text(
            text, features=features, path=model_path
        )
    else:
        data = read_json(raw, model_path)
        check_scorecard(data, features, model_path)
        estimator = WOEScorecard.from_dict(data)
    scale = ScoreScale.from_dict(card["score_scale"])
    return BureauModel(family, estimator, features, scale, card, directory)
