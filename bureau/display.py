"""Short displays of the library's objects, for the REPL and Jupyter.

An object shows itself as a title and a few labelled lines: as text (``__repr__``) and as a
small HTML table (``_repr_html_``), both built here from the same lines, so the two never say
different things. Every value is escaped for HTML: names and paths come from files.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

Lines = Sequence[tuple[str, str]]


def text_summary(title: str, lines: Lines) -> str:
    """A title, then one indented ``label: value`` line each.

    Parameters
    ----------
    title
        The first line.
    lines
        ``(label, value)`` pairs.

    Returns
    -------
    str
        The summary, labels aligned.
    """
    width = max((len(label) for label, _ in lines), default=0)
    return "\n".join([title, *(f"  {label:<{width}}  {value}" for label, value in lines)])


def html_summary(title: str, lines: Lines) -> str:
    """A small HTML table: the title as its caption, a row per ``(label, value)``.

    Parameters
    ----------
    title
        The caption.
    lines
        ``(label, value)`` pairs.

    Returns
    -------
    str
        The table, every text escaped with :func:`html.escape`.
    """
    rows = "".join(
        f'<tr><th style="text-align:left">{html.escape(label)}</th>'
        f'<td style="text-align:left">{html.escape(value)}</td></tr>'
        for label, value in lines
    )
    return f'<table><caption style="text-align:left">{html.escape(title)}</caption>{rows}</table>'
