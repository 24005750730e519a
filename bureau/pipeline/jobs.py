"""The per-bureau work of the stages: one job per bureau, each run in a worker process.

Each job opens its own bureau's database (an engine cannot cross a process boundary) and
returns plain values for its stage (:mod:`bureau.pipeline.stages`) to gather and write. A job
that measures against the truth reads none of the world's tables: its stage read them once and
hands each job its bureau's slice (:class:`~bureau.pipeline.truth.TruthSlice`). Only
reconciliation's tracing reads its bureau's furnished truth itself: it is all of the truth
that job needs, and its stage, busy linking meanwhile, needs none of it. Training keeps its
modelling tables under ``features/``, and the disputes stage the features of the files as
corrected, so that later jobs score them without reading the files again.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from bureau.analysis.disputes import dispute_statistics
from bureau.analysis.file_accuracy import assess_bureau, read_provenance
from bureau.analysis.file_errors import item_errors, read_items, trace_items
from bureau.analysis.metrics import discrimination, rounded
from bureau.analysis.model_performance import truth_performance
from bureau.analysis.provenance import (
    TRUTH_COLUMNS,
    BureauTruth,
    bureau_truth,
    file_owners,
    read_consumers,
    read_item_provenance,
)
from bureau.analysis.rescoring import rescore_corrected
from bureau.bureaus.ablation import NOTHING_REMOVED, SCORE_COLUMNS, ablation_scores
from bureau.bureaus.disputes import (
    corrected_consumers,
    items_corrected,
    record_disputes,
    score_changes,
)
from bureau.bureaus.feature_catalog import feature_names
from bureau.bureaus.features import file_features, read_file
from bureau.bureaus.models.artifacts import BureauModel, load_model, save_model
from bureau.bureaus.models.card import read_card
from bureau.bureaus.submission import BureauSubmission, bureau_submission
from bureau.bureaus.train import (
    TrainingError,
    development_sample,
    estimator_for,
    train_bureau,
    training_seed,
)
from bureau.config.scenario import Scenario
from bureau.furnish.disputes import file_disputes
from bureau.layout import RunLayout
from bureau.pipeline.signal_audit import group_diagnostics
from bureau.pipeline.truth import TruthSlice, read_furnished
from bureau.rng import generator
from bureau.store.corrections import corrections_as_of
from bureau.store.parquet import write_table

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BureauJob:
    """One bureau's work in a worker process.

    Its run (paths and databases), the bureau, for training the model family (the profile's
    when None), and the bureau's slice of the truth, as far as its stage needs it.
    """

    scenario: Scenario
    run: RunLayout
    bureau: str
    family: str | None = None
    truth: TruthSlice = field(default_factory=TruthSlice)


def _required(value: Any, job: BureauJob, what: str) -> Any:
    """A part of a job's truth its stage was to hand it: a job without it is a bug."""
    if value is None:
        raise ValueError(f"the {what} of {job.bureau} was not handed to its job")
    return value


def _database(job: BureauJob) -> AbstractContextManager[Engine]:
    """The job's bureau's database, disposed of when the job is done with it."""
    return job.run.bureau_database(job.bureau)


def accuracy_job(job: BureauJob) -> tuple[dict[str, object], pd.DataFrame, pd.DataFrame]:
    """Measure one bureau's files against the truth (a worker-process entry point).

    Parameters
    ----------
    job
        The bureau, its run and its truth: furnished truth, account months, wrongful
        records, persons.

    Returns
    -------
    tuple
        :func:`~bureau.analysis.file_accuracy.assess_bureau` of the bureau.
    """
    truth = job.truth
    with _database(job) as engine:
        held = read_provenance(engine)
    return assess_bureau(
        job.bureau,
        held,
        _required(truth.furnished, job, "furnished truth"),
        _required(truth.persons, job, "persons"),
        _required(truth.adults, job, "number of adults"),
        _required(truth.account_months, job, "account months"),
        _required(truth.wrongful, job, "wrongful records"),
    )


def truth_job(job: BureauJob) -> BureauTruth:
    """Trace one bureau's files and items to the truth (a worker-process entry point).

    Parameters
    ----------
    job
        The bureau and its run: its furnished truth is read here, once, the one part of the
        truth the job needs (its stage needs none of it).

    Returns
    -------
    BureauTruth
        :func:`~bureau.analysis.provenance.bureau_truth` of the bureau.
    """
    furnished = read_furnished(job.run, job.bureau, TRUTH_COLUMNS)
    with _database(job) as engine:
        consumers = read_consumers(engine)
        lines, records = read_item_provenance(engine)
    owners = file_owners(consumers, furnished)
    return bureau_truth(job.bureau, owners, lines, records, furnished)


def _reported_features(
    job: BureauJob, engine: Engine, snapshot: int, features: list[str]
) -> pd.DataFrame | None:
    """The features of a bureau's files as it reports them at a snapshot, if already computed.

    With no correction in force they are the modelling table's (the files as furnished);
    otherwise the disputes stage's, for the same corrections. None when neither holds them.
    """
    with engine.connect() as conn:
        in_force = corrections_as_of(conn, snapshot)
    if in_force.empty:
        path = job.run.modelling_table(job.bureau, snapshot)
    else:
        path = job.run.corrected_features(job.bureau, snapshot, in_force.fingerprint())
    if not path.exists():
        return None
    table = pd.read_parquet(path).set_index("consumer_id")
    if not set(features) <= set(table.columns):
        return None
    return table[features]


