"""The report's sections on the scenario and the scores compared.

The scenario, a summary table, discrimination and calibration, agreement between bureaus,
coverage, and fairness by group.
"""

from __future__ import annotations

import datetime as dt
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

import pandas as pd

from bureau.analysis.agreement import TIER_BANDS
from bureau.analysis.fairness import APPROVAL_PD, RESAMPLES

if TYPE_CHECKING:
    pass
from bureau.analysis.html_report.page import Page, esc, html_table, paragraph


def _month(start: dt.date, month: int) -> str:
    year, index = divmod(start.year * 12 + start.month - 1 + month, 12)
    return f"{year}-{index + 1:02d}"


def scenario_section(page: Page) -> str:
    """The page's scenario section."""
    scn = page.scenario
    if isinstance(scn, str):
        return f'<p class="missing">{esc(scn)}</p>'
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
    listed = "\n".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items)
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
    table = html_table(
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


def summary_section(page: Page) -> str:
    """The page's summary section."""

    def draw() -> str:
        text = paragraph(
            "Per bureau and for the aggregator's consensus, at the evaluation snapshot: the "
            "shares of adults scored, scored on a thin file (fewer than 2 tradelines) and "
            "invisible; AUC and KS against the true 12-month default of the person behind "
            "each file, and AUC against the defaults the bureau itself observed; the Brier "
            "score against the truth; and the share of persons visible with a material error "
            "on file."
        )
        return text + "\n" + html_table(page.tables["comparison"], _SUMMARY_COLUMNS)

    return page.block({"comparison": [c for c, _, _ in _SUMMARY_COLUMNS]}, draw)


def discrimination_section(page: Page) -> str:
    """The page's discrimination section."""

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


def agreement_section(page: Page) -> str:
    """The page's agreement section."""
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
        return paragraph(
            "Persons scored by three or more bureaus: the range of their scores on the common "
            "scale (highest minus lowest), overall and by number of bureaus."
        ) + html_table(
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


def coverage_section(page: Page) -> str:
    """The page's coverage section."""

    def draw() -> str:
        drawn = page.figures.coverage_figure(page.tables["comparison"])
        return page.figure(
            "coverage",
            drawn,
            "Shares of the world's adults each score reaches: scored on a file of 2 or more "
            "tradelines, scored on a thin file, and invisible.",
        )

    return page.block({"comparison": ("bureau", "coverage", "thin_file", "invisible")}, draw)


def fairness_section(page: Page) -> str:
    """The page's fairness section."""
    intro = paragraph(
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
