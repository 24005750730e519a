"""Batch scoring with one bureau of a finished run, as of a month of it."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from bureau.bureaus.applicants import score_applicants
from bureau.bureaus.batch import ScoringSummary, check_output
from bureau.bureaus.models.artifacts import load_model
from bureau.config.loader import load_scenario
from bureau.config.scenario import Scenario
from bureau.errors import BureauError, RunDirectoryError
from bureau.formats.schema import MONTH_PATTERN, label_months, month_labels
from bureau.layout import RunLayout
from bureau.pipeline.runner import check_database
from bureau.rundir import read_manifest


def month_of(scenario: Scenario, as_of: str | None) -> int:
    """The month number of a ``YYYY-MM`` label (the run's last month by default).

    Parameters
    ----------
    scenario
        The run's scenario (its calendar).
    as_of
        A month as ``YYYY-MM`` (month 01 to 12), or None.

    Returns
    -------
    int
        The 0-based month.

    Raises
    ------
    BureauError
        If the label is not a month, or not a month of the run (field ``as_of``).
    """
    if as_of is None:
        return scenario.months - 1
    # Checked before counting: 2019-13 would otherwise count on to 2020-01.
    if not isinstance(as_of, str) or not re.fullmatch(MONTH_PATTERN, as_of):
        raise BureauError(f"{as_of!r} is not a month (YYYY-MM, month 01 to 12)", field="as_of")
    month = int(label_months(scenario.start_date, pd.Series([as_of]))[0])
    if not 0 <= month < scenario.months:
        first, last = month_labels(scenario.start_date, np.array([0, scenario.months - 1]))
        raise BureauError(f"{as_of} is not a month of this run ({first} to {last})", field="as_of")
    return month


def score_file(
    run_dir: str | Path,
    bureau: str,
    input_path: str | Path,
    output_path: str | Path,
    *,
    as_of: str | None = None,
    db_url: str | None = None,
    record_inquiries: bool = True,
    requester: str = "batch",
    rows_per_chunk: int = 200_000,
    progress: Callable[[int, int], None] | None = None,
) -> ScoringSummary:
    """Score a file of applicants with one bureau of a run (see :func:`score_applicants`).

    Parameters
    ----------
    run_dir
        A run whose bureau has been trained.
    bureau
        The bureau.
    input_path, output_path
        The applicants (CSV or Parquet) and the scores to write (CSV or Parquet).
    as_of
        The month scored, as ``YYYY-MM``; the run's last month when None.
    db_url
        The database server of the credit files, or None for the run's SQLite files.
    record_inquiries
        Record an inquiry per consumer scored in the bureau's file.
    requester
        Who asks (the inquiry's furnisher).
    rows_per_chunk
        Rows read at a time.
    progress
        Called as ``progress(done, total)``.

    Returns
    -------
    ScoringSummary
        Rows, matches, scores and rejects.

    Raises
    ------
    BureauError
        If the run, bureau, model, month or input is not usable.
    """
    run = RunLayout(Path(run_dir), db_url)
    manifest = read_manifest(run.root)
    scenario = load_scenario(run.scenario_file)
    if bureau not in scenario.active_bureaus:
        known = ", ".join(scenario.active_bureaus)
        raise BureauError(f"no bureau {bureau} in this run (bureaus: {known})", field="bureau")
    month = month_of(scenario, as_of)
    model_dir = run.model_dir(bureau)
    if not run.model_card(bureau).exists():
        raise RunDirectoryError(f"{bureau} has no model: run bureau train first", path=model_dir)
    # Before the model is even read: the output must not be one of the files scoring reads.
    check_output(Path(output_path), [Path(input_path), *model_dir.iterdir()])
    model = load_model(model_dir)
    year = int(str(month_labels(scenario.start_date, np.array([month]))[0])[:4])
    check_database(run.root, manifest, db_url)
    with run.bureau_database(bureau, create=False) as engine:
        return score_applicants(
            engine,
            model,
            scenario.bureaus[bureau].matching,
            Path(input_path),
            Path(output_path),
            as_of=month,
            start=scenario.start_date,
            as_of_year=year,
            record_inquiries=record_inquiries,
            requester=requester,
            rows_per_chunk=rows_per_chunk,
            progress=progress,
        )
