"""The ``bureau`` command line."""

from __future__ import annotations

import signal
from typing import Annotated

import typer

from bureau import __version__
from bureau.cli import (
    aggregator,
    calibrate,
    compare,
    credit_file,
    market,
    scoring,
    simulate,
    stages,
    sweep,
)

app = typer.Typer(
    name="bureau",
    help="A research simulator of a commercial consumer credit reporting market.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.command("run")(simulate.run)
app.command("simulate")(simulate.simulate)
app.command("furnish")(stages.furnish)
app.command("ingest")(stages.ingest)
app.command("market")(market.market)
app.command("train")(scoring.train)
app.command("score")(scoring.score)
app.command("file")(credit_file.show)
app.command("submit")(aggregator.submit)
app.command("reconcile")(aggregator.reconcile)
app.command("consolidated")(aggregator.consolidated)
app.command("disputes")(aggregator.disputes)
app.command("compare")(compare.compare)
app.command("sweep")(sweep.sweep)
app.command("calibrate")(calibrate.calibrate)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"bureau {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """A research simulator of a commercial consumer credit reporting market."""


def _terminate(signum: int, _frame: object) -> None:
    # Unwind like Ctrl-C so that staged output is removed before the process ends.
    raise KeyboardInterrupt


def main() -> None:
    """Entry point of the ``bureau`` script."""
    signal.signal(signal.SIGTERM, _terminate)
    app()
