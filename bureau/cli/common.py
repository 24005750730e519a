"""What every command shares: options, error handling, progress bars and output."""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import typer.models
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bureau.config import load_scenario, parse_override
from bureau.config.scenario import Scenario
from bureau.errors import BureauError

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)
logger = logging.getLogger("bureau")

F = TypeVar("F", bound=Callable[..., Any])


def default_workers() -> int:
    """The CPUs this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or tables.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
Workers = Annotated[
    int,
    typer.Option("--workers", "-w", min=1, help="Worker processes (results do not depend on it)."),
]
Seed = Annotated[int | None, typer.Option("--seed", min=0, help="Override the scenario's seed.")]
Force = Annotated[bool, typer.Option("--force", help="Replace the run directory if it exists.")]
Settings = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a scenario key, e.g. --set population.persons=2000."),
]


#: Library arguments an error can name as its ``field``, and the command parameter each
#: comes in by: the command line shows the option instead (``as_of`` -> ``--as-of``).
ARGUMENTS = {
    "as_of": "as_of",
    "bureau": "bureau",
    "bureaus": "bureau",
    "db_url": "db",
    "input_path": "input_path",
    "national_id": "national_id",
    "output_path": "output",
}


class UsageError(Exception):
    """Options of a command that do not go together (shown as one line, exit status 2)."""


def option_for(command: Callable[..., Any], field: str | None) -> str | None:
    """The option of a command that carries a library argument, if the command has one.

    Parameters
    ----------
    command
        The command's implementation (its annotations declare its options).
    field
        An error's ``field``.

    Returns
    -------
    str or None
        The option (``--as-of``), the argument (``RUN``), or ``field`` unchanged.
    """
    if field not in ARGUMENTS:
        return field
    name = ARGUMENTS[field]
    hint = typing.get_type_hints(command, include_extras=True).get(name)
    for info in getattr(hint, "__metadata__", ()):
        if isinstance(info, typer.models.OptionInfo):
            flags = [d for d in info.param_decls or () if d.startswith("--")]
            return max(flags, key=len) if flags else "--" + name.replace("_", "-")
        if isinstance(info, typer.models.ArgumentInfo):
            return name.upper()
    return field


def handle_errors(command: F) -> F:
    """Turn library errors into one line on stderr and an exit status.

    Bad input (a :class:`BureauError`) exits with 2, its field shown as the command's option
    where it has one; so does a usage error raised by the command (a wrong combination of
    options); an interruption with 130; anything else is a bug, reported in one line with
    exit status 1 (the traceback goes to the log at debug level).

    Parameters
    ----------
    command
        The command's implementation.

    Returns
    -------
    callable
        The same command, with its errors rendered.
    """

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except BureauError as exc:
            exc.field = option_for(command, exc.field)
            err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except UsageError as exc:
            err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err_console.print("interrupted", markup=False)
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:
            logger.debug("unexpected error", exc_info=True)
            err_console.print(
                f"internal error: {type(exc).__name__}: {exc}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def scenario_from_cli(source: str, seed: int | None, settings: list[str] | None) -> Scenario:
    """Load the scenario named on the command line, with ``--seed`` and ``--set`` applied.

    Parameters
    ----------
    source
        A TOML file or a bundled scenario's name.
    seed
        The ``--seed`` value, if given.
    settings
        The ``--set KEY=VALUE`` values, if given.

    Returns
    -------
    Scenario
        The validated scenario.
    """
    overrides = dict(parse_override(s) for s in settings or [])
    if seed is not None:
        overrides["seed"] = seed
    return load_scenario(source, overrides)


@contextmanager
def progress_bars(quiet: bool) -> Iterator[Callable[[str, int, int], None]]:
    """Yield a ``progress(stage, done, total)`` callback drawing one bar per stage.

    Parameters
    ----------
    quiet
        Draw nothing.

    Yields
    ------
    callable
        The callback; bars appear only on a terminal and never when ``quiet``.
    """
    enabled = not quiet and console.is_terminal
    bars = Progress(
        TextColumn("[bold]{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not enabled,
        transient=False,
    )
    tasks: dict[str, Any] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bars.add_task(stage, total=total)
        bars.update(tasks[stage], completed=done, total=total)

    with bars:
        yield update


def print_json(payload: Any) -> None:
    """Print a JSON document to stdout, unstyled.

    Parameters
    ----------
    payload
        Anything JSON can hold; other values are printed as their ``str``.
    """
    sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")


def relative(path: Path) -> str:
    """A path as the user would type it.

    Parameters
    ----------
    path
        Any path.

    Returns
    -------
    str
        The path relative to the working directory when inside it, else as given.
    """
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
