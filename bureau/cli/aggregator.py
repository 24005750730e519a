"""The aggregator's commands: ``submit``, ``reconcile``, ``consolidated`` and ``disputes``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer
from rich.table import Table

from bureau.aggregator.consolidated import consolidated_file
from bureau.cli.common import (
    AsJson,
    LinkageBackend,
    Quiet,
    Scheduler,
    Workers,
    console,
    err_console,
    handle_errors,
    print_json,
    progress_bars,
    relative,
)
from bureau.cli.stages import DEFAULT_WORKERS, DbOption, RunArg, stage_command
from bureau.config.loader import load_scenario
from bureau.errors import BureauError, RunDirectoryError
from bureau.formats.national_id import check_national_id
from bureau.formats.schema import month_labels
from bureau.layout import RunLayout
from bureau.pipeline import check_database, month_of
from bureau.rundir import RESOLVED_SCENARIO, read_manifest

MethodOption = Annotated[
    str | None,
    typer.Option(
        "--method",
        help="Linkage whose person keys reconciliation uses: splink or exact (both are "
        "measured). Default: the scenario's.",
    ),
]


@handle_errors
def submit(
    run: RunArg,
    db: DbOption = None,
    workers: Workers = DEFAULT_WORKERS,
    scheduler: Scheduler = None,
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Send every bureau's submission at each scoring snapshot to the aggregator."""
    with progress_bars(quiet or as_json) as progress:
        outcome = stage_command(run, "submit", workers=workers, progress=progress, db_url=db)
    if as_json:
        print_json({"run": relative(run), "skipped": outcome.skipped, "rows": outcome.rows})
        return
    if outcome.skipped:
        console.print("submissions already made; nothing to do", highlight=False)
        return
    if not quiet:
        table = Table(title="submissions")
        for column in ("bureau", "month", "identities", "tradelines", "records", "scores"):
            table.add_column(column, justify="left" if column == "bureau" else "right")
        table.add_column("set aside", justify="right")
        keys = sorted({(k.split(".")[0], int(k.split(".")[1])) for k in outcome.rows})
        for bureau, snapshot in keys:
            row = [outcome.rows.get(f"{bureau}.{snapshot}.{p}", 0) for p in _PARTS]
            table.add_row(bureau, str(snapshot), *(f"{n:,}" for n in row))
        console.print(table)
    console.print(f"submitted ({outcome.seconds:.1f} s)", highlight=False)


_PARTS = ("identities", "tradelines", "public_records", "scores", "rejected")


