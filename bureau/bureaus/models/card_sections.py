"""The sections of a model card: its windows, its metrics, its score scale.

Each is a frozen dataclass with ``to_dict`` and a ``from_dict`` that checks every field and
names the one at fault as a path in the card (``metrics.out_of_time.auc``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bureau.bureaus.models.checks import SCALE_KEYS, JSONObject, finite
from bureau.bureaus.models.scale import ScoreScale

_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")

__all__ = ["CardMetrics", "Discrimination", "EvaluationWindow", "TrainingWindow", "read_scale"]


@dataclass(frozen=True)
class Discrimination:
    """How well a model's probabilities separate the bad from the good, on one sample.

    Attributes
    ----------
    rows
        Consumers in the sample.
    bad_rate
        The share of them that went bad.
    auc, gini, ks
        Area under the ROC curve, 2 AUC - 1, and the Kolmogorov-Smirnov statistic (NaN
        when the sample holds one class only).
    """

    rows: int
    bad_rate: float
    auc: float
    gini: float
    ks: float

    def to_dict(self) -> dict[str, Any]:
        """The figures as JSON values."""
        return {
            "rows": self.rows,
            "bad_rate": self.bad_rate,
            "auc": self.auc,
            "gini": self.gini,
            "ks": self.ks,
        }

    @classmethod
    def from_dict(
        cls, data: Any, path: Path | None = None, where: str = "metrics"
    ) -> Discrimination:
        """Read the figures :meth:`to_dict` writes, checking each.

        Parameters
        ----------
        data
            The parsed JSON object.
        path
            The card's file, to name in errors.
        where
            The object's place in the card (``metrics.development``).

        Returns
        -------
        Discrimination
            The figures.

        Raises
        ------
        bureau.errors.ModelError
            Naming the field at fault.
        """
        obj = JSONObject(data, ("rows", "bad_rate", "auc", "gini", "ks"), where, path)
        return cls(
            rows=obj.whole("rows"),
            bad_rate=obj.number("bad_rate"),
            auc=obj.number("auc"),
            gini=obj.number("gini"),
            ks=obj.number("ks"),
        )


@dataclass(frozen=True)
class CardMetrics:
    """A model's discrimination against the outcomes its bureau observed.

    Attributes
    ----------
    development
        In time: the development sample the model learnt from.
    out_of_time
        Out of time: the consumers on file at the evaluation snapshot, not already in
        default, against the defaults reported to the bureau in the 12 months after.
    """

    development: Discrimination
    out_of_time: Discrimination

    def to_dict(self) -> dict[str, Any]:
        """The metrics as JSON values."""
        return {
            "development": self.development.to_dict(),
            "out_of_time": self.out_of_time.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Any, path: Path | None = None) -> CardMetrics:
        """Read the metrics :meth:`to_dict` writes (see :meth:`Discrimination.from_dict`)."""
        obj = JSONObject(data, ("development", "out_of_time"), "metrics", path)
        return cls(
            development=Discrimination.from_dict(
                data["development"], path, obj.name("development")
            ),
            out_of_time=Discrimination.from_dict(
                data["out_of_time"], path, obj.name("out_of_time")
            ),
        )


@dataclass(frozen=True)
class TrainingWindow:
    """Where a model learnt: the development snapshot and the outcomes observed after it.

    Attributes
    ----------
    development_snapshot
        The month of the snapshot (0 = the scenario's first month).
    development_month
        The same month as ``YYYY-MM``.
    outcome_months
        The first and last month of the outcomes the labels are drawn from.
    label
        What a bad outcome is.
    excluded
        Who is left out of the sample.
    """

    development_snapshot: int
    development_month: str
    outcome_months: tuple[int, int]
    label: str
    excluded: str

    def to_dict(self) -> dict[str, Any]:
        """The window as JSON values."""
        return {
            "development_snapshot": self.development_snapshot,
            "development_month": self.development_month,
            "outcome_months": list(self.outcome_months),
            "label": self.label,
            "excluded": self.excluded,
        }

    @classmethod
    def from_dict(cls, data: Any, path: Path | None = None) -> TrainingWindow:
        """Read the window :meth:`to_dict` writes, checking each field."""
        keys = ("development_snapshot", "development_month", "outcome_months", "label", "excluded")
        obj = JSONObject(data, keys, "training_window", path)
        return cls(
            development_snapshot=obj.whole("development_snapshot"),
            development_month=obj.text("development_month", _MONTH, "a YYYY-MM month"),
            outcome_months=obj.months("outcome_months"),
            label=obj.text("label"),
            excluded=obj.text("excluded"),
        )


@dataclass(frozen=True)
class EvaluationWindow:
    """Where a model is judged out of time: the evaluation snapshot and the outcomes after it.

    Attributes
    ----------
    evaluation_snapshot
        The month of the snapshot (0 = the scenario's first month).
    evaluation_month
        The same month as ``YYYY-MM``.
    outcome_months
        The first and last month of the outcomes it is judged on.
    """

    evaluation_snapshot: int
    evaluation_month: str
    outcome_months: tuple[int, int]

    def to_dict(self) -> dict[str, Any]:
        """The window as JSON values."""
        return {
            "evaluation_snapshot": self.evaluation_snapshot,
            "evaluation_month": self.evaluation_month,
            "outcome_months": list(self.outcome_months),
        }

    @classmethod
    def from_dict(cls, data: Any, path: Path | None = None) -> EvaluationWindow:
        """Read the window :meth:`to_dict` writes, checking each field."""
        keys = ("evaluation_snapshot", "evaluation_month", "outcome_months")
        obj = JSONObject(data, keys, "evaluation_window", path)
        return cls(
            evaluation_snapshot=obj.whole("evaluation_snapshot"),
            evaluation_month=obj.text("evaluation_month", _MONTH, "a YYYY-MM month"),
            outcome_months=obj.months("outcome_months"),
        )


def read_scale(data: Any, path: Path | None) -> ScoreScale:
    """Read a card's ``score_scale``, checking each field (see :class:`ScoreScale`)."""
    obj = JSONObject(data, SCALE_KEYS, "score_scale", path)
    if obj.whole("score_min", None) >= obj.whole("score_max", None):
        raise obj.fail("score_min", "not below score_max")
    finite(data["base_score"], obj.name("base_score"), path)
    for key in ("points_to_double_odds", "base_odds"):
        if finite(data[key], obj.name(key), path) <= 0:
            raise obj.fail(key, "not positive")
    return ScoreScale.from_dict(data)
