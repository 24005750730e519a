"""The model card: what a bureau knows of a model it trained, typed, sealed and checked on load.

A card holds only what the bureau itself can know: who trained the model on which scenario,
the model file and its SHA-256, the features (with their directions and meanings) and feature
groups, the hyperparameters, the training and evaluation windows, the score scale, and the
model's discrimination against the outcomes the bureau observed, in time and out of time.
How the scores fare against the true outcomes is the analysis' to measure: it is in the run's
``report/model_performance``, never on a card.

A card is written once, complete, with its model (:func:`~bureau.bureaus.models.save_model`),
and sealed by ``card_sha256``: the SHA-256 of every other field in canonical JSON. Loading
(:meth:`ModelCard.from_dict`, :func:`read_card`) checks the seal, then every field: a field
missing, of the wrong type, or unknown to a card is a :class:`~bureau.errors.ModelError`
naming the file and the field (``training_window.outcome_months``).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bureau.bureaus.feature_catalog import FEATURE_GROUPS
from bureau.bureaus.models.card_sections import (
    CardMetrics,
    Discrimination,
    EvaluationWindow,
    TrainingWindow,
    read_scale,
)
from bureau.bureaus.models.checks import JSONObject, names, read_json
from bureau.bureaus.models.scale import ScoreScale
from bureau.errors import ModelError
from bureau.layout import MODEL_CARD

CARD = MODEL_CARD
MODEL_FILES = {"lightgbm": "model.txt", "scorecard": "scorecard.json"}
SEAL = "card_sha256"

_SHA256 = re.compile(r"[0-9a-f]{64}")
_RETRAIN = "retrain the model (bureau train; make models for the reference models)"
#: Fields cards once held that a card no longer may, and why.
_RETIRED = {
    ("metrics", "out_of_time_truth"): (
        "not a field of a model card: a bureau cannot know the true outcomes (the metrics"
        " against the truth are in the run's report/model_performance); " + _RETRAIN
    ),
}

__all__ = [
    "CARD",
    "MODEL_FILES",
    "SEAL",
    "CardMetrics",
    "Discrimination",
    "EvaluationWindow",
    "ModelCard",
    "TrainingWindow",
    "card_sha256",
    "read_card",
]


def card_sha256(card: dict[str, Any]) -> str:
    """The SHA-256 that seals a model card: of every field but the seal, in canonical JSON.

    Parameters
    ----------
    card
        The card as a JSON object (a ``card_sha256`` field in it is left out).

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


#: A card's top-level fields, in the order of :class:`ModelCard`.
CARD_FIELDS = (
    "bureau",
    "bureau_name",
    "scenario",
    "scenario_sha256",
    "seed",
    "package_version",
    "model_family",
    "model_file",
    "model_sha256",
    "features",
    "feature_groups",
    "feature_directions",
    "feature_descriptions",
    "hyperparameters",
    "training_window",
    "evaluation_window",
    "metrics",
    "score_scale",
)


