"""Each score of a run as a view: its files at the evaluation snapshot, traced to persons.

A bureau's view is its scored consumer files (the scores its train stage made); the
aggregator's is its consensus over person keys. Each file is traced to the person behind it
(:func:`~bureau.analysis.provenance.file_owners`; a person key to the person most of its
files belong to, :func:`~bureau.analysis.aggregation.key_owners`), with the outcome the view
observed and the tradelines it held at the snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select

from bureau.analysis.aggregation import key_owners
from bureau.config.market import AGGREGATOR
from bureau.errors import BureauError
from bureau.store.aggregator import ConsensusScore, ConsolidatedTradeline, Reconciliation
from bureau.store.aggregator_reads import read_person_links, read_snapshot
from bureau.store.bulk import read_frame
from bureau.store.credit_file import Tradeline
from bureau.store.reports import monthly_reports

#: Columns a scores file must hold.
SCORE_COLUMNS = ("consumer_id", "pd", "bad", "in_default")


class ComparisonError(BureauError):
    """A run's scores, consensus or reports are missing, incomplete or malformed."""


@dataclass(frozen=True)
class ScoredView:
    """One score's files at the evaluation snapshot (a bureau's consumers, or person keys).

    ``units``: ``unit`` (consumer id or person key), ``person_id`` (the true person behind it,
    -1 if unknown), ``pd``, ``bad`` (the observed outcome), ``in_default`` (in the view's own
    eyes) and ``tradelines`` (on file at the snapshot).
    """

    name: str
    model: str
    units: pd.DataFrame


def checked_scores(frame: pd.DataFrame, evaluation: int) -> pd.DataFrame:
    """A bureau's scores (as its train stage wrote them), checked.

    Parameters
    ----------
    frame
        The scores: :data:`SCORE_COLUMNS`, and ``snapshot`` if the scores say their month.
    evaluation
        The evaluation snapshot the scores must be of.

    Returns
    -------
    pandas.DataFrame
        :data:`SCORE_COLUMNS`, sorted by ``consumer_id``.

    Raises
    ------
    ComparisonError
        If a column is missing, a PD is missing or outside [0, 1], or the scores are of
        another month; naming the row and the field (the caller, which read them, names the
        file).
    """
    for column in SCORE_COLUMNS:
        if column not in frame.columns:
            raise ComparisonError("missing column", field=column)
    pd_ = pd.to_numeric(frame["pd"], errors="coerce").to_numpy(dtype=np.float64)
    wrong = np.flatnonzero(~((pd_ >= 0) & (pd_ <= 1)))
    if len(wrong):
        raise ComparisonError(
            "not a probability between 0 and 1", row=int(wrong[0]) + 1, field="pd"
        )
    if "snapshot" in frame.columns:
        other = np.flatnonzero(frame["snapshot"].to_numpy() != evaluation)
        if len(other):
            month = frame["snapshot"].iloc[other[0]]
            raise ComparisonError(
                f"scores of month {month}, not of the evaluation snapshot {evaluation}",
                row=int(other[0]) + 1,
                field="snapshot",
            )
    scores = pd.DataFrame(
        {
            "consumer_id": frame["consumer_id"].to_numpy(dtype=np.int64),
            "pd": pd_,
            "bad": frame["bad"].to_numpy(dtype=bool),
            "in_default": frame["in_default"].to_numpy(dtype=bool),
        }
    )
    return scores.sort_values("consumer_id", ignore_index=True)


def tradelines_on_file(engine: Engine, snapshot: int) -> pd.Series:
    """Tradelines per consumer on a bureau's files at a snapshot.

    Parameters
    ----------
    engine
        The bureau's database.
    snapshot
        The month.

    Returns
    -------
    pandas.Series
        The number of tradelines of which a monthly report had arrived by the snapshot,
        indexed by ``consumer_id`` (consumers without any are absent). The files are counted
        as furnished, before dispute corrections, as the bureaus' scores are computed.
    """
    with engine.connect() as conn:
        arrived = monthly_reports(conn, snapshot, ("tradeline_id",))["tradeline_id"].unique()
        lines = read_frame(conn, select(Tradeline.tradeline_id, Tradeline.consumer_id))
    held = lines[lines["tradeline_id"].isin(arrived).to_numpy()]
    counts = held.groupby("consumer_id", sort=True).size()
    return pd.Series(counts.to_numpy(dtype=np.int64), index=counts.index.to_numpy(dtype=np.int64))


def bureau_view(
    name: str, model: str, scores: pd.DataFrame, owners: pd.Series, tradelines: pd.Series
) -> ScoredView:
    """A bureau's scored files as a view.

    Parameters
    ----------
    name
        The bureau.
    model
        Its model family.
    scores
        :func:`checked_scores`.
    owners
        :func:`~bureau.analysis.provenance.file_owners` of the bureau.
    tradelines
        :func:`tradelines_on_file` at the evaluation snapshot.

    Returns
    -------
    ScoredView
        One unit per scored consumer file.
    """
    units = scores["consumer_id"].to_numpy()
    return ScoredView(
        name,
        model,
        pd.DataFrame(
            {
                "unit": units,
                "person_id": owners.reindex(units).fillna(-1).to_numpy(dtype=np.int64),
                "pd": scores["pd"].to_numpy(),
                "bad": scores["bad"].to_numpy(),
                "in_default": scores["in_default"].to_numpy(),
                "tradelines": tradelines.reindex(units).fillna(0).to_numpy(dtype=np.int64),
            }
        ),
    )


