from __future__ import annotations

import base64
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import bureau
from bureau.analysis.compare import TABLES
from bureau.analysis.html_report import FIGURES, INDEX
from bureau.cli.main import app
from bureau.pipeline import judged_samples, write_html_report

pytestmark = pytest.mark.slow

FIGURE_NAMES = {
    "market_share",
    "access_approval_rate",
    "access_default_rate",
    "roc",
    "score_distribution",
    "calibration",
    "agreement",
    "migration",
    "coverage",
    "fairness_approval_rate",
    "fairness_auc",
    "fairness_calibration_gap",
    "linkage",
    "aggregator",
    "file_errors",
    "disputes",
    "privacy",
}
EMBEDDED = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')
HREF = re.compile(r'href="([^"]+)"')


def _report_copy(run: Path, to: Path) -> Path:
    """The parts of a run the HTML report reads: its scenario, manifest and report tables."""
    to.mkdir()
    for name in ("scenario.resolved.toml", "manifest.json"):
        shutil.copy(run / name, to / name)
    shutil.copytree(run / "report", to / "report")
    return to


@pytest.fixture(scope="module")
def page(small_run) -> str:
    return (small_run.path / "report" / INDEX).read_text(encoding="utf-8")


def test_the_compare_stage_writes_the_page_with_every_figure_embedded(small_run, page) -> None:
    figures = small_run.path / "report" / FIGURES
    assert {p.stem for p in figures.glob("*.png")} == FIGURE_NAMES
    embedded = EMBEDDED.findall(page)
    assert len(embedded) == len(FIGURE_NAMES)
    # Each embedded image is the PNG written beside the page.
    on_disk = {p.read_bytes() for p in figures.glob("*.png")}
    assert {base64.b64decode(data) for data in embedded} == on_disk
    for data in on_disk:
        assert data.startswith(b"\x89PNG\r\n\x1a\n")


def test_the_page_is_self_contained(page) -> None:
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page.lower()
    assert "<link" not in page.lower()
    # Every src is a data URI: nothing is fetched.
    assert all(src.startswith("data:") for src in re.findall(r'src="([^"]+)"', page))


def test_the_page_follows_the_order_of_its_contents(small_run, page) -> None:
    scn = small_run.scenario
    headings = re.findall(r"<h2>([^<]+)</h2>", page)
    assert headings[0] == "Scenario" and headings[1] == "Summary" and headings[-1] == "Tables"
    assert f"<dd>{scn.seed}</dd>" in page and f"<dd>{scn.name}</dd>" in page
    for bureau_id in scn.active_bureaus:
        assert f'<td class="text">{bureau_id}</td>' in page
    for figure in ("roc", "score_distribution", "calibration", "agreement", "coverage"):
        assert f'href="figures/{figure}.png"' in page
    order = [page.index(f'href="figures/{name}.png"') for name in ("roc", "calibration", "linkage")]
    assert order == sorted(order)


def test_every_link_resolves_and_every_table_is_linked(small_run, page) -> None:
    report = small_run.path / "report"
    links = [h for h in HREF.findall(page) if not h.startswith("#")]
    assert links
    for href in links:
        assert not href.startswith("/") and "://" not in href
        assert (report / href).is_file(), href
    linked = set(links)
    for name in TABLES:
        for suffix in ("csv", "parquet", "json"):
            assert f"{name}.{suffix}" in linked
    for table in report.glob("*.parquet"):
        assert table.name in linked


def test_the_same_run_gives_the_same_bytes(small_run, tmp_path: Path) -> None:
    run = _report_copy(small_run.path, tmp_path / "run")
    shutil.rmtree(run / "report" / FIGURES)
    (run / "report" / INDEX).unlink()
    first = write_html_report(run)
    once = {p.name: p.read_bytes() for p in (run / "report" / FIGURES).glob("*.png")}
    assert write_html_report(run).read_bytes() == first.read_bytes()
    twice = {p.name: p.read_bytes() for p in (run / "report" / FIGURES).glob("*.png")}
    assert once == twice
    # Read from the files, as drawn by the stage from the tables it had in hand.
    assert first.read_bytes() == (small_run.path / "report" / INDEX).read_bytes()
    for name, data in once.items():
        assert data == (small_run.path / "report" / FIGURES / name).read_bytes(), name


