"""One round of the market: the bureaus' answers, the lenders' retro tests and decisions.

Each bureau fits its round model and answers for every applicant of the round, sent by identity
as the applicant gave it (:mod:`bureau.bureaus.inquiries`); every lender first weighs the
bureaus on its own seasoned loans (:mod:`bureau.market.retro`), then decides with the scores of
the ones it buys (:mod:`bureau.market.policies`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from bureau.bureaus.feature_catalog import feature_names
from bureau.bureaus.inquiries import (
    APPLICANT_COLUMNS,
    RoundModel,
    answer_applicants,
    fit_round_model,
    reported_defaults,
)
from bureau.bureaus.models.artifacts import estimator_from_bytes, model_text
from bureau.bureaus.models.card import MODEL_FILES
from bureau.config.market import OWN_JUDGMENT
from bureau.config.scenario import Scenario
from bureau.furnish.feeds import IDENTITY_FIELDS
from bureau.furnish.identity import furnished_identity
from bureau.layout import RunLayout
from bureau.market import (
    AGGREGATOR,
    choose,
    cutoff_for,
    decide,
    lender_pd,
    options_for,
    policy_for,
    retro_values,
)
from bureau.rng import KeyedDraws, RowDraws
from bureau.store.parquet import read_table
from bureau.world.repayment import CLOSED, DPD90

#: A loan a lender judges in a retro test has been on its books this long.
SEASONING = 6
#: A retro test needs at least this many bad and good loans to tell bureaus apart.
MIN_CLASS = 10


@dataclass(frozen=True)
class RoundJob:
    """One bureau's part of a round: fit its model and answer for the round's applicants."""

    scenario: Scenario
    run: RunLayout
    bureau: str
    start: int
    #: The applicants as the lenders send them (:data:`APPLICANT_COLUMNS`), in order.
    applicants: pd.DataFrame
    #: Earlier applicants it had a file on (``consumer_id``, ``month``), whose defaults since
    #: it reports to the aggregator where the aggregator hubs the market; None otherwise.
    reported: pd.DataFrame | None = None
    #: The model it rescores with instead of refitting (a bureau that does not retrain): the
    #: model file and the row of the round that fitted it.
    kept: tuple[Path, dict[str, Any]] | None = None


@dataclass(frozen=True)
class RoundAnswer:
    """What a bureau gives back from its part of a round.

    Attributes
    ----------
    answers
        :data:`~bureau.bureaus.inquiries.ANSWER_COLUMNS`, one row per applicant.
    row
        How the model was fitted (a row of the round's ``models`` table).
    model_text
        The model file's text, to keep, for a bureau that fitted the model it keeps; else None.
    reported
        One bool per row of :attr:`RoundJob.reported`: in default since.
    """

    answers: pd.DataFrame
    row: dict[str, Any]
    model_text: str | None
    reported: np.ndarray


def round_model_file(run: RunLayout, start: int, bureau: str, family: str) -> Path:
    """Where a round keeps the model a bureau that does not retrain goes on scoring with.

    Parameters
    ----------
    run
        The run.
    start
        The round that fitted the model.
    bureau
        The bureau.
    family
        Its model family (``lightgbm`` or ``scorecard``): the file's format.

    Returns
    -------
    pathlib.Path
        ``market/round-<start>/models/<bureau>.txt`` (LightGBM's text) or ``.json``.
    """
    return run.market_round(start) / "models" / f"{bureau}{Path(MODEL_FILES[family]).suffix}"


def _kept_model(job: RoundJob, kept: tuple[Path, dict[str, Any]]) -> RoundModel:
    """The model a bureau fitted in an earlier round, as it goes on scoring with it."""
    path, row = kept
    groups = list(job.scenario.bureaus[job.bureau].feature_groups)
    estimator = estimator_from_bytes(
        job.scenario.bureaus[job.bureau].model, path.read_bytes(), feature_names(groups), path
    )
    metrics = {k[len("own_") :]: v for k, v in row.items() if k.startswith("own_")}
    return RoundModel(estimator, groups, int(row["snapshot"]), int(row["horizon"]), metrics)


def round_job(job: RoundJob) -> RoundAnswer:
    """Fit a bureau's round model and answer for every applicant (a worker-process entry point).

    Parameters
    ----------
    job
        The bureau, the round and its applicants.

    Returns
    -------
    RoundAnswer
        The answers, how the model was fitted, the model to keep and the defaults reported.
    """
    scn = job.scenario
    profile = scn.bureaus[job.bureau]
    reported = np.zeros(0, dtype=bool)
    with job.run.bureau_database(job.bureau) as engine:
        if job.kept is None:
            model = fit_round_model(engine, scn, job.bureau, job.start)
        else:
            model = _kept_model(job, job.kept)
        answers = answer_applicants(
            engine, model, list(profile.matching), job.applicants, job.start - 1, scn.start_date
        )
        if job.reported is not None:
            reported = reported_defaults(
                engine, job.reported["consumer_id"].to_numpy(), job.reported["month"].to_numpy()
            )
    fitted_here = job.kept is None and model.estimator is not None
    row = {
        "round": job.start,
        "bureau": job.bureau,
        "snapshot": model.snapshot,
        "horizon": model.horizon,
        "fitted": model.estimator is not None,
        "refitted": fitted_here,
        **{f"own_{k}": v for k, v in model.metrics.items()},
    }
    text = None
    if fitted_here and not profile.retrain:
        text = model_text(profile.model, model.estimator)
    return RoundAnswer(answers, row, text, reported)


def applicants_for(
    scn: Scenario, bureau: str, intents: pd.DataFrame, persons: pd.DataFrame
) -> pd.DataFrame:
    """What each applicant tells a lender, as the lender sends it to one bureau.

    The identity passes through the channel to that bureau with its identity errors, each
    drawn by the application: the same answers whatever else was applied for.

    Parameters
    ----------
    scn
        The scenario (the bureau's defect rates).
    bureau
        The bureau asked.
    intents
        The round's applications: ``application_id``, ``person_id``, ``month``.
    persons
        The world's persons, indexed by ``person_id``, with their identity fields and
        ``birth_date``.

    Returns
    -------
    pandas.DataFrame
        One row per application: :data:`~bureau.bureaus.inquiries.APPLICANT_COLUMNS`, None
        where the applicant's identity reached the bureau without the value.
    """
    keyed = KeyedDraws(scn.seed, f"market.identity.{bureau}")
    draws = RowDraws(keyed, (intents["application_id"].to_numpy(),))
    who = intents["person_id"].to_numpy()
    rows = persons.loc[who, list(IDENTITY_FIELDS)]
    reported, _ = furnished_identity(
        draws, rows, intents["month"].to_numpy().astype(np.int64), scn.bureaus[bureau].defects
    )
    reported["birth"] = persons.loc[who, "birth_date"].dt.strftime("%Y%m%d").to_numpy()
    return reported[list(APPLICANT_COLUMNS)].astype(object).where(reported.notna(), None)


def source_prices(scn: Scenario) -> dict[str, float]:
    """What an inquiry costs a lender at each source it can buy from.

    Parameters
    ----------
    scn
        The scenario (the bureaus' prices, the aggregator's, the sharing regime).

    Returns
    -------
    dict of str to float
        Yuan per inquiry for every enabled bureau, and for ``aggregator`` where the regime
        offers its consensus.
    """
    prices = {b: scn.bureaus[b].price for b in scn.active_bureaus}
    if scn.consensus_offered:
        prices[AGGREGATOR] = scn.aggregator.price
    return prices


def pd_matrix(answers: pd.DataFrame) -> pd.DataFrame:
    """Each bureau's PD of each application.

    Parameters
    ----------
    answers
        The bureaus' answers: ``application_id``, ``bureau``, ``pd``.

    Returns
    -------
    pandas.DataFrame
        Applications (index) by bureaus (columns), NaN where a bureau had no file.
    """
    return answers.pivot_table(
        index="application_id", columns="bureau", values="pd", aggfunc="first", dropna=False
    )


def lender_books(run: RunLayout, answers: pd.DataFrame, start: int) -> pd.DataFrame:
    """Every lender's seasoned loans decided in the market, and whether each has gone bad.

    A lender sees its own loans: one on its books for at least :data:`SEASONING` months by the
    round start is bad when it has been 90 days past due or charged off by then.

    Parameters
    ----------
    run
        The run, its world as the rounds before made it.
    answers
        The bureaus' answers of the earlier rounds (only applications scored are judged).
    start
        The round's first month.

    Returns
    -------
    pandas.DataFrame
        ``application_id``, ``lender_id``, ``bad``.
    """
    apps = read_table(
        run.world_table("applications"),
        ["application_id", "lender_id", "approved", "account_id", "month"],
    )
    booked = apps[
        apps["approved"].to_numpy()
        & (apps["month"].to_numpy() <= start - SEASONING)
        & apps["application_id"].isin(answers["application_id"]).to_numpy()
    ]
    # Only the booked accounts' months before the round: the world's largest table, read
    # filtered rather than whole.
    wanted = ds.field("account_id").isin(pa.array(booked["account_id"].to_numpy(np.int64)))
    months = read_table(
        run.world_table("account_months"),
        ["account_id", "status"],
        filter_expression=wanted & (ds.field("month") < start),
    )
    status = months["status"].to_numpy()
    went_bad = (status >= DPD90) & (status != CLOSED)
    bad = booked["account_id"].isin(months.loc[went_bad, "account_id"]).to_numpy()
    return pd.DataFrame(
        {
            "application_id": booked["application_id"].to_numpy(),
            "lender_id": booked["lender_id"].astype(str).to_numpy(),
            "bad": bad,
        }
    )


def retro_tests(
    scn: Scenario,
    run: RunLayout,
    start: int,
    answers: pd.DataFrame,
    current: dict[str, tuple[str, ...]],
) -> tuple[dict[str, tuple[str, ...]], pd.DataFrame]:
    """Every lender's retro test at a round start, and the bureaus each buys next.

    A lender with too few bad or good seasoned loans (:data:`MIN_CLASS`) cannot tell the
    bureaus apart and keeps what it buys.

    Parameters
    ----------
    scn
        The scenario (lenders, prices, inertia).
    run
        The run.
    start
        The round's first month.
    answers
        The bureaus' answers of the earlier rounds: each bureau's score of each past
        applicant as that bureau gave it in the applicant's round.
    current
        What each lender buys now.

    Returns
    -------
    tuple
        What each lender buys in this round, and every option each lender valued
        (:data:`~bureau.market.retro.RETRO_COLUMNS` with ``round``, ``lender``, ``current``
        and ``chosen``).
    """
    chosen = dict(current)
    if answers.empty:
        return chosen, pd.DataFrame()
    books = lender_books(run, answers, start)
    pds = pd_matrix(answers)
    prices = source_prices(scn)
    tables = []
    for lender_id, lender in sorted(scn.lenders.items()):
        now = current[lender_id]
        if lender.policy == OWN_JUDGMENT or not now:
            continue
        book = books[books["lender_id"] == lender_id]
        bad = book["bad"].to_numpy()
        if bad.sum() < MIN_CLASS or (~bad).sum() < MIN_CLASS:
            continue
        scored = pds.reindex(book["application_id"].to_numpy())
        scores = {b: scored[b].to_numpy() for b in prices if b in scored}
        bureaus = sorted(b for b in scores if b != AGGREGATOR)
        # What the policy combines is the lender's own: a lender that bought the consensus
        # for a while still weighs the combinations of as many bureaus as it started with.
        size = max(1, len(scn.lender_bureaus(lender_id)))
        offered = scn.consensus_offered and AGGREGATOR in scores
        options = options_for(lender.policy, bureaus, size, aggregator=offered)
        values = retro_values(bad, scores, options, lender.policy, prices, lender.ranking_value)
        chosen[lender_id] = choose(values, now, scn.market.inertia)
        tables.append(
            values.assign(
                round=start,
                lender=lender_id,
                current=values["option"] == "+".join(now),
                chosen=values["option"] == "+".join(chosen[lender_id]),
            )
        )
    return chosen, pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def lender_decisions(
    scn: Scenario,
    start: int,
    intents: pd.DataFrame,
    answers: pd.DataFrame,
    subscriptions: dict[str, tuple[str, ...]],
    calibration: pd.DataFrame,
    recent: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every lender's decisions on the round's applications, and what each lender did.

    Parameters
    ----------
    scn
        The scenario (each lender's policy, appetite and thin-file rule).
    start
        The round's first month.
    intents
        The round's applications: ``application_id``, ``lender_id``, ``own_approved``.
    answers
        The bureaus' answers for them.
    subscriptions
        What each lender buys in this round.
    calibration
        The bureaus' answers, as of the round start, for the applications of the months
        before (``recent``): a lender with a target approval rate sets its cut-off at that
        quantile of their PDs, never on the round's own applicants.
    recent
        Those applications: ``application_id``, ``lender_id``.

    Returns
    -------
    tuple
        The decisions made with scores (the columns the world takes; the applications of a
        lender that buys nothing are left to its own screening), and one row per lender:
        ``round``, ``lender``, ``policy``, ``option``, ``cutoff``, ``applications``.
    """
    pds, before = pd_matrix(answers), pd_matrix(calibration)
    decisions, lenders = [], []
    for lender_id, lender in sorted(scn.lenders.items()):
        option = subscriptions[lender_id]
        mine = intents[intents["lender_id"] == lender_id]
        cutoff = np.nan
        if lender.policy != OWN_JUDGMENT and option:
            columns = list(option)
            policy = policy_for(lender.policy, option)
            sample = recent.loc[recent["lender_id"] == lender_id, "application_id"].to_numpy()
            sampled = before.reindex(index=sample, columns=columns).to_numpy()
            seen, _ = lender_pd(policy, sampled, columns)
            cutoff = cutoff_for(
                max_pd=lender.max_pd, target_approval=lender.target_approval, pds=seen
            )
            ids = mine["application_id"].to_numpy()
            matrix = pds.reindex(index=ids, columns=columns).to_numpy()
            made = decide(
                policy,
                matrix,
                list(option),
                cutoff,
                mine["own_approved"].to_numpy(),
                thin_file=lender.thin_file,
                thin_file_amount=lender.thin_file_amount,
            )
            decisions.append(made.frame(mine["application_id"].to_numpy()))
        lenders.append(
            {
                "round": start,
                "lender": lender_id,
                "policy": policy_for(lender.policy, option),
                "option": "+".join(option),
                "cutoff": float(cutoff),
                "applications": len(mine),
            }
        )
    table = pd.concat(decisions, ignore_index=True) if decisions else pd.DataFrame()
    return table, pd.DataFrame(lenders)