def train_job(job: BureauJob) -> dict[str, Any]:
    """Train a bureau, score its consumers, and set the scores against the truth.

    Writes ``models/<bureau>/`` (model and card), ``scores/<bureau>.parquet`` (every
    consumer at the evaluation snapshot) and the modelling tables it learnt from and was judged
    on (:meth:`~bureau.layout.RunLayout.modelling_table`). A worker-process entry point.

    Parameters
    ----------
    job
        The bureau, its run and its truth: furnished truth (to trace its files' owners) and
        outcomes at the evaluation snapshot.

    Returns
    -------
    dict
        The bureau, its model family, and its metrics in time, out of time, and out of time
        against the true outcomes.
    """
    furnished = _required(job.truth.furnished, job, "furnished truth")
    outcomes = _required(job.truth.outcomes, job, "outcomes")
    try:
        with _database(job) as engine:
            result = train_bureau(engine, job.scenario, job.bureau, job.family)
            owners = file_owners(read_consumers(engine), furnished)
    except TrainingError as exc:
        # A bureau too small to have seen a default has no model; the others go on.
        logger.warning("%s", exc.message)
        family = job.family or job.scenario.bureaus[job.bureau].model
        return {"bureau": job.bureau, "model": family, "status": exc.message}
    snapshot = job.scenario.scoring.evaluation_snapshot
    truth = truth_performance(result.scores, owners, outcomes)
    # Against the truth: for the report, never the card (a bureau cannot know it).
    windows = {**result.metrics, "out_of_time_truth": rounded(truth)}
    save_model(result.model, job.run.model_dir(job.bureau))
    for snapshot, table in result.tables.items():
        write_table(table.reset_index(), job.run.modelling_table(job.bureau, snapshot))
    write_table(result.scores.assign(snapshot=snapshot), job.run.scores_of(job.bureau))
    return {
        "bureau": job.bureau,
        "model": result.model.family,
        "status": "trained",
        **{
            f"{window}_{metric}": windows[window][metric]
            for window in ("development", "out_of_time", "out_of_time_truth")
            for metric in ("rows", "bad_rate", "auc", "gini", "ks")
        },
    }


def _trained_model(run: RunLayout, bureau: str) -> BureauModel | None:
    """A bureau's model in a run, or None if it has none (too few defaults to train)."""
    return load_model(run.model_dir(bureau)) if run.model_card(bureau).exists() else None


def submit_job(job: BureauJob) -> dict[int, BureauSubmission]:
    """Build one bureau's submission at every snapshot (a worker-process entry point).

    Parameters
    ----------
    job
        The bureau and its run.

    Returns
    -------
    dict
        The submission of each snapshot.
    """
    scn = job.scenario
    profile = scn.bureaus[job.bureau]
    model = _trained_model(job.run, job.bureau)
    groups = list(model.card.feature_groups) if model else list(profile.feature_groups)
    with _database(job) as engine:
        return {
            snapshot: bureau_submission(
                engine,
                snapshot,
                list(profile.sources),
                model,
                groups,
                scn.start_date,
                _reported_features(job, engine, snapshot, model.features) if model else None,
            )
            for snapshot in scn.snapshots
        }


def dispute_job(job: BureauJob) -> tuple[dict[str, object], pd.DataFrame, dict[str, object] | None]:
    """File, investigate and measure one bureau's disputes (a worker-process entry point).

    Consumers dispute the errors on their files at the development snapshot; the bureau
    records the outcomes and corrections; the errors still on file and the score changes are
    measured at the evaluation snapshot, where every file is also rescored with all the errors
    still on it corrected.

    Parameters
    ----------
    job
        The bureau, its run and its truth: furnished truth, account months, wrongful
        records.

    Returns
    -------
    tuple
        :func:`~bureau.analysis.disputes.dispute_statistics` of the bureau, and its
        :func:`~bureau.analysis.rescoring.rescore_corrected` row (None without a model).
    """
    scn = job.scenario
    development, evaluation = scn.snapshots
    truth = _required(job.truth.furnished, job, "furnished truth")
    account_months = _required(job.truth.account_months, job, "account months")
    wrongful = _required(job.truth.wrongful, job, "wrongful records")
    with _database(job) as engine:
        owner = file_owners(read_consumers(engine), truth)
        items = trace_items(read_items(engine, scn.snapshots), truth, owner)

        def errors_at(snapshot: int) -> pd.DataFrame:
            with engine.connect() as conn:
                fixes = corrections_as_of(conn, snapshot)
            return item_errors(items, fixes, account_months, wrongful, snapshot)

        errors = errors_at(development)
        rng = generator(scn.seed, f"disputes:{job.bureau}", 0)
        filed = file_disputes(job.bureau, errors, scn.aggregator.disputes, rng, development)
        record_disputes(engine, filed)
        later = errors_at(evaluation)
        model = _trained_model(job.run, job.bureau)
        changes = pd.DataFrame({"consumer_id": [], "before": [], "after": []})
        rescored = None
        if model is not None:
            groups = list(model.card.feature_groups)
            data, in_force = read_file(engine, evaluation)
            fixed = in_force.plus(items_corrected(engine, later))
            furnished, reported, corrected = (
                file_features(data, evaluation, groups, scn.start_date, fixes)
                for fixes in (None, in_force, fixed)
            )
            write_table(
                reported.reset_index(),
                job.run.corrected_features(job.bureau, evaluation, in_force.fingerprint()),
            )
            who = corrected_consumers(engine, evaluation)
            changes = score_changes(model, who, furnished, reported)
            before, after = (
                model.score(features).assign(consumer_id=features.index.to_numpy())
                for features in (reported, corrected.loc[reported.index])
            )
            rescored = rescore_corrected(job.bureau, evaluation, before, after, later)
    return (*dispute_statistics(job.bureau, errors, filed, later, changes), rescored)


