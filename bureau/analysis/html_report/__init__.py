"""A run's report as one self-contained HTML page: ``RUN/report/index.html``.

The page sets out the scenario, then every bureau and the aggregator's consensus against the
truth: a summary table, ROC curves, score distributions, calibration, agreement between
bureaus, coverage, fairness, linkage and what the aggregator gains, file errors and disputes,
and links to every table of the report. Every figure is embedded as a PNG data URI and the
style sheet is inline, with no script and nothing fetched, so the file can be opened offline
and sent on alone; each figure is also written to ``RUN/report/figures/<name>.png``.

The page is drawn from the report tables alone (:mod:`bureau.analysis.figures`), so it is
quick to make and needs no database. A table the run does not have (a run made by an older
version) leaves its part of the page with a note saying so. The same tables give the same
bytes: nothing on the page depends on the time or the machine.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from bureau.analysis.html_report.files import (
    aggregator_section,
    errors_section,
    privacy_section,
    tables_section,
)
from bureau.analysis.html_report.page import (
    FIGURES,
    INDEX,
    PAGE,
    SECTION,
    STYLE,
    Page,
    esc,
    read_scenario,
)
from bureau.analysis.html_report.scores import (
    agreement_section,
    coverage_section,
    discrimination_section,
    fairness_section,
    scenario_section,
    summary_section,
)
from bureau.errors import RunDirectoryError
from bureau.rundir import write_text_atomic

__all__ = ["FIGURES", "INDEX", "write_html_report"]

_SECTIONS: tuple[tuple[str, str, Callable[[Page], str]], ...] = (
    ("scenario", "Scenario", scenario_section),
    ("summary", "Summary", summary_section),
    ("discrimination", "Discrimination and calibration", discrimination_section),
    ("agreement", "Agreement between bureaus", agreement_section),
    ("coverage", "Coverage", coverage_section),
    ("fairness", "Fairness", fairness_section),
    ("aggregator", "Linkage and the aggregator", aggregator_section),
    ("errors", "File errors and disputes", errors_section),
    ("privacy", "Data sources: value and exposure", privacy_section),
    ("tables", "Tables", tables_section),
)


def write_html_report(
    run_dir: Path, tables: dict[str, pd.DataFrame] | None = None, workers: int = 1
) -> Path:
    """Write a run's report as one self-contained HTML page, with its figures as PNG files.

    Parameters
    ----------
    run_dir
        The run directory.
    tables
        Report tables by name (e.g. what :func:`~bureau.analysis.compare.compare` returns);
        the others are read from ``RUN/report/<name>.parquet``.
    workers
        Worker processes to render the figures in; the page is the same for any number.

    Returns
    -------
    pathlib.Path
        ``RUN/report/index.html``. Each figure is also in ``RUN/report/figures/``; PNG files
        there of figures no longer drawn are removed. A part of the page whose tables the
        run does not have says so instead.

    Raises
    ------
    RunDirectoryError
        If ``run_dir`` is not a directory.
    """
    root = Path(run_dir)
    if not root.is_dir():
        raise RunDirectoryError("not a run directory", path=root)
    # matplotlib takes about a second to import: drawing needs it, ``import bureau`` does not.
    from bureau.analysis import figures

    page = Page(root, dict(tables or {}), read_scenario(root), figures)
    page.report.mkdir(exist_ok=True)
    sections = []
    for anchor, heading, build in _SECTIONS:
        sections.append(SECTION.substitute(anchor=anchor, heading=esc(heading), body=build(page)))
    contents = "\n".join(
        f'<li><a href="#{anchor}">{esc(heading)}</a></li>' for anchor, heading, _ in _SECTIONS
    )
    name = root.name if isinstance(page.scenario, str) else page.scenario.name
    text = PAGE.substitute(
        title=esc(f"bureau: run report, scenario {name}"),
        style=STYLE,
        lead=esc(
            "Every bureau of the run and the aggregator's consensus, measured against the "
            "synthetic world's truth at the evaluation snapshot."
        ),
        contents=contents,
        sections="\n".join(sections),
    )
    text = page.render(text, workers)
    out = page.report / INDEX
    write_text_atomic(out, text)
    directory = page.report / FIGURES
    if directory.is_dir():
        for stale in sorted(directory.glob("*.png")):
            if stale.name not in page.written:
                stale.unlink()
    return out
