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

import base64
import datetime as dt
import html
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from string import Template
from types import ModuleType
from typing import TYPE_CHECKING

import pandas as pd

from bureau.analysis.agreement import TIER_BANDS
from bureau.analysis.fairness import APPROVAL_PD, RESAMPLES
from bureau.analysis.views import AGGREGATOR
from bureau.config import load_scenario
from bureau.config.scenario import Scenario
from bureau.engine import map_chunks
from bureau.errors import BureauError, RunDirectoryError
from bureau.rundir import RESOLVED_SCENARIO, write_bytes_atomic, write_text_atomic

if TYPE_CHECKING:
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

#: The page, in ``RUN/report/``.
INDEX = "index.html"
#: The directory of the figures' PNG files, in ``RUN/report/``.
FIGURES = "figures"

_STYLE = """
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; font-size: 15px;
       line-height: 1.45; color: #222; max-width: 1180px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; }
h2 { font-size: 1.3em; margin-top: 2em; border-bottom: 1px solid #ccc; padding-bottom: 0.2em; }
h3 { font-size: 1.05em; margin-top: 1.4em; }
nav ol { columns: 2; font-size: 0.95em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { padding: 0.25em 0.7em; border-bottom: 1px solid #e3e3e3; text-align: right; }
th { background: #f4f4f4; }
th:first-child, td:first-child, td.text { text-align: left; }
tr.consensus td { font-weight: bold; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #555; }
p.missing { background: #fff4e5; border-left: 4px solid #f0a030; padding: 0.5em 0.8em; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1.2em; }
dt { font-weight: bold; }
dd { margin: 0; }
code { font-size: 0.95em; }
"""

