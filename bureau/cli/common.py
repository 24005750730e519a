"""What every command shares: options, error handling, progress bars and output."""

from __future__ import annotations

import copy
import errno
import functools
import json
import logging
import math
import os
import re
import sys
import tempfile
import time
import traceback
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import typer.models
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bureau.aggregator.linkage import use_linkage_backend
from bureau.config import load_scenario, parse_override
from bureau.config.scenario import Scenario
from bureau.errors import BureauError
from bureau.parallel import use_scheduler

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
Scheduler = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        envvar="BUREAU_SCHEDULER",
        help="Send the chunk work to a Dask cluster: its scheduler's address, or 'local' to "
        "start one of --workers processes here (results do not depend on it).",
    ),
]
LinkageBackend = Annotated[
    str | None,
    typer.Option(
        "--linkage-backend",
        envvar="BUREAU_LINKAGE_BACKEND",
        help="Where Splink links identities: duckdb (here, the default) or spark (needs "
        "bureau[spark] and Java; BUREAU_SPARK_MASTER names the cluster). Links do not depend "
        "on it.",
    ),
]
Seed = Annotated[int | None, typer.Option("--seed", min=0, help="Override the scenario's seed.")]
Force = Annotated[bool, typer.Option("--force", help="Replace the run directory if it exists.")]
Settings = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a scenario key, e.g. --set population.persons=2000."),
]


#: Library arguments an error can name as its ``field``, and the command parameter each
#: comes in by where the two names differ: the command line shows the option instead
#: (``db_url`` -> ``--db``). A field may name a key within the argument after a space
#: (``overrides population.persons`` -> ``--set population.persons``); arguments named as
#: the command's parameters need no entry (a sweep's ``settings`` -> ``--set``, ``seeds`` ->
#: ``--seeds``).
ARGUMENTS = {
    "bureaus": "bureau",
    "db_url": "db",
    "output_path": "output",
    # load_scenario's overrides come in by --set KEY=VALUE (the command's ``settings``).
    "overrides": "settings",
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
        An error's ``field``: a library argument, optionally followed by a space and a key
        within it (``overrides population.persons``).

    Returns
    -------
    str or None
        The option (``--as-of``, ``--set population.persons``), the argument (``RUN``), or
        ``field`` unchanged where the command has no parameter for it.
    """
    if field is None or field.startswith("-"):
        return field
    argument, space, key = field.partition(" ")
    shown = _parameters(command).get(ARGUMENTS.get(argument, argument))
    if shown is None:
        return field
    return f"{shown}{space}{key}"


def _parameters(command: Callable[..., Any]) -> dict[str, str]:
    """A command's options and arguments by parameter name (``db`` -> ``--db``, ``run`` -> RUN)."""
    try:
        hints = typing.get_type_hints(command, include_extras=True)
    except Exception:  # an annotation that cannot be resolved only costs the mapping
        return {}
    shown = {}
    for name, hint in hints.items():
        for info in getattr(hint, "__metadata__", ()):
            if isinstance(info, typer.models.ArgumentInfo):
                shown[name] = name.upper()
            elif isinstance(info, typer.models.OptionInfo):
                # In Annotated form typer keeps the first declaration where the default
                # would be.
                given = [info.default, *(info.param_decls or ())]
                flags = [d for d in given if isinstance(d, str) and d.startswith("--")]
                shown[name] = max(flags, key=len) if flags else "--" + name.replace("_", "-")
    return shown


def handle_errors(command: F) -> F:
    """Turn library errors into one line on stderr and an exit status.

    Bad input or a fault of the environment (a :class:`BureauError`, its field shown as the
    command's option where it has one; a file that cannot be written: no permission, a
    read-only or full disk) exits with 2, and so does a usage error raised by the command (a
    wrong combination of options); an interruption with 130;
    anything else is a bug, reported in one line with exit status 1 and the path of a log
    file holding its traceback. No line shows a statement's parameters or a file's content:
    those are consumers' names, ID numbers and phones.

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
            # Here, so that a scheduler that cannot be reached is an error line like any other.
            with (
                use_scheduler(kwargs.get("scheduler"), kwargs.get("workers") or 1),
                use_linkage_backend(kwargs.get("linkage_backend")),
            ):
                return command(*args, **kwargs)
        except BureauError as exc:
            _error_line(f"error: {_render(exc, command)}")
            raise typer.Exit(2) from None
        except UsageError as exc:
            _error_line(f"error: {public_text(str(exc))}")
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err_console.print("interrupted", markup=False)
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort):
            raise
        except OSError as exc:
            if exc.errno not in ENVIRONMENT_ERRORS:
                _internal(exc)
            where = f"{public_text(str(exc.filename))}: " if exc.filename else ""
            _error_line(f"error: {where}{exc.strerror or type(exc).__name__}")
            raise typer.Exit(2) from None
        except Exception as exc:
            _internal(exc)

    return wrapper  # type: ignore[return-value]


#: Errors of the machine rather than of the code: no permission, no space, a read-only disk.
ENVIRONMENT_ERRORS = frozenset(
    {
        errno.EACCES,
        errno.EPERM,
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EROFS,
        errno.ENAMETOOLONG,
        errno.EMFILE,
        errno.ENFILE,
        errno.ENOTDIR,
        errno.EISDIR,
    }
)


def _error_line(line: str) -> None:
    err_console.print(line, markup=False, highlight=False, soft_wrap=True)


def _internal(exc: BaseException) -> None:
    """Report a bug in one line, its traceback in a log file; exit with status 1."""
    log = _write_log(exc)
    where = f"; details in {log}" if log is not None else ""
    _error_line(f"internal error: {type(exc).__name__} (a bug in bureau{where})")
    raise typer.Exit(1) from None


def _write_log(exc: BaseException) -> Path | None:
    """Write an internal error's traceback to a private log file, and return its path."""
    logger.debug("unexpected error", exc_info=exc)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    name = f"error-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    text = "".join(traceback.format_exception(exc))
    for folder in (Path(base) / "bureau" / "logs", Path(tempfile.gettempdir()) / "bureau-logs"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            # The traceback may quote a consumer's data: readable by its owner only.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            return path
        except OSError:
            continue
    return None


#: A run's hidden staging directory (``.NAME.PID.XXXX.partial``), shown as the run's name.
_STAGING = re.compile(r"\.([^/\s]+?)\.\d+\.[A-Za-z0-9_]+\.partial")
#: A numpy scalar's repr, shown as its value.
_NUMPY = re.compile(r"np\.(?:u?int|float|bool|str)_?\d*\(([^()]*)\)")


def public_text(text: str) -> str:
    """A message as a user should read it: no staging paths, no numpy reprs.

    Parameters
    ----------
    text
        The message.

    Returns
    -------
    str
        The message with every staging directory named as the run it becomes, and every
        numpy scalar written as its value.
    """
    return _NUMPY.sub(r"\1", _STAGING.sub(r"\1", text))


def _render(exc: BureauError, command: Callable[..., Any]) -> str:
    """A library error in the words of the command that met it: its options, one line."""
    # A copy, so that a caller keeping the error sees it as the library raised it; each
    # error class keeps its own way of writing itself (a model file counts lines, not rows).
    shown = copy.copy(exc)
    shown.field = option_for(command, exc.field)
    return " ".join(public_text(str(shown)).split())


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


def cell_text(value: object, form: str) -> str:
    """A number for a table cell, formatted; ``-`` where it is missing.

    Parameters
    ----------
    value
        The number (None or NaN when missing).
    form
        A format string (``"{:.1%}"``).

    Returns
    -------
    str
        The text.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return form.format(value)
