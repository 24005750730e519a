"""Score scales: from a probability of default to a bureau's points, and back.

A bureau's score is linear in the log of the good:bad odds: ``points_to_double_odds`` more
points double the odds, and ``base_score`` stands at ``base_odds``. Scores are whole points,
clipped to the bureau's published range. Pure functions of arrays, so any consumer of scores
(batch scoring, the aggregator, comparisons on a common scale) converts them the same way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

#: The range of the common scale scores are compared on across bureaus.
COMMON_RANGE = (300, 850)


@dataclass(frozen=True)
class ScoreScale:
    """A score scale: range, points to double the odds, and the anchor.

    Attributes
    ----------
    score_min, score_max
        The published range; scores are clipped to it.
    points_to_double_odds
        Points that double the good:bad odds.
    base_score, base_odds
        The score that stands at the given good:bad odds.
    """

    score_min: int
    score_max: int
    points_to_double_odds: float
    base_score: float
    base_odds: float

    @property
    def factor(self) -> float:
        """Points per unit of log odds."""
        return self.points_to_double_odds / np.log(2.0)

    def to_dict(self) -> dict[str, Any]:
        """The scale as plain values (for a model card)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScoreScale:
        """Rebuild a scale written by :meth:`to_dict`."""
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


def scale_for(
    score_min: int,
    score_max: int,
    points_to_double_odds: float,
    base_odds: float,
    base_score: float | None = None,
) -> ScoreScale:
    """Build a scale; the base score defaults to the middle of the range.

    Parameters
    ----------
    score_min, score_max
        The range.
    points_to_double_odds
        Points that double the odds.
    base_odds
        Good:bad odds at the base score.
    base_score
        The anchor score, or None for the middle of the range.

    Returns
    -------
    ScoreScale
        The scale.
    """
    anchor = (score_min + score_max) / 2.0 if base_score is None else float(base_score)
    return ScoreScale(score_min, score_max, float(points_to_double_odds), anchor, float(base_odds))


def log_odds_bad(pd_: np.ndarray) -> np.ndarray:
    """Log of the bad:good odds of probabilities of default (kept off 0 and 1)."""
    p = np.clip(np.asarray(pd_, dtype=np.float64), 1e-9, 1 - 1e-9)
    return np.log(p / (1.0 - p))


def to_score(pd_: np.ndarray, scale: ScoreScale) -> np.ndarray:
    """Convert probabilities of default to whole scores on a scale.

    Parameters
    ----------
    pd_
        Probabilities of default.
    scale
        The scale.

    Returns
    -------
    numpy.ndarray
        int32 scores, clipped to the scale's range.
    """
    raw = scale.base_score - scale.factor * (log_odds_bad(pd_) + np.log(scale.base_odds))
    return np.clip(np.rint(raw), scale.score_min, scale.score_max).astype(np.int32)


def to_pd(score: np.ndarray, scale: ScoreScale) -> np.ndarray:
    """The probability of default a score stands for (the inverse of :func:`to_score`).

    Parameters
    ----------
    score
        Scores on the scale.
    scale
        The scale.

    Returns
    -------
    numpy.ndarray
        Probabilities of default.
    """
    log_odds_good = (np.asarray(score, dtype=np.float64) - scale.base_score) / scale.factor
    odds_good = np.exp(log_odds_good + np.log(scale.base_odds))
    return 1.0 / (1.0 + odds_good)


def common_scale() -> ScoreScale:
    """The 300-850 scale scores are compared on: 40 points double the odds, 650 at 19:1."""
    return scale_for(*COMMON_RANGE, points_to_double_odds=40.0, base_odds=19.0, base_score=650.0)
