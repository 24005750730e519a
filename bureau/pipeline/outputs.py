"""The run's outputs for people: report tables, the HTML page, and reading them back.

``report/`` holds what people read; the stages hand each other data through what the run
keeps for them (the databases, ``models/``, ``features/``, ``scores/``). What an earlier
stage measured, and only it can (the disputes it filed, the files it assessed), is read back
for a later stage by :func:`read_report_tables` alone: the one place a stage reads
``report/``, named by the stages it serves.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pyarrow as pa

from bureau.analysis.html_report import DRAWN, FIGURES, INDEX, html_report
from bureau.config import load_scenario
from bureau.config.scenario import Scenario
from bureau.errors import BureauError, RunDirectoryError
from bureau.layout import RunLayout
from bureau.rundir import write_bytes_atomic, write_text_atomic
from bureau.store.parquet import write_table

logger = logging.getLogger(__name__)


def records_json(frame: pd.DataFrame) -> str:
    """A table as a JSON list of records, keys in column order, missing values as null.

    Parameters
    ----------
    frame
        The table.

    Returns
    -------
    str
        The JSON text, ending in a newline; the same table always gives the same text.
    """
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return json.dumps(records, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def write_report_tables(
    run: RunLayout, tables: dict[str, pd.DataFrame], csv: bool = True, as_json: bool = False
) -> None:
    """Write report tables as Parquet and CSV into ``RUN/report/``, each file whole or not at all.

    Parameters
    ----------
    run
        The run.
    tables
        The tables by name (the file name without suffix).
    csv
        Also write a CSV beside each Parquet file.
    as_json
        Also write each table as JSON records (:func:`records_json`).
    """
    run.report.mkdir(exist_ok=True)
    for name, frame in tables.items():
        write_table(frame, run.report_file(name))
        if csv:
            write_text_atomic(run.report_file(name, "csv"), frame.to_csv(index=False))
        if as_json:
            write_text_atomic(run.report_file(name, "json"), records_json(frame))


def read_report_tables(
    run: RunLayout, names: Iterable[str], unreadable_skipped: bool = False
) -> dict[str, pd.DataFrame]:
    """Read back report tables an earlier stage wrote, for a later stage that needs them.

    Only what no stage-kept data holds comes this way: the measures of the files (accuracy),
    of the disputes filed (disputes) and of the aggregator (reconcile), for the comparison
    and its page; and the training stage's own table, whose rows of the bureaus not trained
    again it keeps.

    Parameters
    ----------
    run
        The run.
    names
        The tables (``report/<name>.parquet``).
    unreadable_skipped
        Leave out a table that cannot be read, with a warning (for the HTML page, which
        notes what it lacks), instead of raising.

    Returns
    -------
    dict of pandas.DataFrame
        The tables the run has, by name, in the order asked for; absent ones are left out.

    Raises
    ------
    RunDirectoryError
        If a table cannot be read and ``unreadable_skipped`` is False.
    """
    tables = {}
    for name in names:
        path = run.report_file(name)
        if not path.exists():
            continue
        try:
            tables[name] = pd.read_parquet(path)
        except (OSError, ValueError, pa.ArrowException) as exc:
            if not unreadable_skipped:
                raise RunDirectoryError(f"cannot read the table: {exc}", path=path) from None
            logger.warning("%s: cannot read: %s; left out of the HTML report", path, exc)
    return tables


def _report_files(run: RunLayout) -> list[str]:
    """The names of the files of the report, which the page links to (the page aside)."""
    return sorted(
        path.name
        for path in run.report.iterdir()
        if path.is_file() and not path.name.startswith(".") and path.name != INDEX
    )


def _scenario(run: RunLayout) -> Scenario | str:
    """The run's resolved scenario, or why it cannot be shown."""
    path = run.scenario_file
    if not path.exists():
        return f"Not shown: the run has no {path.name}."
    try:
        return load_scenario(path)
    except BureauError as exc:
        return f"Not shown: {exc}"


def write_report_page(run: RunLayout, tables: dict[str, pd.DataFrame], workers: int = 1) -> Path:
    """Draw the run's HTML page from the tables given and write it, with its figures.

    Parameters
    ----------
    run
        The run.
    tables
        Every table the page draws (:data:`~bureau.analysis.html_report.DRAWN`) that the
        run has.
    workers
        Worker processes to render the figures in; the page is the same for any number.

    Returns
    -------
    pathlib.Path
        ``RUN/report/index.html``. Each figure is also in ``RUN/report/figures/``; PNG files
        there of figures no longer drawn are removed.
    """
    run.report.mkdir(exist_ok=True)
    page = html_report(tables, _scenario(run), _report_files(run), run.root.name, workers)
    directory = run.report / FIGURES
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in page.figures.items():
        write_bytes_atomic(directory / name, data)
    out = run.report / INDEX
    write_text_atomic(out, page.text)
    for stale in sorted(directory.glob("*.png")):
        if stale.name not in page.figures:
            stale.unlink()
    return out


def write_html_report(
    run_dir: str | Path, tables: dict[str, pd.DataFrame] | None = None, workers: int = 1
) -> Path:
    """Write a run's report as one self-contained HTML page, with its figures as PNG files.

    Parameters
    ----------
    run_dir
        The run directory.
    tables
        Report tables by name (e.g. what :func:`~bureau.pipeline.comparison.compare`
        returns); the others the page draws are read from ``RUN/report/<name>.parquet``.
    workers
        Worker processes to render the figures in; the page is the same for any number.

    Returns
    -------
    pathlib.Path
        ``RUN/report/index.html`` (see :func:`write_report_page`). A part of the page whose
        tables the run does not have says so instead.

    Raises
    ------
    RunDirectoryError
        If ``run_dir`` is not a directory.
    """
    run = RunLayout(Path(run_dir))
    if not run.root.is_dir():
        raise RunDirectoryError("not a run directory", path=run.root)
    given = dict(tables or {})
    read = read_report_tables(run, [n for n in DRAWN if n not in given], unreadable_skipped=True)
    return write_report_page(run, {**read, **given}, workers)
