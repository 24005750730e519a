"""The short displays objects give in the REPL and in Jupyter."""

from __future__ import annotations

from bureau.display import html_summary, text_summary


def test_a_text_summary_aligns_its_labels() -> None:
    text = text_summary("Title", [("a", "1"), ("longer", "2")])
    assert text == "Title\n  a       1\n  longer  2"


def test_an_html_summary_escapes_titles_labels_and_values() -> None:
    html = html_summary("<T> & 'x'", [('<a href="x">', "1 < 2 & 3")])
    assert "<T>" not in html and "<a href" not in html
    assert "&lt;T&gt; &amp; &#x27;x&#x27;" in html
    assert "&lt;a href=&quot;x&quot;&gt;" in html and "1 &lt; 2 &amp; 3" in html
    assert html.count("<tr>") == 1
