"""The signal audit: what each feature group says about risk in the world, and what bureaus get.

For each feature group the world's own information is measured first: the bureaus' feature
definitions applied to a file made from the truth (:mod:`bureau.pipeline.world_file`), a
model of that group alone fitted at the development snapshot against the true outcome and
judged out of time, over every adult not in default and over the borrowers (an account open
at the snapshot: those who can default). Beside it, for every bureau that holds the group,
what reached its development sample (the share of consumers with any of the group's data,
and how much more often they went bad), whether its model uses the group, and the group's
ablation gain. A group the world ties to risk that adds nothing to a bureau gets a note
saying why, from these figures.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from bureau.analysis.metrics import discrimination
from bureau.bureaus.feature_catalog import FEATURE_BY_NAME, FEATURE_GROUPS, feature_names
from bureau.bureaus.feature_groups import NEVER
from bureau.bureaus.models.additive import AdditiveModel
from bureau.bureaus.models.gbm import GradientBoostedModel
from bureau.bureaus.models.scorecard import WOEScorecard
from bureau.config.scenario import Scenario
from bureau.layout import RunLayout
from bureau.pipeline.truth import OUTCOME_COLUMNS, read_outcomes
from bureau.pipeline.world_file import world_features
from bureau.rng import library_seed

#: A group the world ties to risk: alone it ranks the true outcome at least this well (AUC),
#: over the adults or over the borrowers.
SIGNAL_AUC = 0.55
#: A group adds nothing to a bureau when neither of its ablation gains reaches this.
DEAD_GAIN = 0.001
#: What :func:`group_diagnostics` gives of each group, with the bureau.
DIAGNOSTIC_COLUMNS = (
    "bureau",
    "group",
    "share",
    "lift",
    "used",
    "best_direction_auc",
    "rows_with_data",
)
#: A group held by less of a bureau's sample than this is rare there.
RARE_SHARE = 0.1
#: The columns of the ``signal_audit`` report table.
AUDIT_COLUMNS = (
    "group",
    "world_auc",
    "world_borrowers_auc",
    "world_share",
    "world_lift",
    "bureau",
    "share",
    "lift",
    "used",
    "observed_auc_gain",
    "truth_auc_gain",
    "note",
)


def world_audit(scn: Scenario, run: RunLayout) -> pd.DataFrame:
    """The world's side of the audit: each group's signal, from the truth of a run.

    Parameters
    ----------
    scn
        The scenario.
    run
        The run, whose world is read a chunk at a time.

    Returns
    -------
    pandas.DataFrame
        :func:`world_signal`.
    """
    snapshots = [scn.scoring.development_snapshot, scn.scoring.evaluation_snapshot]
    features = world_features(scn, run, snapshots)
    outcomes = read_outcomes(run, snapshots, (*OUTCOME_COLUMNS, "borrower"))
    return world_signal(features, outcomes, *snapshots, seed=scn.seed)


def world_signal(
    features: dict[int, pd.DataFrame],
    outcomes: dict[int, pd.DataFrame],
    development: int,
    evaluation: int,
    seed: int,
) -> pd.DataFrame:
    """How well each feature group's information alone ranks the true outcome, in the world.

    Parameters
    ----------
    features
        Every adult's features from the truth at the two snapshots
        (:func:`~bureau.pipeline.world_file.world_features`).
    outcomes
        The true outcomes at the two snapshots, by ``person_id``: ``default_12m``,
        ``borrower`` and ``in_default``.
    development, evaluation
        The snapshots a model is fitted at and judged at.
    seed
        The scenario's seed.

    Returns
    -------
    pandas.DataFrame
        One row per group: ``group``, ``world_auc`` (over the adults not in default at the
        evaluation snapshot), ``world_borrowers_auc`` (over the borrowers among them, the
        model fitted on the borrowers) and ``world_share`` (share of adults with any of the
        group's data) and ``world_lift`` (how many times as often the borrowers with any
        of its data went bad as the other borrowers, at the evaluation snapshot).
    """
    rows = []
    dev = _at_risk(features[development], outcomes[development])
    ev = _at_risk(features[evaluation], outcomes[evaluation])
    for group in FEATURE_GROUPS:
        names = feature_names([group])
        row: dict[str, Any] = {"group": group}
        for column, keep in (("world_auc", None), ("world_borrowers_auc", "borrower")):
            fit = dev if keep is None else dev[dev[keep]]
            judged = ev if keep is None else ev[ev[keep]]
            # Unconstrained: the world's information, whatever its direction.
            model = GradientBoostedModel(random_state=library_seed(seed, f"signal_audit:{group}"))
            model.fit(fit[names], fit["default_12m"].to_numpy())
            pd_ = model.predict_proba(judged[names])[:, 1]
            row[column] = discrimination(judged["default_12m"].to_numpy(), pd_)["auc"]
        has = with_data(ev[names])
        row["world_share"] = float(has.mean())
        borrowers = ev["borrower"].to_numpy()
        row["world_lift"] = _lift(has[borrowers], ev["default_12m"].to_numpy()[borrowers])
        rows.append(row)
    return pd.DataFrame(rows)


def _at_risk(features: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    """The adults not in default at a snapshot: their features and outcome."""
    outcome = outcomes.reindex(features.index)
    keep = ~outcome["in_default"].to_numpy(dtype=bool)
    return features[keep].assign(
        default_12m=outcome["default_12m"].to_numpy(dtype=bool)[keep],
        borrower=outcome["borrower"].to_numpy(dtype=bool)[keep],
    )


def with_data(features: pd.DataFrame) -> np.ndarray:
    """Which rows hold any information in these features (a value other than none, 0 or never).

    Parameters
    ----------
    features
        Some features of a group.

    Returns
    -------
    numpy.ndarray
        One boolean per row.
    """
    values = features.to_numpy(dtype=float)
    return ((~np.isnan(values)) & (values != 0) & (values != NEVER)).any(axis=1)


def group_diagnostics(
    development: pd.DataFrame,
    sample: np.ndarray,
    y: np.ndarray,
    groups: list[str],
    tables: AdditiveModel,
) -> list[dict[str, Any]]:
    """What reached a bureau's development sample of each of its groups, and what its model used.

    Parameters
    ----------
    development
        The bureau's modelling table at the development snapshot.
    sample
        Which of its consumers the model learned from.
    y
        Their labels.
    groups
        The bureau's feature groups.
    tables
        Its model's step functions.

    Returns
    -------
    list of dict
        Per group: ``group``, ``share`` (of the sample with any of the group's data), ``lift``
        (their bad rate over that of the rest; NaN where either side is empty), ``used``
        (the model has a step on one of its features), ``best_direction_auc`` (the best
        univariate AUC of its features, each oriented by its monotone constraint: below 0.5,
        the sample ranks them against the constraint) and ``rows_with_data``.
    """
    stepped = {t.name for t in tables.tables if len(t.splits) and np.ptp(t.values) > 0}
    rows = []
    for group in groups:
        names = feature_names([group])
        X = development.loc[sample, names]
        has = with_data(X)
        oriented = [
            _oriented_auc(X[name].to_numpy(dtype=float), y, FEATURE_BY_NAME[name].direction)
            for name in names
        ]
        rows.append(
            {
                "group": group,
                "share": float(has.mean()) if len(has) else 0.0,
                "lift": _lift(has, y),
                "used": bool(stepped & set(names)),
                "best_direction_auc": float(np.nanmax(oriented)) if oriented else np.nan,
                "rows_with_data": int(has.sum()),
            }
        )
    return rows


def _lift(has: np.ndarray, bad: np.ndarray) -> float:
    """How many times as often those with data went bad as the rest (NaN if undefined)."""
    if not has.any() or has.all() or bad[~has].mean() == 0:
        return np.nan
    return float(bad[has].mean() / bad[~has].mean())


def _oriented_auc(x: np.ndarray, y: np.ndarray, direction: int) -> float:
    """The AUC of one feature as its constraint orients it (NaN without a constraint)."""
    known = ~np.isnan(x)
    if direction == 0 or len(np.unique(x[known])) < 2:
        return np.nan
    return discrimination(y[known], direction * x[known])["auc"]


def audit_table(
    world: pd.DataFrame,
    ablation: pd.DataFrame,
    diagnostics: pd.DataFrame,
    families: dict[str, str],
) -> pd.DataFrame:
    """The signal audit: the world's signal of each group beside each bureau's, with notes.

    Parameters
    ----------
    world
        :func:`world_signal`.
    ablation
        The ablation table (``bureau``, ``removed``, ``observed_auc_gain``,
        ``truth_auc_gain``).
    diagnostics
        :func:`group_diagnostics` of every bureau, with a ``bureau`` column.
    families
        Each bureau's model family (the bureaus with no row in ``diagnostics`` are ignored).

    Returns
    -------
    pandas.DataFrame
        :data:`AUDIT_COLUMNS`: one row per group with no bureau (``bureau`` empty) where no
        bureau holds it, and one per group and bureau that holds it.
    """
    gains = ablation.rename(columns={"removed": "group"})[
        ["bureau", "group", "observed_auc_gain", "truth_auc_gain"]
    ]
    held = diagnostics.merge(gains, on=["bureau", "group"], how="left")
    table = world.merge(held, on="group", how="left")
    table["bureau"] = table["bureau"].fillna("")
    table["note"] = [
        _note(row, families.get(row["bureau"], "")) for row in table.to_dict("records")
    ]
    table["used"] = table["used"].astype("boolean")
    return table[list(AUDIT_COLUMNS)].reset_index(drop=True)


def _times(lift: float) -> str:
    return "" if np.isnan(lift) else f"{lift:.2f} times as often as the rest"


def _note(row: dict[str, Any], family: str) -> str:
    """Why a group carries what it does to a bureau, from the audit's figures."""
    tied = max(row["world_auc"], row["world_borrowers_auc"]) >= SIGNAL_AUC
    world = (
        f"alone it ranks the true outcome at AUC {row['world_auc']:.3f}, "
        f"{row['world_borrowers_auc']:.3f} among borrowers"
    )
    if row["world_lift"] >= 1.5:
        world += (
            f"; the borrowers with any of it ({row['world_share']:.1%} of adults hold some) "
            f"go bad {_times(row['world_lift'])}, too few to move an AUC"
        )
    if not row["bureau"]:
        return "held by no bureau" + (
            "" if tied else f"; the world ties little risk to it: {world}"
        )
    gain = np.nanmax([row["observed_auc_gain"], row["truth_auc_gain"], -np.inf])
    if gain >= DEAD_GAIN:
        return "carries its signal"
    if not tied:
        return f"the world ties little risk to it: {world}"
    if row["share"] == 0:
        return "not furnished: no consumer of the bureau's sample has any of its data"
    in_sample = ""
    if not np.isnan(row["lift"]):
        in_sample = f": in the bureau's sample those with it go bad {_times(row['lift'])}"
    if not row["used"]:
        if family == "scorecard":
            smallest = WOEScorecard().min_bin_size
            if row["share"] < smallest:
                return (
                    f"too rare for the scorecard: {row['share']:.1%} of the sample has it, "
                    f"under the smallest bin ({smallest:.0%})"
                )
            return (
                "dropped by the scorecard (too little information value in its bins, or a "
                f"coefficient of the wrong sign beside the other groups){in_sample}"
            )
        if row["best_direction_auc"] < 0.5:
            return (
                "forbidden by the monotone constraint: in the bureau's sample more of it goes "
                f"with fewer defaults (best oriented AUC {row['best_direction_auc']:.3f})"
            )
        if row["rows_with_data"] < GradientBoostedModel().min_child_samples:
            return f"too rare for a leaf: {row['rows_with_data']} consumers of the sample have it"
        return "no split gains: what it says is already in the bureau's other groups"
    if row["truth_auc_gain"] <= -DEAD_GAIN:
        return (
            "used, and the model ranks the true outcome better without it (by "
            f"{-row['truth_auc_gain']:.3f} AUC): what it adds fits the outcomes the bureau was "
            "told, not the true ones"
        )
    if row["share"] >= RARE_SHARE:
        return "used, but what it says is already in the bureau's other groups"
    share = f"{row['share']:.1%} of the sample has it"
    return f"used, but too rare to move the AUC ({share}){in_sample}"