@handle_errors
def reconcile(
    run: RunArg,
    method: MethodOption = None,
    db: DbOption = None,
    workers: Workers = DEFAULT_WORKERS,
    scheduler: Scheduler = None,
    linkage_backend: LinkageBackend = None,
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Link the bureaus' files into persons, consolidate their tradelines, fit the consensus."""
    with progress_bars(quiet or as_json) as progress:
        outcome = stage_command(
            run, "reconcile", workers=workers, progress=progress, db_url=db, method=method
        )
    layout = RunLayout(run)
    linkage = _read_csv(layout.report_file("linkage", "csv"))
    consensus = _read_csv(layout.report_file("consensus", "csv"))
    summary = {
        "run": relative(run),
        "skipped": outcome.skipped,
        "seconds": outcome.seconds,
        "method": read_manifest(run)["stages"]["reconcile"].get("method"),
        "rows": outcome.rows,
        "linkage": linkage,
        "consensus": consensus,
    }
    if as_json:
        print_json(summary)
        return
    if outcome.rows.get("missing_submissions"):
        err_console.print(
            f"warning: {outcome.rows['missing_submissions']} expected submissions are missing; "
            "reconciled without them",
            highlight=False,
        )
    if not quiet:
        table = Table(title="identity linkage against the truth")
        columns = ("method", "files", "persons", "links", "precision", "recall", "F1")
        for column in (*columns, "split", "merged"):
            table.add_column(column, justify="left" if column == "method" else "right")
        for row in linkage:
            links = outcome.rows.get(f"linkage.{row['method']}.links", 0)
            table.add_row(
                str(row["method"]),
                f"{int(row['files']):,}",
                f"{int(row['keys']):,}",
                f"{int(links):,}",
                f"{float(row['precision']):.4f}",
                f"{float(row['recall']):.4f}",
                f"{float(row['f1']):.4f}",
                f"{int(row['persons_split']):,}",
                f"{int(row['keys_merged']):,}",
            )
        console.print(table)
        months = [k.split(".")[0] for k in outcome.rows if k.endswith(".discrepancies")]
        table = Table(title="reconciliation")
        for column in ("month", "accounts", "public records", "discrepancies"):
            table.add_column(column, justify="right")
        for month in months:
            table.add_row(
                month,
                *(
                    f"{outcome.rows[f'{month}.{part}']:,}"
                    for part in ("tradelines", "public_records", "discrepancies")
                ),
            )
        console.print(table)
        table = Table(title="out-of-time AUC against the truth")
        table.add_column("view")
        table.add_column("AUC", justify="right")
        table.add_column("rows", justify="right")
        for row in consensus:
            table.add_row(str(row["view"]), f"{float(row['auc']):.3f}", f"{int(row['rows']):,}")
        console.print(table)
    state = "already reconciled; nothing to do" if outcome.skipped else "reconciled"
    console.print(
        f"{state} with {summary['method']} linkage; reports in {relative(run)}/report/ "
        f"({outcome.seconds:.1f} s)",
        highlight=False,
        soft_wrap=True,
    )


def _read_csv(path: Path) -> list[dict]:
    if not path.exists():
        return []
    frame = pd.read_csv(path)
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


@handle_errors
def consolidated(
    run: RunArg,
    national_id: Annotated[
        str, typer.Option("--national-id", "-n", help="The person's identity number.")
    ],
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="The snapshot month (YYYY-MM); the latest by default."),
    ] = None,
    db: DbOption = None,
    as_json: AsJson = False,
) -> None:
    """Print a person's consolidated file, with the bureau and rule behind every field."""
    manifest = read_manifest(run)
    scenario = load_scenario(run / RESOLVED_SCENARIO)
    month = None if as_of is None else month_of(scenario, as_of)
    if month is not None and month not in scenario.snapshots:
        labels = month_labels(scenario.start_date, np.array(scenario.snapshots))
        raise BureauError(
            f"{as_of} is not a snapshot the bureaus submit at (snapshots: "
            f"{', '.join(str(label) for label in labels)})",
            field="as_of",
        )
    # Checked before the aggregator's database is opened.
    national_id = check_national_id(national_id)
    if "submit" not in manifest.get("stages", {}):
        raise RunDirectoryError(
            "nothing submitted to the aggregator yet: run bureau submit", path=run
        )
    check_database(run, manifest, db)
    with RunLayout(run, db).aggregator_database(create=False) as engine:
        result = consolidated_file(engine, national_id, month, start=scenario.start_date).to_dict()
    if as_json:
        print_json(result)
        return

    def label(m: object) -> str:
        if m is None or int(m) < 0:
            return "-"
        return str(month_labels(scenario.start_date, np.array([int(m)]))[0])

    def yuan(fen: object) -> str:
        return f"{int(fen) / 100:,.0f}"

    console.print(
        f"[bold]Consolidated file[/bold] as of {label(result['snapshot'])} "
        f"({result['method']} linkage), identity number {result['national_id']}"
    )
    for person in result["persons"]:
        consensus = person["consensus_pd"]
        console.print(
            f"\nperson {person['person_key']}: consensus PD "
            f"{'-' if consensus is None else f'{consensus:.2%}'}",
            highlight=False,
        )
        files = Table("bureau", "file", "name", "ID number", "phone", "score", "PD", title="files")
        scores = {(s["bureau"], s["consumer_id"]): s for s in person["scores"]}
        for f in person["files"]:
            s = scores.get((f["bureau"], f["consumer_id"]))
            files.add_row(
                f["bureau"],
                str(f["consumer_id"]),
                f["name"] or "-",
                f["national_id"] or "-",
                f["phone"] or "-",
                "-" if s is None else str(s["score"]),
                "-" if s is None else f"{s['pd']:.2%}",
            )
        console.print(files)
        lines = Table(
            *("furnisher", "product", "opened", "amount", "balance", "status", "as of"),
            *("reported by", "last 24 months"),
            title="tradelines (value [bureau, rule] where bureaus disagreed)",
            title_justify="left",
        )
        for t in person["tradelines"]:
            fields = t["fields"]

            def cell(name: str, text: str, fields: dict = fields) -> str:
                rule = fields[name]["rule"]
                if rule in ("agreed", "single"):
                    return text
                return f"{text} [{fields[name]['bureau']}, {rule}]"

            lines.add_row(
                t["furnisher"],
                fields["product"]["value"],
                label(fields["opened"]["value"]),
                yuan(fields["amount"]["value"]),
                cell("balance", yuan(fields["balance"]["value"])),
                cell("status", str(fields["status"]["value"])),
                cell("last_month", label(fields["last_month"]["value"])),
                "+".join(t["bureaus"]),
                t["history"],
            )
        console.print(lines)
        if person["public_records"]:
            records = Table(
                "kind", "filed", "ended", "amount", "reported by", title="public records"
            )
            for r in person["public_records"]:
                fields = r["fields"]
                records.add_row(
                    fields["kind"]["value"],
                    label(fields["filed"]["value"]),
                    label(fields["ended"]["value"]),
                    yuan(fields["amount"]["value"]),
                    "+".join(r["bureaus"]),
                )
            console.print(records)
        if person["discrepancies"]:
            table = Table("item", "field", "kind", "values", "kept", "rule", title="discrepancies")
            for d in person["discrepancies"]:
                table.add_row(
                    f"{d['furnisher']} {d['ref']}",
                    d["field"],
                    d["kind"],
                    d["values"],
                    d["resolved"],
                    d["rule"],
                )
            console.print(table)