_PAGE = Template(
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>$style</style>
</head>
<body>
<h1>$title</h1>
<p>$lead</p>
<nav>
<ol>
$contents
</ol>
</nav>
$sections
</body>
</html>
"""
)

_SECTION = Template(
    """<section id="$anchor">
<h2>$heading</h2>
$body
</section>
"""
)

_FIGURE = Template(
    """<figure>
<img src="data:image/png;base64,$data" width="$width" height="$height" alt="$alt">
<figcaption>$caption (<a href="$href">PNG</a>)</figcaption>
</figure>"""
)


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _fmt(value: object, form: str) -> str:
    """A cell's text: ``pct`` / ``pct2`` (a share in percent), ``int``, ``f3``, ``f1``, or as is."""
    if _missing(value):
        return "-"
    if form == "pct":
        return f"{float(value):.1%}"
    if form == "pct2":
        return f"{float(value):.2%}"
    if form == "int":
        return f"{int(value):,}"
    if form == "f3":
        return f"{float(value):.3f}"
    if form == "f1":
        return f"{float(value):.1f}"
    return str(value)


def _html_table(frame: pd.DataFrame, columns: Sequence[tuple[str, str, str]]) -> str:
    """A table of ``frame``: one column per ``(field, heading, format)``, values escaped."""
    head = "".join(f"<th>{_esc(heading)}</th>" for _, heading, _ in columns)
    rows = []
    for record in frame.to_dict("records"):
        cells = []
        for key, _, form in columns:
            kind = ' class="text"' if form == "text" else ""
            cells.append(f"<td{kind}>{_esc(_fmt(record.get(key), form))}</td>")
        first = record.get(columns[0][0])
        row_class = ' class="consensus"' if first == AGGREGATOR else ""
        rows.append(f"<tr{row_class}>{''.join(cells)}</tr>")
    body = "\n".join(rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def _paragraph(text: str) -> str:
    return f"<p>{_esc(text)}</p>"


@dataclass
class _Page:
    """What the page is made of, and the figures written so far."""

    root: Path
    tables: dict[str, pd.DataFrame]
    #: The run's scenario, or why it could not be read.
    scenario: Scenario | str
    #: :mod:`bureau.analysis.figures`.
    figures: ModuleType
    written: list[str] = field(default_factory=list)
    #: Figures drawn and not rendered yet, with their captions, by name.
    pending: dict[str, tuple[Figure, str]] = field(default_factory=dict)

    @property
    def report(self) -> Path:
        return self.root / "report"

    def table(self, name: str) -> pd.DataFrame | None:
        """A report table: as given, else read from the run; None if absent or unreadable."""
        if name not in self.tables:
            path = self.report / f"{name}.parquet"
            if not path.exists():
                return None
            try:
                self.tables[name] = pd.read_parquet(path)
            except (OSError, ValueError) as exc:
                logger.warning("%s: cannot read: %s; left out of the HTML report", path, exc)
                return None
        return self.tables[name]

    def missing(self, needs: dict[str, Sequence[str]]) -> str | None:
        """A note naming what is missing of the tables and columns needed, or None."""
        gaps = []
        for name, columns in needs.items():
            frame = self.table(name)
            if frame is None:
                gaps.append(f"the {name} table (report/{name}.parquet)")
                continue
            absent = [c for c in columns if c not in frame.columns]
            if absent:
                gaps.append(f"the {name} table's column(s) {', '.join(absent)}")
        if not gaps:
            return None
        return (
            f"Not shown: this run's report lacks {'; '.join(gaps)} (a run made by an earlier "
            "version, or one whose stages have not all run)."
        )

    def figure(self, name: str, drawn: Figure, caption: str) -> str:
        """Keep a figure for :meth:`render`; return the place its embedded HTML will take."""
        self.pending[name] = (drawn, caption)
        return _placeholder(name)

    def render(self, text: str, workers: int) -> str:
        """Render the figures kept, write their PNG files, and put them in place in ``text``.

        Rendering is most of the time the page takes: the figures render in worker
        processes, each the same bytes wherever it is rendered.
        """
        drawn = [figure for figure, _ in self.pending.values()]
        # The figures with the most panels take longest: they start first.
        panels = [len(figure.axes) for figure in drawn]
        rendered = map_chunks(self.figures.png_bytes, drawn, workers, weights=panels)
        directory = self.report / FIGURES
        directory.mkdir(parents=True, exist_ok=True)
        for (name, (figure, caption)), data in zip(self.pending.items(), rendered, strict=True):
            write_bytes_atomic(directory / f"{name}.png", data)
            self.written.append(f"{name}.png")
            width, height = (round(v * self.figures.DPI) for v in figure.get_size_inches())
            embedded = _FIGURE.substitute(
                data=base64.b64encode(data).decode("ascii"),
                width=width,
                height=height,
                alt=_esc(caption),
                caption=_esc(caption),
                href=_esc(f"{FIGURES}/{name}.png"),
            )
            text = text.replace(_placeholder(name), embedded, 1)
        self.pending.clear()
        return text

    def block(
        self, needs: dict[str, Sequence[str]], draw: Callable[[], str], heading: str = ""
    ) -> str:
        """A part of a section: drawn when its tables are there, otherwise a note."""
        title = f"<h3>{_esc(heading)}</h3>\n" if heading else ""
        gap = self.missing(needs)
        if gap is not None:
            return f'{title}<p class="missing">{_esc(gap)}</p>'
        return title + draw()


def _placeholder(name: str) -> str:
    # A comment cannot come out of the escaped text around it: no caption or cell holds one.
    return f"<!-- figure {name} -->"


def _month(start: dt.date, month: int) -> str:
    year, index = divmod(start.year * 12 + start.month - 1 + month, 12)
    return f"{year}-{index + 1:02d}"


def _read_scenario(root: Path) -> Scenario | str:
    """The run's resolved scenario, or why it cannot be shown."""
    path = root / RESOLVED_SCENARIO
    if not path.exists():
        return f"Not shown: the run has no {RESOLVED_SCENARIO}."
    try:
        return load_scenario(path)
    except BureauError as exc:
        return f"Not shown: {exc}"


def _scenario_section(page: _Page) -> str:
    scn = page.scenario
    if isinstance(scn, str):
        return f'<p class="missing">{_esc(scn)}</p>'
    try:
        made_with = version("bureau")
    except PackageNotFoundError:
        made_with = "unknown (not installed)"
    development, evaluation = scn.scoring.development_snapshot, scn.scoring.evaluation_snapshot
    start = scn.start_date
    items = (
        ("scenario", scn.name),
        ("seed", f"{scn.seed}"),
        ("persons", f"{scn.population.persons:,}"),
        ("months", f"{scn.months} ({_month(start, 0)} to {_month(start, scn.months - 1)})"),
        (
            "snapshots",
            f"development: month {development} ({_month(start, development)}); "
            f"evaluation: month {evaluation} ({_month(start, evaluation)})",
        ),
        ("data sharing", f"{scn.sharing}, {scn.sharing_lag} month(s) lag"),
        ("linkage", f"{scn.aggregator.linkage} (match threshold {scn.aggregator.match_threshold})"),
        ("report made with", f"bureau {made_with}"),
    )
    listed = "\n".join(f"<dt>{_esc(k)}</dt><dd>{_esc(v)}</dd>" for k, v in items)
    rows = pd.DataFrame(
        [
            {
                "bureau": bureau,
                "name": profile.name,
                "owner": profile.owner,
                "status": ("licensed" if profile.licensed else "unlicensed")
                + ("" if profile.enabled else ", disabled"),
                "intake": profile.intake_format,
                "sources": ", ".join(profile.sources),
                "model": profile.model,
            }
            for bureau, profile in sorted(scn.bureaus.items())
        ]
    )
    table = _html_table(
        rows,
        [
            ("bureau", "bureau", "text"),
            ("name", "name", "text"),
            ("owner", "owner", "text"),
            ("status", "status", "text"),
            ("intake", "intake format", "text"),
            ("sources", "data sources", "text"),
            ("model", "model", "text"),
        ],
    )
    return f"<dl>\n{listed}\n</dl>\n<h3>The bureaus</h3>\n{table}"


_SUMMARY_COLUMNS = (
    ("bureau", "score", "text"),
    ("model", "model", "text"),
    ("coverage", "coverage", "pct"),
    ("thin_file", "thin file", "pct"),
    ("invisible", "invisible", "pct"),
    ("truth_auc", "AUC vs truth", "f3"),
    ("observed_auc", "AUC vs observed", "f3"),
    ("truth_ks", "KS vs truth", "f3"),
    ("truth_brier", "Brier", "f3"),
    ("person_error_rate", "person error rate", "pct2"),
)


def _summary_section(page: _Page) -> str:
    def draw() -> str:
        text = _paragraph(
            "Per bureau and for the aggregator's consensus, at the evaluation snapshot: the "
            "shares of adults scored, scored on a thin file (fewer than 2 tradelines) and "
            "invisible; AUC and KS against the true 12-month default of the person behind "
            "each file, and AUC against the defaults the bureau itself observed; the Brier "
            "score against the truth; and the share of persons visible with a material error "
            "on file."
        )
        return text + "\n" + _html_table(page.tables["comparison"], _SUMMARY_COLUMNS)

    return page.block({"comparison": [c for c, _, _ in _SUMMARY_COLUMNS]}, draw)


def _discrimination_section(page: _Page) -> str:
    def roc() -> str:
        comparison = page.table("comparison")
        if comparison is not None and not {"bureau", "truth_auc"} <= set(comparison.columns):
            comparison = None
        drawn = page.figures.roc_figure(page.tables["roc"], comparison)
        return page.figure(
            "roc",
            drawn,
            "ROC curves against the true outcome, on the files each score is judged on.",
        )

    def distribution() -> str:
        drawn = page.figures.score_distribution_figure(page.tables["score_distribution"])
        return page.figure(
            "score_distribution",
            drawn,
            "Each score's PDs on the common 300-850 scale: files that did not default "
            "(filled) and files that did (outline), each as a share of its class.",
        )

    def calibration() -> str:
        drawn = page.figures.calibration_figure(page.tables["calibration"])
        return page.figure(
            "calibration",
            drawn,
            "Mean PD against the true default rate by PD decile; the dashed line is perfect "
            "calibration.",
        )

    return "\n".join(
        [
            page.block({"roc": ("bureau", "fpr", "tpr")}, roc, "ROC curves"),
            page.block(
                {"score_distribution": ("bureau", "score_low", "score_high", "files", "defaults")},
                distribution,
                "Score distributions",
            ),
            page.block(
                {"calibration": ("bureau", "mean_pd", "default_rate")},
                calibration,
                "Calibration",
            ),
        ]
    )


def _agreement_section(page: _Page) -> str:
    tiers = ", ".join(f"{b:.0%}" for b in TIER_BANDS)

    def heatmap() -> str:
        drawn = page.figures.agreement_figure(page.tables["pairwise"])
        return page.figure(
            "agreement",
            drawn,
            f"Pairs of bureaus on the persons both score: the share put in the same risk tier "
            f"(PD cut at {tiers}) and the rank correlation of their PDs.",
        )

    def migration() -> str:
        drawn = page.figures.migration_figure(page.tables["migration"], page.tables["pairwise"])
        return page.figure(
            "migration",
            drawn,
            "Persons by the risk tier each of two bureaus gives them (tier 1 lowest risk), for "
            "the pairs that agree least and most; colour is the share of the row.",
        )

    def spread() -> str:
        return _paragraph(
            "Persons scored by three or more bureaus: the range of their scores on the common "
            "scale (highest minus lowest), overall and by number of bureaus."
        ) + _html_table(
            page.tables["score_spread"],
            [
                ("scored_by", "scored by", "text"),
                ("persons", "persons", "int"),
                ("median_range", "median range", "f1"),
                ("mean_range", "mean range", "f1"),
                ("share_range_50", "50+ points apart", "pct"),
                ("share_range_100", "100+ points apart", "pct"),
            ],
        )

    pairwise = ("bureau_a", "bureau_b", "persons", "same_tier", "spearman")
    return "\n".join(
        [
            page.block({"pairwise": pairwise}, heatmap, "Tier agreement"),
            page.block(
                {
                    "migration": ("bureau_a", "bureau_b", "tier_a", "tier_b", "persons"),
                    "pairwise": pairwise,
                },
                migration,
                "Tier migration",
            ),
            page.block(
                {"score_spread": ("scored_by", "persons", "median_range")},
                spread,
                "Score spread",
            ),
        ]
    )


def _coverage_section(page: _Page) -> str:
    def draw() -> str:
        drawn = page.figures.coverage_figure(page.tables["comparison"])
        return page.figure(
            "coverage",
            drawn,
            "Shares of the world's adults each score reaches: scored on a file of 2 or more "
            "tradelines, scored on a thin file, and invisible.",
        )

    return page.block({"comparison": ("bureau", "coverage", "thin_file", "invisible")}, draw)


def _fairness_section(page: _Page) -> str:
    intro = _paragraph(
        f"Per group of persons (hukou, gender, age band, city tier, device): the share "
        f"approved at a PD below {APPROVAL_PD:.0%}, the AUC against the true outcome, and the "
        f"calibration gap (mean PD minus true default rate). Error bars are 95% percentile "
        f"intervals from {RESAMPLES} bootstrap resamples of the scored persons."
    )
    parts = [intro]
    for metric, title in (
        ("approval_rate", "Approval"),
        ("auc", "Discrimination"),
        ("calibration_gap", "Calibration"),
    ):

        def draw(metric: str = metric, title: str = title) -> str:
            drawn = page.figures.fairness_figure(page.tables["fairness"], metric)
            return page.figure(f"fairness_{metric}", drawn, f"{title} by group.")

        columns = ("bureau", "attribute", "group", metric, f"{metric}_low", f"{metric}_high")
        parts.append(page.block({"fairness": columns}, draw, title))
    return "\n".join(parts)


def _aggregator_section(page: _Page) -> str:
    def linkage() -> str:
        drawn = page.figures.linkage_figure(page.tables["linkage"])
        table = _html_table(
            page.tables["linkage"],
            [
                ("method", "method", "text"),
                ("files", "files", "int"),
                ("persons", "persons", "int"),
                ("keys", "keys", "int"),
                ("precision", "precision", "f3"),
                ("recall", "recall", "f3"),
                ("f1", "F1", "f3"),
                ("persons_split", "persons split", "int"),
                ("keys_merged", "keys merged", "int"),
            ],
        )
        caption = (
            "Identity linkage of every bureau's files into person keys, against the truth: "
            "pairwise precision, recall and F1, persons split over several keys and keys "
            "merging several persons."
        )
        return page.figure("linkage", drawn, caption) + "\n" + table

    def gains() -> str:
        drawn = page.figures.aggregator_figure(
            page.tables["consensus"], page.tables["coverage_accuracy"]
        )
        return page.figure(
            "aggregator",
            drawn,
            "Each bureau alone and the aggregator: out-of-time AUC against the truth, "
            "coverage, and the share of the year's true defaults seen by the evaluation "
            "snapshot.",
        )

    return "\n".join(
        [
            page.block(
                {
                    "linkage": (
                        "method",
                        "files",
                        "persons",
                        "keys",
                        "precision",
                        "recall",
                        "f1",
                        "persons_split",
                        "keys_merged",
                    )
                },
                linkage,
                "Linkage quality",
            ),
            page.block(
                {
                    "consensus": ("view", "auc"),
                    "coverage_accuracy": ("view", "coverage", "defaults_seen_share"),
                },
                gains,
                "What the aggregator gains",
            ),
        ]
    )


def _errors_section(page: _Page) -> str:
    def errors() -> str:
        drawn = page.figures.file_errors_figure(page.tables["file_accuracy"])
        return page.figure(
            "file_errors",
            drawn,
            "Each bureau's credit files against the truth: files with a material error, "
            "files with each kind of error, and fragmented persons and mixed files.",
        )

    def disputes() -> str:
        drawn = page.figures.disputes_figure(
            page.tables["disputes"], page.tables["disputes_by_severity"]
        )
        table = _html_table(
            page.tables["disputes"],
            [
                ("bureau", "bureau", "text"),
                ("errors", "errors", "int"),
                ("disputed_share", "disputed", "pct"),
                ("corrected_share", "corrected", "pct"),
                ("months_to_correction", "months to correction", "f1"),
                ("still_present_share", "still on file", "pct"),
                ("consumers_rescored", "rescored", "int"),
                ("mean_score_change", "mean score change", "f1"),
            ],
        )
        caption = (
            "Consumers' disputes of the errors on file at the development snapshot: shares "
            "disputed, corrected and still on file at the evaluation snapshot; by severity; "
            "and the mean score change of the consumers rescored after a correction."
        )
        return page.figure("disputes", drawn, caption) + "\n" + table

    def rescoring() -> str:
        table = _html_table(
            page.tables["correction_rescoring"],
            [
                ("bureau", "bureau", "text"),
                ("scored", "scored", "int"),
                ("with_errors_share", "with an error", "pct"),
                ("score_changed_share", "score changes", "pct"),
                ("tier_changed_share", "tier changes", "pct"),
                ("score_up_share", "of those, score rises", "pct"),
                ("mean_abs_score_change", "mean change (points)", "f1"),
                ("max_abs_score_change", "largest change", "f1"),
            ],
        )
        return (
            _paragraph(
                "Every consumer scored at the evaluation snapshot, rescored by the bureau's "
                "own model with every error still on the file corrected (wrong statuses put "
                "right, other persons' accounts and wrongful public records taken off): the "
                "shares of consumers whose score and whose risk tier change."
            )
            + "\n"
            + table
        )

    accuracy = (
        "bureau",
        "files",
        "with_file",
        "material_error_rate",
        "wrong_status",
        "other_persons_account",
        "missing_account",
        "wrongful_public_record",
        "fragmented_persons",
        "mixed_files",
    )
    return "\n".join(
        [
            page.block({"file_accuracy": accuracy}, errors, "File errors"),
            page.block(
                {
                    "disputes": (
                        "bureau",
                        "errors",
                        "disputed_share",
                        "corrected_share",
                        "months_to_correction",
                        "still_present_share",
                        "consumers_rescored",
                        "mean_score_change",
                    ),
                    "disputes_by_severity": ("severity", "errors", "disputed", "corrected"),
                },
                disputes,
                "Disputes",
            ),
            page.block(
                {
                    "correction_rescoring": (
                        "bureau",
                        "scored",
                        "with_errors_share",
                        "score_changed_share",
                        "tier_changed_share",
                        "score_up_share",
                        "mean_abs_score_change",
                        "max_abs_score_change",
                    )
                },
                rescoring,
                "Scores with the errors corrected",
            ),
        ]
    )


def _privacy_section(page: _Page) -> str:
    def ledger() -> str:
        drawn = page.figures.privacy_figure(page.tables["privacy_ledger"])
        return page.figure(
            "privacy",
            drawn,
            "The personal data each bureau holds, by category (data points per consumer with "
            "a file), beside the out-of-time AUC against the truth that the category's "
            "feature group adds to the bureau's model.",
        )

    def ablation() -> str:
        table = _html_table(
            page.tables["ablation"],
            [
                ("bureau", "bureau", "text"),
                ("removed", "feature group withheld", "text"),
                ("truth_auc", "AUC (truth)", "f3"),
                ("truth_auc_gain", "AUC the group adds (truth)", "f3"),
                ("observed_auc", "AUC (observed)", "f3"),
                ("observed_auc_gain", "AUC the group adds (observed)", "f3"),
            ],
        )
        return (
            _paragraph(
                "Each bureau's model trained again without one feature group at a time "
                "(none: every group), on the same sample with the same seed; the AUC a group "
                "adds is what the model loses without it."
            )
            + "\n"
            + table
        )

    return "\n".join(
        [
            page.block(
                {
                    "privacy_ledger": (
                        "bureau",
                        "category",
                        "held",
                        "per_consumer",
                        "truth_auc_gain",
                    )
                },
                ledger,
                "Privacy ledger",
            ),
            page.block(
                {
                    "ablation": (
                        "bureau",
                        "removed",
                        "truth_auc",
                        "truth_auc_gain",
                        "observed_auc",
                        "observed_auc_gain",
                    )
                },
                ablation,
                "Data-source ablation",
            ),
        ]
    )


def _tables_section(page: _Page) -> str:
    formats = {}
    for path in sorted(page.report.iterdir()):
        if path.is_file() and not path.name.startswith(".") and path.name != INDEX:
            formats.setdefault(path.stem, []).append(path)
    if not formats:
        return '<p class="missing">No report tables in this run.</p>'
    items = []
    for stem, paths in formats.items():
        links = " · ".join(
            f'<a href="{_esc(p.name)}">{_esc(p.suffix.lstrip(".").upper())}</a>' for p in paths
        )
        items.append(f"<li><code>{_esc(stem)}</code>: {links}</li>")
    return (
        _paragraph("Every file of the report, beside this page (CSV, Parquet, JSON).")
        + "\n<ul>\n"
        + "\n".join(items)
        + "\n</ul>"
    )


_SECTIONS: tuple[tuple[str, str, Callable[[_Page], str]], ...] = (
    ("scenario", "Scenario", _scenario_section),
    ("summary", "Summary", _summary_section),
    ("discrimination", "Discrimination and calibration", _discrimination_section),
    ("agreement", "Agreement between bureaus", _agreement_section),
    ("coverage", "Coverage", _coverage_section),
    ("fairness", "Fairness", _fairness_section),
    ("aggregator", "Linkage and the aggregator", _aggregator_section),
    ("errors", "File errors and disputes", _errors_section),
    ("privacy", "Data sources: value and exposure", _privacy_section),
    ("tables", "Tables", _tables_section),
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

    page = _Page(root, dict(tables or {}), _read_scenario(root), figures)
    page.report.mkdir(exist_ok=True)
    sections = []
    for anchor, heading, build in _SECTIONS:
        sections.append(_SECTION.substitute(anchor=anchor, heading=_esc(heading), body=build(page)))
    contents = "\n".join(
        f'<li><a href="#{anchor}">{_esc(heading)}</a></li>' for anchor, heading, _ in _SECTIONS
    )
    name = root.name if isinstance(page.scenario, str) else page.scenario.name
    text = _PAGE.substitute(
        title=_esc(f"bureau: run report, scenario {name}"),
        style=_STYLE,
        lead=_esc(
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
