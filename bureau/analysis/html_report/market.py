"""The market's section of the report page: lending, market shares, access and selection."""

from __future__ import annotations

from bureau.analysis.html_report.page import Page, html_table, paragraph
from bureau.analysis.market import pooled_lending

#: The market's tables, drawn by this section.
MARKET_TABLES = ("lending", "market_share", "credit_access", "selection_bias")


def market_section(page: Page) -> str:
    """The page's market section."""
    intro = paragraph(
        "From the market's first month lenders decide with the scores they buy, round after "
        "round (round 0 is the time before, when they decided on their own). Default rates "
        "are the truth of each loan: the approved loans' own, and for the declined the loans "
        "they would have opened; a round whose loans are not yet 12 months old when the "
        "window ends has none."
    )
    parts = [intro]

    def lending() -> str:
        return html_table(
            pooled_lending(page.tables["lending"], "round").reset_index(),
            (
                ("round", "round", "int"),
                ("applications", "applications", "int"),
                ("approval_rate", "approved", "pct"),
                ("default_rate_approved", "default rate, approved", "pct"),
                (
                    "counterfactual_default_rate_declined",
                    "default rate, declined (counterfactual)",
                    "pct",
                ),
                ("margin", "margin (yuan)", "int"),
            ),
        )

    columns = (
        "round",
        "applications",
        "approvals",
        "approved_known",
        "default_rate_approved",
        "counterfactual_default_rate_declined",
        "margin",
    )
    parts.append(page.block({"lending": columns}, lending, "Lending"))

    def shares() -> str:
        drawn = page.figures.market_share_figure(page.tables["market_share"])
        return page.figure(
            "market_share", drawn, "Each bureau's share of the inquiries, and its subscribers."
        )

    parts.append(
        page.block({"market_share": ("round", "bureau", "share", "subscribers")}, shares, "Shares")
    )
    for metric, title in (("approval_rate", "Approval"), ("default_rate", "Default")):

        def access(metric: str = metric, title: str = title) -> str:
            drawn = page.figures.access_figure(page.tables["credit_access"], metric)
            return page.figure(f"access_{metric}", drawn, f"{title} rate by group and round.")

        needs = ("round", "attribute", "group", metric, f"{metric}_low", f"{metric}_high")
        parts.append(page.block({"credit_access": needs}, access, f"Access to credit: {title}"))

    def selection() -> str:
        return html_table(
            page.tables["selection_bias"],
            (
                ("round", "round", "int"),
                ("bureau", "bureau", "text"),
                ("scored", "scored", "int"),
                ("auc_through_the_door", "AUC, every applicant", "f3"),
                ("booked", "booked", "int"),
                ("auc_booked", "AUC, booked only", "f3"),
                ("auc_reported", "AUC it reported", "f3"),
            ),
        )

    needs = ("round", "bureau", "auc_through_the_door", "auc_booked", "auc_reported")
    parts.append(page.block({"selection_bias": needs}, selection, "Selection bias"))
    return "\n".join(parts)
