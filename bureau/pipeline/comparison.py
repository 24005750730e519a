"""What the comparison reads of a run, and the comparison of a run from Python.

The compare stage, :func:`compare` and :func:`judged_samples` read a run the same way, here:
each bureau's files traced to their owners (its furnished truth read once), its scores
(``scores/``) and model family (its model card), the aggregator's consensus, the world's
outcomes and persons, and the measures of the stages before (:func:`read_report_tables`).
The computations are :mod:`bureau.analysis.compare`'s, on those tables.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from bureau.analysis.compare import TABLES, compare_views
from bureau.analysis.fairness import RESAMPLES
from bureau.analysis.html_report import DRAWN
from bureau.analysis.provenance import OWNER_COLUMNS, file_owners, read_consumers
from bureau.analysis.views import (
    ComparisonError,
    ScoredView,
    aggregator_view,
    bureau_view,
    checked_scores,
    read_consensus,
    tradelines_on_file,
    truth_sample,
)
from bureau.bureaus.models.card import read_card
from bureau.config import load_scenario
from bureau.config.scenario import Scenario
from bureau.errors import RunDirectoryError
from bureau.layout import RunLayout
from bureau.pipeline.outputs import read_report_tables
from bureau.pipeline.truth import read_furnished, read_outcomes, read_persons

logger = logging.getLogger(__name__)

#: The persons' columns the fairness groups are made of.
PERSON_COLUMNS = ("person_id", "birth_date", "gender", "hukou", "city_tier", "device")
#: The earlier stages' tables whose figures the comparison sets beside its own.
COMPARED = ("coverage_accuracy", "disputes", "correction_rescoring")
#: The tables the compare stage makes: the comparison's, the ablation, the privacy ledger and
#: the signal audit.
OWN_TABLES = (*TABLES, "ablation", "privacy_ledger", "signal_audit")
#: The earlier stages' tables the compare stage hands the page, with those it compares.
EARLIER_TABLES = tuple(name for name in DRAWN if name not in OWN_TABLES)


def read_scores(path: Path, evaluation: int) -> pd.DataFrame:
    """Read a bureau's scores file and check it.

    Parameters
    ----------
    path
        ``RUN/scores/<bureau>.parquet``.
    evaluation
        The evaluation snapshot the scores must be of.

    Returns
    -------
    pandas.DataFrame
        :func:`~bureau.analysis.views.checked_scores`.

    Raises
    ------
    ComparisonError
        If the file cannot be read or its scores are malformed, naming the file.
    """
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise ComparisonError(f"cannot read the scores: {exc}", path=path) from None
    try:
        return checked_scores(frame, evaluation)
    except ComparisonError as exc:
        raise ComparisonError(exc.message, path=path, row=exc.row, field=exc.field) from None


def model_family(run: RunLayout, bureau: str) -> str:
    """The family of a bureau's model, from its model card (``unknown`` without one).

    Parameters
    ----------
    run
        The run.
    bureau
        The bureau.

    Returns
    -------
    str
        ``lightgbm``, ``scorecard`` or ``unknown``.
    """
    card = run.model_card(bureau)
    return read_card(card).model_family if card.is_file() else "unknown"


def trace_owners(run: RunLayout, engines: dict[str, Engine]) -> dict[str, pd.Series]:
    """The person behind each file of every bureau, each bureau's truth read once.

    Parameters
    ----------
    run
        The run.
    engines
        Each bureau's database.

    Returns
    -------
    dict of pandas.Series
        By bureau, in alphabetical order:
        :func:`~bureau.analysis.provenance.file_owners`.
    """
    return {
        b: file_owners(read_consumers(engines[b]), read_furnished(run, b, OWNER_COLUMNS))
        for b in sorted(engines)
    }


def read_views(
    run: RunLayout,
    scn: Scenario,
    engines: dict[str, Engine],
    aggregator: Engine,
    owners: dict[str, pd.Series],
) -> list[ScoredView]:
    """Every scored bureau's view in alphabetical order, then the consensus.

    Parameters
    ----------
    run
        The run.
    scn
        Its scenario.
    engines
        Each bureau's database.
    aggregator
        The aggregator's database, reconciled.
    owners
        :func:`trace_owners`.

    Returns
    -------
    list of ScoredView
        The views; bureaus without scores (no model) are left out.

    Raises
    ------
    ComparisonError
        If no bureau has scores, a scores file is malformed, or there is no consensus at the
        evaluation snapshot.
    """
    evaluation = scn.scoring.evaluation_snapshot
    scores: dict[str, pd.DataFrame] = {}
    views: list[ScoredView] = []
    for bureau in sorted(engines):
        path = run.scores_of(bureau)
        if not path.exists():
            logger.info("%s has no scores (no model); left out of the comparison", bureau)
            continue
        scores[bureau] = read_scores(path, evaluation)
        lines = tradelines_on_file(engines[bureau], evaluation)
        model = model_family(run, bureau)
        views.append(bureau_view(bureau, model, scores[bureau], owners[bureau], lines))
    if not scores:
        raise ComparisonError("no bureau has scores: run the train stage first", path=run.scores)
    held = read_consensus(aggregator, evaluation, scn.aggregator.linkage)
    if held.consensus.empty:
        sqlite = aggregator.dialect.name == "sqlite" and aggregator.url.database
        raise ComparisonError(
            f"no consensus scores at month {evaluation}: run the reconcile stage first",
            path=Path(aggregator.url.database) if sqlite else run.root,
            field="consensus_scores",
        )
    all_owners = pd.concat(
        [s.rename_axis("consumer_id").reset_index().assign(bureau=b) for b, s in owners.items()],
        ignore_index=True,
    )[["bureau", "consumer_id", "person_id"]]
    views.append(aggregator_view(held, all_owners, scores))
    return views


@contextmanager
def _databases(
    run_dir: str | Path,
    bureaus: dict[str, Engine] | None,
    aggregator: Engine | None,
    db_url: str | None,
) -> Iterator[tuple[RunLayout, Scenario, dict[str, Engine], Engine]]:
    """The run, its scenario and its databases; those opened here are closed on leaving."""
    run = RunLayout(Path(run_dir), db_url)
    if not run.scenario_file.exists():
        raise RunDirectoryError(f"not a run directory (no {run.scenario_file.name})", path=run.root)
    scn = load_scenario(run.scenario_file)
    opened: list[Engine] = []

    def missing(name: str, stage: str) -> None:
        # A missing SQLite file is a missing stage, not a new database to create.
        if db_url is None and not (run.root / "db" / f"{name}.db").exists():
            raise RunDirectoryError(
                f"no database of {name}: run the {stage} stage first", path=run.root
            )

    try:
        if bureaus is None:
            bureaus = {}
            for b in scn.active_bureaus:
                missing(b, "ingest")
                bureaus[b] = run.bureau_engine(b)
                opened.append(bureaus[b])
        if aggregator is None:
            missing("aggregator", "reconcile")
            aggregator = run.aggregator_engine()
            opened.append(aggregator)
        yield run, scn, bureaus, aggregator
    finally:
        for engine in opened:
            engine.dispose()


def _judged(
    run: RunLayout, scn: Scenario, engines: dict[str, Engine], aggregator: Engine
) -> tuple[list[ScoredView], pd.DataFrame]:
    """A run's views and the true outcomes they are judged against."""
    evaluation = scn.scoring.evaluation_snapshot
    views = read_views(run, scn, engines, aggregator, trace_owners(run, engines))
    return views, read_outcomes(run, [evaluation])[evaluation]


