"""Model artifacts on disk: the model file and its model card, safe to load and checked.

A bureau's model directory holds the model itself (LightGBM's text format, or the scorecard as
JSON) and ``model_card.json``, its :class:`~bureau.bureaus.models.card.ModelCard`: features,
training and evaluation windows, scenario hash, package version, the metrics against what the
bureau observed and the score scale, the SHA-256 of the model file (``model_sha256``) and the
SHA-256 of the card itself (``card_sha256``, over every other field of the card in canonical
JSON, so it seals the model file's hash too). Nothing is pickled: loading parses text, a card
or model file that does not match its hash (corrupted, truncated, edited) is refused, and so
is one that matches a forged hash but does not parse as a model of the bureaus' kind: every
file is checked in Python before LightGBM reads it (:mod:`bureau.bureaus.models.lgb_text`,
:mod:`bureau.bureaus.models.checks`, :mod:`bureau.bureaus.models.card`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bureau.bureaus.models.additive import REASONS, AdditiveModel, reason_indices
from bureau.bureaus.models.card import CARD, MODEL_FILES, ModelCard, card_sha256, read_card
from bureau.bureaus.models.card_sections import Discrimination
from bureau.bureaus.models.checks import check_scorecard, read_json
from bureau.bureaus.models.gbm import GradientBoostedModel
from bureau.bureaus.models.scale import ScoreScale, to_score
from bureau.bureaus.models.scorecard import WOEScorecard
from bureau.display import Lines, html_summary, text_summary
from bureau.errors import ModelError
from bureau.rundir import write_text_atomic

__all__ = [
    "BureauModel",
    "ModelCard",
    "ModelError",
    "card_sha256",
    "load_model",
    "model_text",
    "save_model",
]


def model_text(family: str, estimator: GradientBoostedModel | WOEScorecard) -> str:
    """The text of a fitted estimator's model file.

    Parameters
    ----------
    family
        ``lightgbm`` (LightGBM's text format) or ``scorecard`` (its JSON).
    estimator
        The fitted estimator.

    Returns
    -------
    str
        What the model file holds, and what its card's ``model_sha256`` is the hash of.
    """
    if family == "lightgbm":
        return estimator.to_text()
    return json.dumps(estimator.to_dict(), indent=1, sort_keys=True) + "\n"


def score_arrays(
    tables: AdditiveModel, scale: ScoreScale, X: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Score rows of features with additive tables on a scale (see :meth:`BureauModel.score`).

    Parameters
    ----------
    tables
        The model's additive tables.
    scale
        The score scale.
    X
        One row per consumer with (at least) the tables' features.

    Returns
    -------
    pd_ : numpy.ndarray
        Probabilities of default.
    score : numpy.ndarray
        Scores on the scale.
    reasons : numpy.ndarray
        ``(rows, 4)`` indices into the tables' features of the reason codes (one past the
        last feature where there is no reason).
    """
    contributions = tables.contributions(X)
    pd_ = 1.0 / (1.0 + np.exp(-tables.log_odds(contributions)))
    return pd_, to_score(pd_, scale), reason_indices(contributions)


def score_frame(tables: AdditiveModel, scale: ScoreScale, X: pd.DataFrame) -> pd.DataFrame:
    """Score rows of features: probability of default, score and four reason codes.

    Parameters
    ----------
    tables
        The model's additive tables.
    scale
        The score scale.
    X
        One row per consumer with (at least) the tables' features.

    Returns
    -------
    pandas.DataFrame
        ``pd``, ``score`` and ``reason_1`` .. ``reason_4``, on ``X``'s index.
    """
    pd_, score, reasons = score_arrays(tables, scale, X)
    names = np.array([*tables.features, None], dtype=object)
    out = {"pd": pd_, "score": score}
    for i in range(REASONS):
        out[f"reason_{i + 1}"] = names[reasons[:, i]]
    return pd.DataFrame(out, index=X.index)


def _window(month: str, snapshot: int, outcomes: tuple[int, int]) -> str:
    """A snapshot and its outcome months, as a model's display gives them."""
    return f"{month} (month {snapshot}), outcomes of months {outcomes[0]}-{outcomes[1]}"


def _discrimination(sample: Discrimination) -> str:
    """A sample's AUC and KS, its size and its bad rate, as a model's display gives them."""
    return (
        f"AUC {sample.auc:.3f}, KS {sample.ks:.3f}"
        f" ({sample.rows:,} rows, bad rate {sample.bad_rate:.1%})"
    )


# The dataclass's own repr would print the whole estimator and card; a model shows a summary.
@dataclass(frozen=True, repr=False)
class BureauModel:
    """A fitted model and its card: what it needs to score, and what the bureau knows of it.

    Attributes
    ----------
    estimator
        The fitted estimator (:class:`GradientBoostedModel` or :class:`WOEScorecard`).
    card
        The model card; its family, features and scale are the model's.
    directory
        The directory it was loaded from (None for a model fitted in this process).
    """

    estimator: GradientBoostedModel | WOEScorecard
    card: ModelCard
    directory: Path | None = None

    @property
    def family(self) -> str:
        """``lightgbm`` or ``scorecard``."""
        return self.card.model_family

    @property
    def features(self) -> list[str]:
        """The input features, in order."""
        return list(self.card.features)

    @property
    def scale(self) -> ScoreScale:
        """The bureau's score scale."""
        return self.card.score_scale

    def files(self) -> list[Path]:
        """The files the model was loaded from (none for a model fitted in this process)."""
        if self.directory is None:
            return []
        return [self.directory / CARD, self.directory / self.card.model_file]

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
        tuple of numpy.ndarray
            Probabilities of default, scores, and reason-code indices (:func:`score_arrays`).
        """
        return score_arrays(self.tables, self.scale, X)

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
        return score_frame(self.tables, self.scale, X)

    def model_text(self) -> str:
        """The model file's text."""
        return model_text(self.family, self.estimator)

    def table(self) -> pd.DataFrame:
        """The model's points on the bureau's score scale: one row per feature and bin.

        Returns
        -------
        pandas.DataFrame
            The estimator's table (:meth:`WOEScorecard.table`,
            :meth:`GradientBoostedModel.table`) on the card's scale: the points of a
            consumer's bins, one per feature, add up to the score :meth:`score` gives,
            before it is rounded to a whole point and clipped to the scale's range.
        """
        return self.estimator.table(self.scale)

    def _summary(self) -> tuple[str, Lines]:
        """The title and lines of the model's displays: who trained it, where, how it did."""
        card = self.card
        train, judge, scale = card.training_window, card.evaluation_window, card.score_scale
        title = f"BureauModel {card.bureau} ({card.bureau_name}): {card.model_family}"
        return title, [
            ("features", f"{len(card.features)} ({', '.join(card.feature_groups)})"),
            (
                "trained",
                _window(train.development_month, train.development_snapshot, train.outcome_months),
            ),
            (
                "evaluated",
                _window(judge.evaluation_month, judge.evaluation_snapshot, judge.outcome_months),
            ),
            ("out of time", _discrimination(card.metrics.out_of_time)),
            ("development", _discrimination(card.metrics.development)),
            (
                "score scale",
                f"{scale.score_min}-{scale.score_max}, {scale.base_score:g} at"
                f" {scale.base_odds:g}:1 good:bad, {scale.points_to_double_odds:g} points"
                " double the odds",
            ),
            ("scenario", f"{card.scenario} (seed {card.seed})"),
            ("loaded from", "(fitted here)" if self.directory is None else str(self.directory)),
        ]

    def __repr__(self) -> str:
        return text_summary(*self._summary())

    def _repr_html_(self) -> str:
        return html_summary(*self._summary())


def save_model(model: BureauModel, directory: Path) -> Path:
    """Write a model and its card into a directory (each file replaced atomically).

    The card is written as it is, sealed: it was complete when the model was trained.

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

    Raises
    ------
    ValueError
        If the card does not describe the model: another file name or model file hash.
    """
    text = model.model_text()
    card = model.card
    if card.model_file != MODEL_FILES[card.model_family]:
        raise ValueError(f"a {card.model_family} model's file is not {card.model_file!r}")
    if hashlib.sha256(text.encode("utf-8")).hexdigest() != card.model_sha256:
        raise ValueError(f"{card.bureau}: the card's model_sha256 is not the model's")
    directory.mkdir(parents=True, exist_ok=True)
    # The model file first: a card never points at a model file that is not there yet.
    write_text_atomic(directory / card.model_file, text)
    write_text_atomic(directory / CARD, card.to_json())
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
        The model, ready to score, with its card (:attr:`BureauModel.card`).

    Raises
    ------
    ModelError
        If the card or model file is missing, is not what :func:`save_model` writes (a card
        field missing, of the wrong type or unknown to a card), does not match its hash, or
        (with a forged hash) does not parse as a model of the bureaus' kind; the message
        names the file and the line or field.
    """
    directory = Path(directory)
    card_path = directory / CARD
    if not card_path.is_file():
        raise ModelError("not a model directory (no model_card.json)", path=directory)
    card = read_card(card_path)
    model_path = directory / card.model_file
    if not model_path.is_file():
        raise ModelError("model file missing", path=model_path)
    raw = _read(model_path)
    if hashlib.sha256(raw).hexdigest() != card.model_sha256:
        raise ModelError(
            "model file does not match the SHA-256 in its model card: corrupted or altered",
            path=model_path,
        )
    estimator = estimator_from_bytes(card.model_family, raw, list(card.features), model_path)
    return BureauModel(estimator, card, directory)


def estimator_from_bytes(
    family: str, raw: bytes, features: list[str], path: Path
) -> GradientBoostedModel | WOEScorecard:
    """Rebuild a fitted estimator from its model file, checked before anything parses it.

    Parameters
    ----------
    family
        ``lightgbm`` or ``scorecard``.
    raw
        The model file's bytes (what :func:`model_text` wrote).
    features
        The features the model must have, in order.
    path
        The file, to name in errors.

    Returns
    -------
    GradientBoostedModel or WOEScorecard
        The estimator, ready to score.

    Raises
    ------
    ModelError
        If the file is not a model of that family on those features.
    """
    if family == "lightgbm":
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            raise ModelError("not UTF-8 text (binary or damaged?)", path=path, row=line) from None
        return GradientBoostedModel.from_text(text, features=features, path=path)
    data = read_json(raw, path)
    check_scorecard(data, features, path)
    return WOEScorecard.from_dict(data)
