"""The gradient-boosted model: LightGBM, additive by construction, monotone where risk is known.

Every tree splits on a single feature (LightGBM's interaction constraints), so the model is a
sum of one step function per feature, like a scorecard but learned by boosting. That buys
exact reason codes from LightGBM's own feature contributions at the cost of a row-wise tree
walk: the contributions of an additive model do not depend on the other features, so they are
read once per bin (:func:`compile_tables`) and scoring is a lookup. What is given up is
interactions between features, which for bureau data add little and which regulators ask
lenders to explain anyway.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from bureau.bureaus.models.additive import AdditiveModel, FeatureTable
from bureau.bureaus.models.classifier import AdditiveClassifier
from bureau.bureaus.models.lgb_text import check_model_text
from bureau.errors import ModelError, TrainingError
from bureau.parallel import LARGE_GRAPH_WARNING


def _thresholds(tree: dict[str, Any], out: dict[int, set[float]]) -> None:
    stack = [tree]
    while stack:
        node = stack.pop()
        if "split_feature" in node:
            out.setdefault(int(node["split_feature"]), set()).add(float(node["threshold"]))
            stack.extend((node["left_child"], node["right_child"]))


def compile_tables(booster: lgb.Booster) -> AdditiveModel:
    """Read an additive booster's step functions from its own feature contributions.

    Parameters
    ----------
    booster
        A booster whose trees each split on one feature.

    Returns
    -------
    AdditiveModel
        Intercept and one table per feature; its log odds equal the booster's raw score.

    Raises
    ------
    ValueError
        If a tree splits on more than one feature.
    """
    names = booster.feature_name()
    dump = booster.dump_model()
    cuts: dict[int, set[float]] = {}
    for info in dump["tree_info"]:
        seen: dict[int, set[float]] = {}
        _thresholds(info["tree_structure"], seen)
        if len(seen) > 1:
            raise ValueError("the booster is not additive: a tree splits on several features")
        for feature, values in seen.items():
            cuts.setdefault(feature, set()).update(values)
    # One probe row per bin of every feature, plus one with the feature missing; the other
    # features are missing too, which cannot change an additive model's term for this one.
    splits = [np.array(sorted(cuts.get(i, ())), dtype=np.float64) for i in range(len(names))]
    probes: list[np.ndarray] = []
    for i, cut in enumerate(splits):
        points = np.concatenate([cut, [np.nextafter(cut[-1], np.inf) if len(cut) else 0.0]])
        block = np.full((len(points) + 1, len(names)), np.nan)
        block[:-1, i] = points
        probes.append(block)
    matrix = np.vstack(probes)
    contrib = booster.predict(matrix, pred_contrib=True)
    tables = []
    row = 0
    for i, cut in enumerate(splits):
        size = len(cut) + 2
        block = contrib[row : row + size, i]
        tables.append(FeatureTable(names[i], cut, block[:-1].copy(), float(block[-1]), "right"))
        row += size
    return AdditiveModel(float(contrib[0, -1]), tuple(tables))


class GradientBoostedModel(AdditiveClassifier):
    """An additive, monotone LightGBM classifier of default (scikit-learn estimator).

    Parameters
    ----------
    directions
        Per feature, +1 where a higher value is known to mean more risk, -1 less, 0 unknown;
        None for no constraints.
    n_estimators
        Boosting rounds.
    learning_rate
        Shrinkage.
    num_leaves
        Leaves per tree.
    min_child_samples
        Fewest rows in a leaf.
    reg_lambda
        L2 regularisation of leaf values.
    random_state
        Seed; with LightGBM's deterministic mode and one thread, training is reproducible.
    partitions
        Train with ``lightgbm.dask`` on this many row partitions of the sample, spread over
        the Dask cluster the fit runs on (inside :func:`~bureau.parallel.use_scheduler`): for
        samples too large for one worker. The trees are then stumps (one split each, as many
        rounds as the one-process model has splits): LightGBM's distributed learners fail
        with interaction constraints (LightGBM issue 5680). Distributed training finds its
        splits from every partition's histograms, so the model depends on the partitioning
        (LightGBM issue 5798) and is not the one-process model. None (the default) trains
        here, in one deterministic process.
    """

    def __init__(
        self,
        *,
        directions: list[int] | None = None,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 8,
        min_child_samples: int = 100,
        reg_lambda: float = 1.0,
        random_state: int = 0,
        partitions: int | None = None,
    ) -> None:
        self.directions = directions
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.reg_lambda = reg_lambda
        self.random_state = random_state
        self.partitions = partitions

    def _params(self, width: int) -> dict[str, Any]:
        params: dict[str, Any] = {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "reg_lambda": self.reg_lambda,
            "seed": self.random_state,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": 1,
            "verbosity": -1,
            "interaction_constraints": [[i] for i in range(width)],
        }
        if self.directions is not None:
            if len(self.directions) != width:
                raise ValueError("directions must give one entry per feature")
            params["monotone_constraints"] = [int(np.sign(d)) for d in self.directions]
            params["monotone_constraints_method"] = "advanced"
        return params

    def fit(self, X: pd.DataFrame | np.ndarray, y: np.ndarray) -> GradientBoostedModel:
        """Train on features and binary labels (1 = bad).

        Parameters
        ----------
        X
            Features, one column each; missing values allowed.
        y
            Labels of two classes; the model gives the probability of the second
            (``True`` or ``1``: bad).

        Returns
        -------
        GradientBoostedModel
            self.

        Raises
        ------
        ValueError
            If the features or labels are malformed, the labels are not of two classes, or
            there is one direction too many or too few.
        TrainingError
            If ``partitions`` is set and the fit does not run on a Dask cluster.
        """
        matrix, labels = self._validate_training(X, y)
        features = self._input_names()
        params = self._params(len(features))
        if self.partitions:
            self.booster_ = _fit_on_cluster(
                matrix, labels, features, params, self.n_estimators, self.partitions
            )
        else:
            data = lgb.Dataset(matrix, label=labels, feature_name=features, free_raw_data=True)
            self.booster_ = lgb.train(params, data, num_boost_round=self.n_estimators)
        self.tables_ = compile_tables(self.booster_)
        return self

    def to_text(self) -> str:
        """The booster in LightGBM's text format."""
        return self.booster_.model_to_string()

    @classmethod
    def from_text(
        cls, text: str, *, features: list[str] | None = None, path: Path | None = None
    ) -> GradientBoostedModel:
        """Rebuild a fitted model from LightGBM's text format, checked before LightGBM reads it.

        Parameters
        ----------
        text
            A model written by :meth:`to_text`.
        features
            The features the model must have, in order, or None not to check them.
        path
            The file the text was read from, to name in errors.

        Returns
        -------
        GradientBoostedModel
            The model, ready to score; its classes are 0 and 1 (bad), the training labels
            not being part of the file.

        Raises
        ------
        bureau.errors.ModelError
            If the text is not a LightGBM model of the bureaus' kind (see
            :func:`~bureau.bureaus.models.lgb_text.check_model_text`) or is not additive.
        """
        check_model_text(text, features=features, path=path)
        model = cls()
        try:
            model.booster_ = lgb.Booster(model_str=text)
            model.tables_ = compile_tables(model.booster_)
        except (lgb.basic.LightGBMError, ValueError) as exc:
            # Whatever the checks let through and LightGBM still refuses is refused the same way.
            raise ModelError(f"not a usable model ({exc})", path=path) from None
        model.feature_names_in_ = np.array(model.booster_.feature_name(), dtype=object)
        model.n_features_in_ = len(model.feature_names_in_)
        model.classes_ = np.array([0, 1])
        return model


