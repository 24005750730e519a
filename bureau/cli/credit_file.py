"""``bureau file``: one consumer's credit report as a bureau holds it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from bureau.bureaus.credit_report import credit_report
from bureau.cli.common import AsJson, console, handle_errors, print_json
from bureau.config.loader import load_scenario
from bureau.errors import BureauError
from bureau.formats.schema import month_labels
from bureau.layout import RunLayout
from bureau.pipeline import check_database
from bureau.rundir import RESOLVED_SCENARIO, read_manifest


@handle_errors
def show(
    run: Annotated[Path, typer.Argument(help="A run directory whose feeds are ingested.")],
    bureau: Annotated[str, typer.Option("--bureau", "-b", help="The bureau whose file to show.")],
    national_id: Annotated[
        str, typer.Option("--national-id", "-n", help="The consumer's identity number.")
    ],
    db: Annotated[
        str | None, typer.Option("--db", help="The database server URL used at ingestion.")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Print a consumer's credit report as one bureau holds it."""
    manifest = read_manifest(run)
    if "ingest" not in manifest.get("stages", {}):
        raise BureauError("no credit files yet: run bureau ingest first", path=run)
    scenario = load_scenario(run / RESOLVED_SCENARIO)
    if bureau not in scenario.active_bureaus:
        known = ", ".join(scenario.active_bureaus)
        raise BureauError(f"no bureau {bureau!r} in this run (bureaus: {known})", field="bureau")
    check_database(run, manifest, db)
    with RunLayout(run, db).bureau_database(bureau, create=False) as engine:
        report = credit_report(engine, national_id).to_dict()
    if as_json:
        print_json({"bureau": bureau, **report})
        return

    def month(m: object) -> str:
        return "-" if m is None else str(month_labels(scenario.start_date, np.array([int(m)]))[0])

    for file in report["files"]:
        console.print(
            f"[bold]{scenario.bureaus[bureau].name}[/bold]  file {file['consumer_id']}: "
            f"{file['name']}  {file['national_id'] or '(no ID)'}  {file['phone'] or '(no phone)'}"
        )

        def yuan(fen: int) -> str:
            return f"{fen / 100:,.0f}"

        sections = (
            (
                "tradelines",
                (
                    *("furnisher", "product", "opened", "limit/amount", "balance", "status"),
                    *("as of", "last 24 months"),
                ),
                [
                    (
                        *(t["furnisher"], t["product"], month(t["opened"]), yuan(t["amount"])),
                        *(yuan(t["balance"]), t["status"], month(t["last_month"])),
                        t["payment_history"],
                    )
                    for t in file["tradelines"]
                ],
            ),
            (
                "inquiries",
                ("month", "furnisher", "product", "decision"),
                [
                    (
                        *(month(q["month"]), q["furnisher"], q["product"]),
                        "approved" if q["approved"] else "declined",
                    )
                    for q in file["inquiries"]
                ],
            ),
            (
                "public records",
                ("kind", "filed", "ended", "amount"),
                [
                    (r["kind"], month(r["filed"]), month(r["ended"]), yuan(r["amount"]))
                    for r in file["public_records"]
                ],
            ),
        )
        for title, columns, rows in sections:
            if title != "tradelines" and not rows:
                continue
            table = Table(*columns, title=title, title_justify="left")
            for row in rows:
                table.add_row(*row)
            console.print(table)
        for p in file["platform_data"]:
            console.print(
                f"platform data from {p['furnisher']}: {p['months']} months, "
                f"{month(p['first_month'])} to {month(p['last_month'])}"
            )