@dataclass(frozen=True)
class ConsensusTables:
    """What the aggregator's view is made of (:func:`read_consensus`).

    Attributes
    ----------
    consensus
        The consensus scores at the evaluation snapshot (``person_key``, ``pd``,
        ``in_default``...).
    links
        ``bureau``, ``consumer_id``, ``person_key`` of the linkage the consensus was built on.
    tradelines
        ``person_key``, ``tradelines``: the consolidated tradelines of each key.
    """

    consensus: pd.DataFrame
    links: pd.DataFrame
    tradelines: pd.DataFrame


def read_consensus(engine: Engine, evaluation: int, default_method: str) -> ConsensusTables:
    """Read the aggregator's consensus at the evaluation snapshot, with its person keys.

    Parameters
    ----------
    engine
        The aggregator's database, reconciled.
    evaluation
        The evaluation snapshot.
    default_method
        The linkage method to read person keys of when the database does not record the one
        its consensus was built on.

    Returns
    -------
    ConsensusTables
        Its scores (none when no consensus was fitted), keys and tradelines per key.
    """
    with engine.connect() as conn:
        consensus = read_snapshot(conn, ConsensusScore, evaluation)
        method = conn.execute(
            select(Reconciliation.method).where(Reconciliation.snapshot == evaluation)
        ).scalar()
        links = read_person_links(conn, method or default_method)
        lines = read_frame(
            conn,
            select(ConsolidatedTradeline.person_key, func.count().label("tradelines"))
            .where(ConsolidatedTradeline.snapshot == evaluation)
            .group_by(ConsolidatedTradeline.person_key),
        )
    return ConsensusTables(consensus, links, lines)


def aggregator_view(
    held: ConsensusTables, owners: pd.DataFrame, scores: dict[str, pd.DataFrame]
) -> ScoredView:
    """The aggregator's consensus as a view: its person keys, traced to persons.

    Parameters
    ----------
    held
        :func:`read_consensus`.
    owners
        ``bureau``, ``consumer_id``, ``person_id``: the person behind every file of every
        bureau.
    scores
        Each bureau's :func:`checked_scores`: a key's observed outcome is bad when any of its
        files went bad at any bureau.

    Returns
    -------
    ScoredView
        One unit per person key with a consensus score.
    """
    links, lines = held.links, held.tradelines
    consensus = held.consensus.sort_values("person_key", ignore_index=True)
    keys = consensus["person_key"].to_numpy(dtype=np.int64)
    of_key = key_owners(links, owners)
    # The aggregator observes nothing of its own: what its bureaus observed is what it knows.
    observed = pd.concat(
        [s[["consumer_id", "bad"]].assign(bureau=b) for b, s in scores.items()], ignore_index=True
    )
    bad = (
        links.merge(observed, on=["bureau", "consumer_id"], how="inner")
        .groupby("person_key")["bad"]
        .any()
    )
    per_key = pd.Series(
        lines["tradelines"].to_numpy(dtype=np.int64),
        index=lines["person_key"].to_numpy(dtype=np.int64),
    )
    return ScoredView(
        AGGREGATOR,
        "consensus",
        pd.DataFrame(
            {
                "unit": keys,
                "person_id": of_key.reindex(keys).fillna(-1).to_numpy(dtype=np.int64),
                "pd": consensus["pd"].to_numpy(dtype=np.float64),
                "bad": bad.reindex(keys).fillna(False).to_numpy(dtype=bool),
                "in_default": consensus["in_default"].to_numpy(dtype=bool),
                "tradelines": per_key.reindex(keys).fillna(0).to_numpy(dtype=np.int64),
            }
        ),
    )


def truth_sample(units: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    """The files judged against the truth, with their true outcome.

    Parameters
    ----------
    units
        A :class:`ScoredView`'s units.
    outcomes
        The true outcomes at the evaluation snapshot, indexed by ``person_id``
        (``default_12m``, ``in_default``).

    Returns
    -------
    pandas.DataFrame
        ``unit``, ``person_id``, ``pd``, ``default``: the files whose person is known, not in
        default in the view's eyes nor truly (the sample of
        :func:`~bureau.analysis.model_performance.truth_performance`).
    """
    person = units["person_id"].to_numpy(dtype=np.int64)
    truth = outcomes.reindex(person)
    keep = (
        (person >= 0)
        & ~units["in_default"].to_numpy(dtype=bool)
        & ~truth["in_default"].fillna(True).to_numpy(dtype=bool)
    )
    return pd.DataFrame(
        {
            "unit": units["unit"].to_numpy()[keep],
            "person_id": person[keep],
            "pd": units["pd"].to_numpy(dtype=np.float64)[keep],
            "default": truth["default_12m"].to_numpy()[keep].astype(bool),
        }
    )


def person_scores(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per person: the file with the smallest unit id (the first opened) stands for them.

    Parameters
    ----------
    frame
        Rows with ``unit`` and ``person_id`` (-1 for unknown persons, which are dropped).

    Returns
    -------
    pandas.DataFrame
        The same columns, one row per known person, sorted by ``person_id``.
    """
    known = frame[frame["person_id"].to_numpy() >= 0]
    first = known.sort_values("unit", kind="stable").drop_duplicates("person_id")
    return first.sort_values("person_id", ignore_index=True)
