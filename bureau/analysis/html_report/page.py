"""The report page's parts: its templates and style sheet, tables, and the figures it holds.

:class:`Page` is what the sections are drawn with: the run's tables and scenario, the figures
kept to render, and notes for the parts whose tables the run lacks.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from string import Template
from types import ModuleType
from typing import TYPE_CHECKING

import pandas as pd

from bureau.analysis.views import AGGREGATOR
from bureau.config.scenario import Scenario
from bureau.parallel import map_chunks

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: The page, in ``RUN/report/``.
INDEX = "index.html"
#: The directory of the figures' PNG files, in ``RUN/report/``.
FIGURES = "figures"

STYLE = """
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

PAGE = Template(
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

SECTION = Template(
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


def esc(value: object) -> str:
    """Text made safe to put in the page, quotes included."""
    return html.escape(str(value), quote=True)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def fmt(value: object, form: str) -> str:
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


def html_table(frame: pd.DataFrame, columns: Sequence[tuple[str, str, str]]) -> str:
    """A table of ``frame``: one column per ``(field, heading, format)``, values escaped."""
    head = "".join(f"<th>{esc(heading)}</th>" for _, heading, _ in columns)
    rows = []
    for record in frame.to_dict("records"):
        cells = []
        for key, _, form in columns:
            kind = ' class="text"' if form == "text" else ""
            cells.append(f"<td{kind}>{esc(fmt(record.get(key), form))}</td>")
        first = record.get(columns[0][0])
        row_class = ' class="consensus"' if first == AGGREGATOR else ""
        rows.append(f"<tr{row_class}>{''.join(cells)}</tr>")
    body = "\n".join(rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def paragraph(text: str) -> str:
    """A paragraph of escaped text."""
    return f"<p>{esc(text)}</p>"


@dataclass
class Page:
    """What the page is made of, and the figures rendered so far."""

    #: The tables drawn, by name; a table absent leaves a note.
    tables: dict[str, pd.DataFrame]
    #: The run's scenario, or why it could not be read.
    scenario: Scenario | str
    #: The names of the files of the report the page links to.
    files: tuple[str, ...]
    #: :mod:`bureau.analysis.figures`.
    figures: ModuleType
    #: Each figure rendered, as PNG bytes, by file name in ``FIGURES``.
    rendered: dict[str, bytes] = field(default_factory=dict)
    #: Figures drawn and not rendered yet, with their captions, by name.
    pending: dict[str, tuple[Figure, str]] = field(default_factory=dict)

    def table(self, name: str) -> pd.DataFrame | None:
        """A table of the report, or None if the page was not given it."""
        return self.tables.get(name)

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
        """Render the figures kept, keep their PNG bytes, and put them in place in ``text``.

        Rendering is most of the time the page takes: the figures render in worker
        processes, each the same bytes wherever it is rendered.
        """
        drawn = [figure for figure, _ in self.pending.values()]
        # The figures with the most panels take longest: they start first.
        panels = [len(figure.axes) for figure in drawn]
        rendered = map_chunks(self.figures.png_bytes, drawn, workers, weights=panels)
        for (name, (figure, caption)), data in zip(self.pending.items(), rendered, strict=True):
            self.rendered[f"{name}.png"] = data
            width, height = (round(v * self.figures.DPI) for v in figure.get_size_inches())
            embedded = _FIGURE.substitute(
                data=base64.b64encode(data).decode("ascii"),
                width=width,
                height=height,
                alt=esc(caption),
                caption=esc(caption),
                href=esc(f"{FIGURES}/{name}.png"),
            )
            text = text.replace(_placeholder(name), embedded, 1)
        self.pending.clear()
        return text

    def block(
        self, needs: dict[str, Sequence[str]], draw: Callable[[], str], heading: str = ""
    ) -> str:
        """A part of a section: drawn when its tables are there, otherwise a note."""
        title = f"<h3>{esc(heading)}</h3>\n" if heading else ""
        gap = self.missing(needs)
        if gap is not None:
            return f'{title}<p class="missing">{esc(gap)}</p>'
        return title + draw()


def _placeholder(name: str) -> str:
    # A comment cannot come out of the escaped text around it: no caption or cell holds one.
    return f"<!-- figure {name} -->"
