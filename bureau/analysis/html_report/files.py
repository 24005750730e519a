"""The report's sections on the files behind the scores, and the links to every table.

Linkage and what the aggregator gains, file errors and disputes, the privacy ledger beside
the data-source ablation, and every file of the report.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from bureau.analysis.html_report.page import Page, esc, html_table, paragraph


def aggregator_section(page: Page) -> str:
    """The page's aggregator section."""

    def linkage() -> str:
        drawn = page.figures.linkage_figure(page.tables["linkage"])
        table = html_table(
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


def errors_section(page: Page) -> str:
    """The page's errors section."""

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
        table = html_table(
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
        table = html_table(
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
            paragraph(
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


def privacy_section(page: Page) -> str:
    """The page's privacy section."""

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
        table = html_table(
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
            paragraph(
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


def tables_section(page: Page) -> str:
    """The page's tables section."""
    formats: dict[str, list[PurePosixPath]] = {}
    for path in sorted(PurePosixPath(name) for name in page.files):
        formats.setdefault(path.stem, []).append(path)
    if not formats:
        return '<p class="missing">No report tables in this run.</p>'
    items = []
    for stem, paths in formats.items():
        links = " · ".join(
            f'<a href="{esc(p.name)}">{esc(p.suffix.lstrip(".").upper())}</a>' for p in paths
        )
        items.append(f"<li><code>{esc(stem)}</code>: {links}</li>")
    return (
        paragraph("Every file of the report, beside this page (CSV, Parquet, JSON).")
        + "\n<ul>\n"
        + "\n".join(items)
        + "\n</ul>"
    )
