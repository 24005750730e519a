"""A bureau in the credit market: its model at a round start, and the inquiries it answers.

At each round start a bureau fits its model on what it has received so far: its files as of a
snapshot before the round, labelled by the defaults reported to it since (a shorter window than
twelve months in the first rounds, when it has seen less). Lenders then send it applicants by
identity, as each applicant gave it to the lender; the bureau matches them with its own rules,
as ``bureau score`` does, and answers with a probability of default from its files as of the
month before the round. The inquiries it answered for the lenders that buy from it are recorded
in its files.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Engine, select

from bureau.analysis.metrics import discrimination, rounded
from bureau.bureaus.applicants import IdentityMatcher
from bureau.bureaus.feature_catalog import feature_names
from bureau.bureaus.features import snapshot_features
from bureau.bureaus.labels import default_reports
from bureau.bureaus.models.gbm import GradientBoostedModel
from bureau.bureaus.models.scorecard import WOEScorecard
from bureau.bureaus.resolve import identity_key_arrays
from bureau.bureaus.train import (
    HORIZON,
    TrainingError,
    development_sample,
    estimator_for,
    modelling_table,
    training_seed,
)
from bureau.config.scenario import Scenario
from bureau.store.bulk import read_frame, upsert
from bureau.store.credit_file import Identifier, Inquiry

#: What a lender sends a bureau about an applicant.
APPLICANT_COLUMNS = ("name", "national_id", "phone", "birth")
#: What a bureau answers about each applicant.
ANSWER_COLUMNS = ("match_status", "consumer_id", "pd")


def training_window(round_start: int, lag: int = 0) -> tuple[int, int]:
    """The snapshot and outcome months a bureau can train on at a round start.

    Parameters
    ----------
    round_start
        The first month of the round.
    lag
        The bureau's reporting lag: the last months before the round have not reached it.

    Returns
    -------
    tuple of int
        ``(snapshot, horizon)``: the outcomes are the defaults reported in months
        ``snapshot + 1 .. round_start - 1 - lag``, twelve of them once there are enough months
        (before that, half the months seen).
    """
    seen = round_start - 1 - lag
    horizon = max(1, min(HORIZON, seen // 2))
    return seen - horizon, horizon


@dataclass(frozen=True)
class RoundModel:
    """A bureau's model of one round, with how well it ranked its own development sample.

    Attributes
    ----------
    estimator
        The fitted estimator (None when the bureau has too few defaults to fit one).
    groups
        The feature groups it uses.
    snapshot, horizon
        Its training window (:func:`training_window`).
    metrics
        ``rows``, ``bad_rate``, ``auc``, ``gini``, ``ks`` on its own sample, as the bureau
        reports them to itself (empty without a model).
    """

    estimator: GradientBoostedModel | WOEScorecard | None
    groups: list[str]
    snapshot: int
    horizon: int
    metrics: dict[str, float]


def fit_round_model(engine: Engine, scn: Scenario, bureau: str, round_start: int) -> RoundModel:
    """Fit a bureau's model at a round start, on what its files hold.

    Parameters
    ----------
    engine
        The bureau's database, holding what arrived before the round.
    scn
        The scenario (the bureau's profile and the calendar).
    bureau
        The bureau.
    round_start
        The first month of the round.

    Returns
    -------
    RoundModel
        The model; without an estimator when the sample has no default or no good.
    """
    profile = scn.bureaus[bureau]
    groups = list(profile.feature_groups)
    snapshot, horizon = training_window(round_start, profile.reporting_lag)
    if snapshot < 0:
        return RoundModel(None, groups, snapshot, horizon, {})
    table = modelling_table(engine, snapshot, groups, scn.start_date, horizon=horizon)
    try:
        X, sample, y = development_sample(table, bureau)
    except TrainingError:
        return RoundModel(None, groups, snapshot, horizon, {})
    estimator = estimator_for(profile.model, feature_names(groups), training_seed(scn, bureau))
    try:
        estimator.fit(X[sample], y)
    except TrainingError:
        return RoundModel(None, groups, snapshot, horizon, {})
    seen = estimator.predict_proba(X[sample])[:, 1]
    return RoundModel(estimator, groups, snapshot, horizon, rounded(discrimination(y, seen)))


def answer_applicants(
    engine: Engine,
    model: RoundModel,
    rules: list[str],
    applicants: pd.DataFrame,
    as_of: int,
    start: dt.date,
) -> pd.DataFrame:
    """Match applicants to the bureau's files and give each a probability of default.

    Parameters
    ----------
    engine
        The bureau's database.
    model
        The bureau's model of the round.
    rules
        The bureau's matching rules, in order.
    applicants
        One row per applicant: :data:`APPLICANT_COLUMNS` as strings (``birth`` YYYYMMDD),
        null where the applicant gave none.
    as_of
        The month whose files are scored.
    start
        The first day of month 0.

    Returns
    -------
    pandas.DataFrame
        One row per applicant, in order: ``match_status`` (``matched``, ``no_file``,
        ``ambiguous``), ``consumer_id`` (-1 without a file) and ``pd`` (NaN without a file or
        a model).
    """
    with engine.connect() as conn:
        identifiers = read_frame(
            conn, select(Identifier.kind, Identifier.value, Identifier.consumer_id)
        )
    values = {
        c: pa.array(applicants[c].to_numpy(dtype=object), type=pa.string())
        for c in APPLICANT_COLUMNS
    }
    consumer, status = IdentityMatcher(identifiers, rules).match(identity_key_arrays(values, rules))
    pd_ = np.full(len(applicants), np.nan)
    features = snapshot_features(engine, as_of, model.groups, start)
    # A consumer whose file began after the month scored had no file then.
    has = np.isin(consumer, features.index.to_numpy())
    status = np.where((status == "matched") & ~has, "no_file", status)
    consumer = np.where(has, consumer, -1)
    if model.estimator is not None and has.any():
        known = features.loc[consumer[has], feature_names(model.groups)]
        pd_[has] = model.estimator.predict_proba(known)[:, 1]
    return pd.DataFrame({"match_status": status, "consumer_id": consumer, "pd": pd_})


def reported_defaults(engine: Engine, consumers: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Whether the bureau's file shows each consumer in default after a month.

    What a bureau tells the aggregator, when it hubs the market, about the applicants whose
    inquiries it forwarded: has an account on the file been reported 90 or more days past due,
    or written off, in a month after the application?

    Parameters
    ----------
    engine
        The bureau's database.
    consumers
        Consumer ids (-1: no file, never in default).
    months
        The month of each application.

    Returns
    -------
    numpy.ndarray
        One bool per consumer.
    """
    consumers = np.asarray(consumers, dtype=np.int64)
    months = np.asarray(months, dtype=np.int64)
    if not len(consumers):
        return np.zeros(0, dtype=bool)
    with engine.connect() as conn:
        month, who = default_reports(conn, int(months.min()) + 1)
    last = pd.Series(month).groupby(who).max()
    latest = last.reindex(consumers).to_numpy(dtype=float)
    return latest > months


def record_inquiries(engine: Engine, inquiries: pd.DataFrame) -> int:
    """Record in a bureau's files the inquiries it answered for the lenders that buy from it.

    Parameters
    ----------
    engine
        The bureau's database.
    inquiries
        ``consumer_id``, ``furnisher`` (the lender), ``inquiry_ref``, ``product``, ``month``
        and ``approved`` (the lender's decision, which it tells the bureau). Recording the
        same inquiries again changes nothing.

    Returns
    -------
    int
        Inquiries recorded.
    """
    if inquiries.empty:
        return 0
    frame = inquiries.assign(
        # In the file from the month after: a score never counts the inquiry made for it.
        arrival=inquiries["month"].to_numpy() + 1,
        source_file="market",
        source_line=np.arange(1, len(inquiries) + 1),
    )
    with engine.begin() as conn:
        upsert(conn, Inquiry.__table__, frame, ["furnisher", "inquiry_ref"])
    return len(frame)