def compare(
    run_dir: str | Path,
    *,
    bureaus: dict[str, Engine] | None = None,
    aggregator: Engine | None = None,
    db_url: str | None = None,
    resamples: int = RESAMPLES,
    workers: int = 1,
) -> dict[str, pd.DataFrame]:
    """Compare every bureau of a run and the aggregator's consensus against the truth.

    Parameters
    ----------
    run_dir
        A run directory whose chain has run through ``reconcile``.
    bureaus
        Each bureau's database; opened from the run (and closed again) when None.
    aggregator
        The aggregator's database; opened from the run (and closed again) when None.
    db_url
        The database server of the run's credit files, when they are not SQLite files in
        the run (used only to open the databases not given).
    resamples
        Bootstrap resamples of the fairness intervals.
    workers
        Worker processes for the fairness bootstrap; the result does not depend on it.

    Returns
    -------
    dict of pandas.DataFrame
        :data:`~bureau.analysis.compare.TABLES` by name (see :mod:`bureau.analysis.compare`);
        bureaus in alphabetical order, the consensus (``bureau`` = ``"aggregator"``) last.
        Floats are rounded to six decimals. Bureaus without a model (too few defaults to
        train) are left out.

    Raises
    ------
    RunDirectoryError
        If ``run_dir`` is not a run, or a database is missing.
    ComparisonError
        If no bureau has scores, there is no consensus at the evaluation snapshot, or a
        scores file or report table is malformed.
    """
    with _databases(run_dir, bureaus, aggregator, db_url) as (run, scn, engines, engine):
        views, outcomes = _judged(run, scn, engines, engine)
        persons = read_persons(run, PERSON_COLUMNS)
        earlier = read_report_tables(run, COMPARED)
        return compare_views(views, outcomes, persons, earlier, scn, resamples, workers)


def judged_samples(
    run_dir: str | Path,
    *,
    bureaus: dict[str, Engine] | None = None,
    aggregator: Engine | None = None,
    db_url: str | None = None,
) -> dict[str, pd.DataFrame]:
    """The files of each score judged against the truth: what ``comparison`` is computed on.

    Parameters
    ----------
    run_dir, bureaus, aggregator, db_url
        The run and its databases, as :func:`compare` takes them.

    Returns
    -------
    dict of pandas.DataFrame
        By score (bureaus in alphabetical order, ``"aggregator"`` last), the
        :func:`~bureau.analysis.views.truth_sample` at the evaluation snapshot: ``unit``
        (consumer id or person key), ``person_id``, ``pd`` and the true ``default``.

    Raises
    ------
    RunDirectoryError
        If ``run_dir`` is not a run, or a database is missing.
    ComparisonError
        If no bureau has scores, there is no consensus at the evaluation snapshot, or a
        scores file is malformed.
    """
    with _databases(run_dir, bureaus, aggregator, db_url) as (run, scn, engines, engine):
        views, outcomes = _judged(run, scn, engines, engine)
        return {view.name: truth_sample(view.units, outcomes) for view in views}
