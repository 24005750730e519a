"""A run's report as one self-contained HTML page, for ``RUN/report/index.html``.

The page sets out the scenario, then every bureau and the aggregator's consensus against the
truth: a summary table, the credit market (lending, market shares, access to credit by group,
selection bias), ROC curves, score distributions, calibration, agreement between
bureaus, coverage, fairness, linkage and what the aggregator gains, file errors and disputes,
and links to every table of the report. Every figure is embedded as a PNG data URI and the
style sheet is inline, with no script and nothing fetched, so the file can be opened offline
and sent on alone; each figure is also given as PNG bytes, for ``RUN/report/figures/``.

The page is drawn from the report tables alone (:mod:`bureau.analysis.figures`), so it is
quick to make and needs no database; :func:`html_report` reads and writes nothing, the
pipeline hands it the tables and writes what it returns (:mod:`bureau.pipeline.outputs`).
A table the run does not have (a run made by an older version) leaves its part of the page
with a note saying so. The same tables give the same bytes: nothing on the page depends on the
time or the machine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from bureau.analysis.compare import TABLES
from bureau.analysis.html_report.files import (
    aggregator_section,
    errors_section,
    privacy_section,
    tables_section,
)
from bureau.analysis.html_report.market import MARKET_TABLES, market_section
from bureau.analysis.html_report.page import (
    FIGURES,
    INDEX,
    PAGE,
    SECTION,
    STYLE,
    Page,
    esc,
)
from bureau.analysis.html_report.scores import (
    agreement_section,
    coverage_section,
    discrimination_section,
    fairness_section,
    scenario_section,
    summary_section,
)
from bureau.config.scenario import Scenario

__all__ = ["DRAWN", "FIGURES", "INDEX", "ReportPage", "html_report"]

#: Every table the page draws: the compare stage's own, and those of the stages before it.
DRAWN = (
    *TABLES,
    "ablation",
    "privacy_ledger",
    "file_accuracy",
    "linkage",
    "consensus",
    "coverage_accuracy",
    "disputes",
    "disputes_by_severity",
    "correction_rescoring",
    *MARKET_TABLES,
)

_SECTIONS: tuple[tuple[str, str, Callable[[Page], str]], ...] = (
    ("scenario", "Scenario", scenario_section),
    ("summary", "Summary", summary_section),
    ("market", "The credit market", market_section),
    ("discrimination", "Discrimination and calibration", discrimination_section),
    ("agreement", "Agreement between bureaus", agreement_section),
    ("coverage", "Coverage", coverage_section),
    ("fairness", "Fairness", fairness_section),
    ("aggregator", "Linkage and the aggregator", aggregator_section),
    ("errors", "File errors and disputes", errors_section),
    ("privacy", "Data sources: value and exposure", privacy_section),
    ("tables", "Tables", tables_section),
)


@dataclass(frozen=True)
class ReportPage:
    """The report page and its figures, for the caller to write.

    Attributes
    ----------
    text
        The page (``index.html``).
    figures
        Each figure's PNG bytes by file name (``<name>.png``, for ``figures/``), in the
        order they are drawn on the page.
    """

    text: str
    figures: dict[str, bytes]


def html_report(
    tables: Mapping[str, pd.DataFrame],
    scenario: Scenario | str,
    files: Sequence[str],
    run_name: str,
    workers: int = 1,
) -> ReportPage:
    """Draw a run's report as one self-contained HTML page, with its figures as PNG bytes.

    Parameters
    ----------
    tables
        The report tables by name, as many of :data:`DRAWN` as the run has; a part of the
        page whose tables are not given says so instead.
    scenario
        The run's resolved scenario, or why it cannot be shown.
    files
        The names of the report's files (tables as Parquet, CSV, JSON...), which the page
        links to.
    run_name
        The run's name, for the title when the scenario cannot be shown.
    workers
        Worker processes to render the figures in; the page is the same for any number.

    Returns
    -------
    ReportPage
        The page and every figure it embeds.
    """
    # matplotlib takes about a second to import: drawing needs it, ``import bureau`` does not.
    from bureau.analysis import figures

    page = Page(dict(tables), scenario, tuple(files), figures)
    sections = []
    for anchor, heading, build in _SECTIONS:
        sections.append(SECTION.substitute(anchor=anchor, heading=esc(heading), body=build(page)))
    contents = "\n".join(
        f'<li><a href="#{anchor}">{esc(heading)}</a></li>' for anchor, heading, _ in _SECTIONS
    )
    name = run_name if isinstance(page.scenario, str) else page.scenario.name
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
    return ReportPage(text, dict(page.rendered))
