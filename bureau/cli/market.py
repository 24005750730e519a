"""``bureau market``: the market's rounds, and what the lenders and the bureaus made of them."""

from __future__ import annotations

import json

import pandas as pd
from rich.table import Table

from bureau.cli.common import (
    AsJson,
    Quiet,
    Scheduler,
    Workers,
    cell_text,
    console,
    handle_errors,
    print_json,
    progress_bars,
    relative,
)
from bureau.cli.stages import DEFAULT_WORKERS, DbOption, RunArg, stage_command
from bureau.errors import RunDirectoryError
from bureau.layout import RunLayout
from bureau.pipeline.outputs import records_json

#: The market's report tables, as ``--json`` prints them.
MARKET_TABLES = ("lending", "market_share", "selection_bias")


def _read(run: RunLayout, name: str) -> pd.DataFrame:
    path = run.report_file(name)
    if not path.exists():
        raise RunDirectoryError("missing: run bureau market on this run", path=path)
    return pd.read_parquet(path)


@handle_errors
def market(
    run: RunArg,
    db: DbOption = None,
    workers: Workers = DEFAULT_WORKERS,
    scheduler: Scheduler = None,
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Run the market's rounds: lenders buy scores and decide, and the world goes on."""
    with progress_bars(quiet or as_json) as progress:
        outcome = stage_command(run, "market", workers=workers, progress=progress, db_url=db)
    # Without a market (market.enabled = false) the tables hold the lenders' own decisions
    # over the same months, and no bureau sells a score.
    layout = RunLayout(run)
    tables = {name: _read(layout, name) for name in MARKET_TABLES}
    if as_json:
        print_json(
            {
                "run": relative(run),
                "skipped": outcome.skipped,
                "seconds": outcome.seconds,
                **{name: json.loads(records_json(frame)) for name, frame in tables.items()},
            }
        )
        return
    if not quiet:
        lending = tables["lending"].groupby("round")[["applications", "approvals"]].sum()
        rates = tables["lending"].assign(
            bad=tables["lending"]["default_rate_approved"] * tables["lending"]["approvals"]
        )
        bad = rates.groupby("round")["bad"].sum(min_count=1)
        shown = Table(title="lending by round (round 0: before the market)")
        for column in ("round", "applications", "approval rate", "default rate, approved"):
            shown.add_column(column, justify="right")
        for start, row in lending.iterrows():
            shown.add_row(
                str(start),
                f"{int(row['applications']):,}",
                cell_text(row["approvals"] / max(row["applications"], 1), "{:.1%}"),
                cell_text(bad[start] / max(row["approvals"], 1), "{:.1%}"),
            )
        console.print(shown)
        shares = tables["market_share"].pivot_table(
            index="bureau", columns="round", values="share", aggfunc="first"
        )
        table = Table(title="share of inquiries by round")
        table.add_column("bureau")
        for start in shares.columns:
            table.add_column(str(start), justify="right")
        for bureau, row in shares.iterrows():
            table.add_row(str(bureau), *(cell_text(v, "{:.1%}") for v in row.to_numpy()))
        console.print(table)
    console.print(
        f"market in {relative(run)}/market/, its tables in {relative(run)}/report/ "
        f"({outcome.seconds:.1f} s)",
        highlight=False,
        soft_wrap=True,
    )