@dataclass(frozen=True)
class ModelCard:
    """What a bureau knows of a model it trained: written with the model, sealed, checked.

    Attributes
    ----------
    bureau, bureau_name
        The bureau's key and its name.
    scenario, scenario_sha256
        The scenario trained on, and the SHA-256 of the resolved scenario's TOML.
    seed
        The scenario's root seed.
    package_version
        The version of ``bureau`` that trained the model.
    model_family
        ``lightgbm`` or ``scorecard``.
    model_file
        The model file's name in its directory (``model.txt`` or ``scorecard.json``).
    model_sha256
        The SHA-256 of the model file.
    features
        The model's input features, in order.
    feature_groups
        The feature groups the features come from (those a bureau's files are scored with).
    feature_directions
        Feature -> known direction of its effect on risk (1, -1, or 0 where unknown).
    feature_descriptions
        Feature -> what it means.
    hyperparameters
        The estimator's parameters (JSON scalars), its directions left out.
    training_window, evaluation_window
        Where the model learnt and where it is judged out of time.
    metrics
        Discrimination in time and out of time, against the outcomes the bureau observed.
    score_scale
        The bureau's score scale.

    Notes
    -----
    The seal is not stored: the property :attr:`card_sha256` computes it from the other
    fields, :meth:`to_dict` writes it and :meth:`from_dict` checks it.
    """

    bureau: str
    bureau_name: str
    scenario: str
    scenario_sha256: str
    seed: int
    package_version: str
    model_family: str
    model_file: str
    model_sha256: str
    features: tuple[str, ...]
    feature_groups: tuple[str, ...]
    feature_directions: dict[str, int] = field(hash=False)
    feature_descriptions: dict[str, str] = field(hash=False)
    hyperparameters: dict[str, Any] = field(hash=False)
    training_window: TrainingWindow
    evaluation_window: EvaluationWindow
    metrics: CardMetrics
    score_scale: ScoreScale

    def __post_init__(self) -> None:
        # Sequences as tuples, however they were given: a card does not change once built.
        object.__setattr__(self, "features", tuple(self.features))
        object.__setattr__(self, "feature_groups", tuple(self.feature_groups))

    def _fields(self) -> dict[str, Any]:
        return {
            "bureau": self.bureau,
            "bureau_name": self.bureau_name,
            "scenario": self.scenario,
            "scenario_sha256": self.scenario_sha256,
            "seed": self.seed,
            "package_version": self.package_version,
            "model_family": self.model_family,
            "model_file": self.model_file,
            "model_sha256": self.model_sha256,
            "features": list(self.features),
            "feature_groups": list(self.feature_groups),
            "feature_directions": dict(self.feature_directions),
            "feature_descriptions": dict(self.feature_descriptions),
            "hyperparameters": dict(self.hyperparameters),
            "training_window": self.training_window.to_dict(),
            "evaluation_window": self.evaluation_window.to_dict(),
            "metrics": self.metrics.to_dict(),
            "score_scale": self.score_scale.to_dict(),
        }

    @property
    def card_sha256(self) -> str:
        """The seal: the SHA-256 of every other field in canonical JSON (:func:`card_sha256`)."""
        return card_sha256(self._fields())

    def to_dict(self) -> dict[str, Any]:
        """The card as JSON values, sealed: every field and ``card_sha256``.

        Returns
        -------
        dict
            What ``model_card.json`` holds.
        """
        fields = self._fields()
        return {**fields, SEAL: card_sha256(fields)}

    def to_json(self) -> str:
        """The text of ``model_card.json``: :meth:`to_dict` as indented JSON, keys sorted."""
        return json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: Any, path: Path | None = None) -> ModelCard:
        """Read a card written by :meth:`to_dict`: the seal first, then every field.

        Parameters
        ----------
        data
            The parsed card.
        path
            The card's file, to name in errors.

        Returns
        -------
        ModelCard
            The card.

        Raises
        ------
        bureau.errors.ModelError
            If the card is not a JSON object, has no seal or does not match it (edited or
            corrupted), or has a field missing, of the wrong type or unknown to a card;
            naming the file and the field.
        """
        if not isinstance(data, dict):
            raise ModelError("not a model card (a JSON object)", path=path)
        if SEAL not in data:
            raise ModelError(
                f"no {SEAL}: the card was written by an older version and cannot be checked; "
                + _RETRAIN,
                path=path,
            )
        if data[SEAL] != card_sha256(data):
            raise ModelError(f"the card does not match its {SEAL}: edited or corrupted", path=path)
        for (section, key), message in _RETIRED.items():
            if isinstance(data.get(section), dict) and key in data[section]:
                raise ModelError(message, path=path, field=f"{section}.{key}")
        obj = JSONObject({k: v for k, v in data.items() if k != SEAL}, CARD_FIELDS, "", path)
        family = data["model_family"]
        if not isinstance(family, str) or family not in MODEL_FILES:
            known = ", ".join(MODEL_FILES)
            raise obj.fail("model_family", f"unknown model family {family!r} (families: {known})")
        if data["model_file"] != MODEL_FILES[family]:
            raise obj.fail("model_file", f"must be {MODEL_FILES[family]!r} for a {family} model")
        features = names(data["features"], "features", path)
        groups = data["feature_groups"]
        if (
            not isinstance(groups, list)
            or not all(isinstance(g, str) and g in FEATURE_GROUPS for g in groups)
            or len(set(groups)) != len(groups)
        ):
            known = ", ".join(FEATURE_GROUPS)
            raise obj.fail("feature_groups", f"not a list of distinct feature groups ({known})")
        directions = obj.mapping("feature_directions")
        descriptions = obj.mapping("feature_descriptions")
        for key, table, good, what in (
            (
                "feature_directions",
                directions,
                lambda v: isinstance(v, int) and v in (-1, 0, 1),
                "1, -1 or 0",
            ),
            ("feature_descriptions", descriptions, lambda v: isinstance(v, str), "text"),
        ):
            for name, value in table.items():
                if name not in features:
                    raise obj.fail(key, f"{name!r} is not one of the features")
                if isinstance(value, bool) or not good(value):
                    raise obj.fail(f"{key}.{name}", f"{value!r} is not {what}")
        hyperparameters = obj.mapping("hyperparameters")
        for name, value in hyperparameters.items():
            if value is not None and not isinstance(value, str | int | float):
                raise obj.fail(f"hyperparameters.{name}", f"{value!r} is not a JSON scalar")
        return cls(
            bureau=obj.text("bureau"),
            bureau_name=obj.text("bureau_name"),
            scenario=obj.text("scenario"),
            scenario_sha256=obj.text("scenario_sha256", _SHA256, "a SHA-256 in hexadecimal"),
            seed=obj.whole("seed"),
            package_version=obj.text("package_version"),
            model_family=family,
            model_file=data["model_file"],
            model_sha256=obj.text("model_sha256", _SHA256, "a SHA-256 in hexadecimal"),
            features=tuple(features),
            feature_groups=tuple(groups),
            feature_directions=dict(directions),
            feature_descriptions=dict(descriptions),
            hyperparameters=dict(hyperparameters),
            training_window=TrainingWindow.from_dict(data["training_window"], path),
            evaluation_window=EvaluationWindow.from_dict(data["evaluation_window"], path),
            metrics=CardMetrics.from_dict(data["metrics"], path),
            score_scale=read_scale(data["score_scale"], path),
        )


def read_card(path: str | Path) -> ModelCard:
    """Read and check a ``model_card.json`` file.

    Parameters
    ----------
    path
        The card's file.

    Returns
    -------
    ModelCard
        The card.

    Raises
    ------
    bureau.errors.ModelError
        If the file cannot be read, is not UTF-8 JSON, or is not a card
        (:meth:`ModelCard.from_dict`); naming the file and the line or field.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot be read ({exc.strerror or exc})", path=path) from None
    return ModelCard.from_dict(read_json(raw, path), path)