def _fit_on_cluster(
    matrix: np.ndarray,
    labels: np.ndarray,
    features: list[str],
    params: dict[str, Any],
    rounds: int,
    partitions: int,
) -> lgb.Booster:
    """Train with ``lightgbm.dask`` on the cluster this code runs on, in row partitions."""
    import dask
    import dask.array as da
    from distributed import get_worker, worker_client
    from lightgbm.dask import DaskLGBMClassifier

    try:
        get_worker()
    except ValueError:
        raise TrainingError(
            "model_partitions (lightgbm.dask) needs a Dask cluster: run with --scheduler "
            "(or inside bureau.use_scheduler), or unset model_partitions",
            field="model_partitions",
        ) from None
    rows = -(-len(matrix) // partitions)
    # LightGBM's distributed learners fail with interaction constraints (LightGBM issue 5680),
    # so the trees are stumps, additive by their depth: one split each, and as many rounds as
    # the one-process model has splits.
    dropped = ("objective", "verbosity", "interaction_constraints", "num_threads")
    settings = {k: v for k, v in params.items() if k not in dropped}
    splits = settings.pop("num_leaves") - 1
    settings.update(num_leaves=2, max_depth=1)
    # A task that waits on other tasks gives its worker's slot back while it waits (secedes):
    # on single-threaded workers it would otherwise hold the slot that one partition needs.
    # The sample travels with the graph, as a chunk's rows travel with their task: Dask's
    # warning about a large graph says nothing the user can act on.
    with worker_client() as client, dask.config.set({LARGE_GRAPH_WARNING: "1TB"}):
        X = da.from_array(matrix, chunks=(rows, matrix.shape[1]))
        y = da.from_array(labels, chunks=(rows,))
        model = DaskLGBMClassifier(
            client=client, n_estimators=rounds * splits, verbose=-1, **settings
        ).fit(X, y, feature_name=features)
        return model.booster_
