"""Typed errors raised by the library.

Every error a user can cause (a bad scenario, a bad input file, a run directory in the way)
is a :class:`BureauError`. The message names the file and, where there is one, the row and
the field, so the command line can print it as one line and exit with status 2.
"""

from __future__ import annotations

from pathlib import Path


class BureauError(Exception):
    """Base class of every error caused by the user's input or environment.

    Parameters
    ----------
    message
        What is wrong, in one sentence.
    path
        The file or directory concerned, if any.
    row
        The 1-based row or line number concerned, if any.
    field
        The column, key or field concerned, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        path: Path | str | None = None,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.path = Path(path) if path is not None else None
        self.row = row
        self.field = field
        super().__init__(str(self))

    #: What ``row`` counts: rows of a table, or lines of a text file.
    row_label = "row"

    def __str__(self) -> str:
        where = []
        if self.path is not None:
            where.append(str(self.path))
        if self.row is not None:
            where.append(f"{self.row_label} {self.row}")
        if self.field is not None:
            where.append(self.field)
        return f"{': '.join(where)}: {self.message}" if where else self.message


class ScenarioError(BureauError):
    """A scenario file is missing, is not valid TOML, or fails validation."""


class RunDirectoryError(BureauError):
    """A run directory is missing, incomplete, or in the way of a new run."""


class TrainingError(BureauError):
    """A bureau cannot train: too few consumers, no defaults among them, or nothing to learn."""


class ModelError(BureauError):
    """A model directory is missing, incomplete, corrupted, or does not match its card.

    ``row`` is the line of the model file at fault (shown as ``line N``), ``field`` the key
    or JSON path.
    """

    row_label = "line"