def test_the_page_sets_the_privacy_ledger_beside_the_ablation(small_run, page) -> None:
    assert "<h2>Data sources: value and exposure</h2>" in page
    assert page.index("<h3>Privacy ledger</h3>") < page.index("<h3>Data-source ablation</h3>")
    ablation = pd.read_parquet(small_run.path / "report" / "ablation.parquet")
    section = page[page.index("<h3>Data-source ablation</h3>") : page.index("<h2>Tables</h2>")]
    # One row per model trained, each with its AUC against the truth as the table holds it.
    assert section.count("<tr>") == len(ablation) + 1
    for row in ablation.itertuples():
        assert f'<td class="text">{row.removed}</td>' in section
        if not pd.isna(row.truth_auc):
            assert f"<td>{row.truth_auc:.3f}</td>" in section


def test_a_missing_table_is_a_note_not_an_error(small_run, tmp_path: Path) -> None:
    run = _report_copy(small_run.path, tmp_path / "run")
    for suffix in ("parquet", "csv", "json"):
        (run / "report" / f"fairness.{suffix}").unlink()
    (run / "report" / "roc.parquet").unlink()
    old = pd.read_parquet(run / "report" / "linkage.parquet").drop(columns="f1")
    old.to_parquet(run / "report" / "linkage.parquet")
    text = write_html_report(run).read_text(encoding="utf-8")
    assert "lacks the fairness table (report/fairness.parquet)" in text
    assert "lacks the roc table (report/roc.parquet)" in text
    assert "lacks the linkage table&#x27;s column(s) f1" in text
    assert 'class="missing"' in text
    figures = {p.stem for p in (run / "report" / FIGURES).glob("*.png")}
    # The figures of the missing tables are gone, the others are there.
    assert figures == FIGURE_NAMES - {
        "roc",
        "linkage",
        "fairness_approval_rate",
        "fairness_auc",
        "fairness_calibration_gap",
    }
    assert len(EMBEDDED.findall(text)) == len(figures)


def test_a_run_without_its_scenario_still_gets_a_page(small_run, tmp_path: Path) -> None:
    run = _report_copy(small_run.path, tmp_path / "run")
    (run / "scenario.resolved.toml").unlink()
    text = write_html_report(run).read_text(encoding="utf-8")
    assert "the run has no scenario.resolved.toml" in text


def test_table_values_are_escaped(small_run, tmp_path: Path) -> None:
    run = _report_copy(small_run.path, tmp_path / "run")
    comparison = pd.read_parquet(run / "report" / "comparison.parquet")
    comparison.loc[0, "model"] = "<b>x</b> & y"
    text = bureau.write_html_report(run, {"comparison": comparison}).read_text(encoding="utf-8")
    assert "&lt;b&gt;x&lt;/b&gt; &amp; y" in text and "<b>x</b>" not in text


def test_the_figure_tables_agree_with_the_judged_files(small_run) -> None:
    report = small_run.path / "report"
    comparison = pd.read_parquet(report / "comparison.parquet").set_index("bureau")
    roc = pd.read_parquet(report / "roc.parquet")
    distribution = pd.read_parquet(report / "score_distribution.parquet")
    judged = judged_samples(small_run.path)
    assert list(judged) == list(comparison.index)
    for name, sample in judged.items():
        assert len(sample) == comparison.loc[name, "truth_rows"]
        bins = distribution[distribution["bureau"] == name]
        assert bins["files"].sum() == len(sample)
        assert bins["defaults"].sum() == sample["default"].sum()
        curve = roc[roc["bureau"] == name]
        if curve.empty:
            assert np.isnan(comparison.loc[name, "truth_auc"])
            continue
        assert curve["tpr"].is_monotonic_increasing
        area = np.trapezoid(curve["tpr"], curve["fpr"])
        assert area == pytest.approx(comparison.loc[name, "truth_auc"], abs=0.01)


def test_the_cli_prints_the_page_and_makes_a_missing_one(small_run, tmp_path: Path) -> None:
    run = _report_copy(small_run.path, tmp_path / "run")
    (run / "report" / INDEX).unlink()
    shown = CliRunner().invoke(app, ["compare", str(run)])
    assert shown.exit_code == 0, shown.output
    assert "nothing to do" in shown.output
    assert str(Path("report") / INDEX) in shown.output.replace("\n", "")
    assert (run / "report" / INDEX).is_file()