def _full_model_scores(job: BureauJob) -> pd.DataFrame | None:
    """The scores training made, if its model is the profile's (the ablation's full model)."""
    card_path = job.run.model_card(job.bureau)
    scores_path = job.run.scores_of(job.bureau)
    if not (card_path.is_file() and scores_path.is_file()):
        return None
    card = read_card(card_path)
    profile = job.scenario.bureaus[job.bureau]
    # `bureau train --family` may have trained another family than the profile's.
    if card.model_family != profile.model:
        return None
    if list(card.feature_groups) != list(profile.feature_groups):
        return None
    return pd.read_parquet(scores_path, columns=list(SCORE_COLUMNS))


def ablation_job(job: BureauJob) -> dict[str, list[dict[str, Any]]]:
    """Train a bureau without each of its feature groups in turn (a worker-process entry point).

    Parameters
    ----------
    job
        The bureau, its run and its truth: its files' owners and their outcomes at the
        evaluation snapshot.

    Returns
    -------
    dict of str to list of dict
        ``ablation``: per group removed (``none`` for the full model), the out-of-time AUC
        against the observed and the true outcome, and the AUC the group adds. ``signals``:
        what of each group reached the development sample and whether the model uses it
        (:func:`~bureau.pipeline.signal_audit.group_diagnostics`, with ``bureau``). Both
        empty for a bureau too small to train.
    """
    nothing: dict[str, list[dict[str, Any]]] = {"ablation": [], "signals": []}
    scn = job.scenario
    development, evaluation = scn.scoring.development_snapshot, scn.scoring.evaluation_snapshot
    paths = [job.run.modelling_table(job.bureau, s) for s in (development, evaluation)]
    if not all(path.exists() for path in paths):
        return nothing  # a bureau too small to train has no model and nothing to ablate
    tables = [pd.read_parquet(path).set_index("consumer_id") for path in paths]
    full = _full_model_scores(job)
    try:
        scored = ablation_scores(scn, job.bureau, *tables, full=full)
    except TrainingError as exc:
        logger.warning("%s", exc.message)
        return nothing
    owners = _required(job.truth.owners, job, "file owners")
    outcomes = _required(job.truth.outcomes, job, "outcomes")
    rows = []
    for removed, scores in scored.items():
        judged = scores[~scores["in_default"].to_numpy(dtype=bool)]
        observed = discrimination(judged["bad"].to_numpy(), judged["pd"].to_numpy())
        truth = truth_performance(scores, owners, outcomes)
        rows.append(
            {
                "bureau": job.bureau,
                "removed": removed,
                "observed_auc": observed["auc"],
                "truth_auc": truth["auc"],
            }
        )
    table = pd.DataFrame(rows)
    best = table.loc[table["removed"] == NOTHING_REMOVED, ["observed_auc", "truth_auc"]].iloc[0]
    table["observed_auc_gain"] = best["observed_auc"] - table["observed_auc"]
    table["truth_auc_gain"] = best["truth_auc"] - table["truth_auc"]
    signals = _group_signals(job, tables[0], trained=full is not None)
    return {"ablation": table.to_dict("records"), "signals": signals}


def _group_signals(
    job: BureauJob, development: pd.DataFrame, trained: bool
) -> list[dict[str, Any]]:
    """The signal audit's view of one bureau: its groups in its sample and in its model."""
    scn, bureau = job.scenario, job.bureau
    profile = scn.bureaus[bureau]
    groups = list(profile.feature_groups)
    X, sample, y = development_sample(development, bureau)
    if trained:
        steps = load_model(job.run.model_dir(bureau)).tables
    else:
        # The saved model is another family's or groups': the profile's model is fitted here.
        names = feature_names(groups)
        estimator = estimator_for(profile.model, names, training_seed(scn, bureau))
        steps = estimator.fit(X.loc[sample, names], y).tables_
    found = group_diagnostics(X, sample, y, groups, steps)
    return [{"bureau": bureau, **row} for row in found]