@handle_errors
def disputes(
    run: RunArg,
    db: DbOption = None,
    workers: Workers = DEFAULT_WORKERS,
    scheduler: Scheduler = None,
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Print dispute statistics: errors disputed and corrected, and what corrections changed."""
    with progress_bars(quiet or as_json) as progress:
        outcome = stage_command(run, "disputes", workers=workers, progress=progress, db_url=db)
    layout = RunLayout(run)
    table = _read_csv(layout.report_file("disputes", "csv"))
    severity = _read_csv(layout.report_file("disputes_by_severity", "csv"))
    if as_json:
        print_json(
            {
                "run": relative(run),
                "skipped": outcome.skipped,
                "bureaus": table,
                "by_severity": severity,
            }
        )
        return
    shown = Table(title="disputes (errors on file at the development snapshot)")
    columns = (
        ("bureau", "bureau", "{}"),
        ("errors", "errors", "{:,.0f}"),
        ("disputed", "disputed_share", "{:.0%}"),
        ("corrected", "corrected_share", "{:.0%}"),
        ("rejected", "rejected", "{:,.0f}"),
        ("months to fix", "months_to_correction", "{:.1f}"),
        ("still on file", "still_present_share", "{:.0%}"),
        ("rescored", "consumers_rescored", "{:,.0f}"),
        ("score change", "mean_score_change", "{:+.1f}"),
    )
    for title, _, _ in columns:
        shown.add_column(title, justify="left" if title == "bureau" else "right")
    for row in table:
        shown.add_row(
            *("-" if row[key] is None else form.format(row[key]) for _, key, form in columns)
        )
    console.print(shown)
    if severity:
        frame = (
            pd.DataFrame(severity)
            .groupby("severity", sort=False)[["errors", "disputed", "corrected"]]
            .sum()
        )
        by = Table("severity", "errors", "disputed", "corrected", title="all bureaus, by severity")
        for name, row in frame.iterrows():
            share = f" ({row['disputed'] / row['errors']:.0%})" if row["errors"] else ""
            by.add_row(
                str(name),
                f"{int(row['errors']):,}",
                f"{int(row['disputed']):,}{share}",
                f"{int(row['corrected']):,}",
            )
        console.print(by)
    console.print(f"statistics in {relative(run)}/report/disputes.csv", highlight=False)
