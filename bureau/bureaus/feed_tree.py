"""A bureau's feed tree: which entries are feed files to load, and which are named and skipped.

The tree is ``feeds/<bureau>/<YYYY-MM>/<file><suffix>``. Everything in it is either a feed file
to load or named, with the reason it is skipped:

- a month folder must be named ``YYYY-MM``, a month of the run's calendar;
- a feed file must be a regular file in a month folder, with the intake format's suffix
  (matched exactly: ``.CSV`` is not ``.csv``);
- a symbolic link is never followed (it may point anywhere, or nowhere), nor is anything
  other than a regular file opened (reading a FIFO would wait for ever).

Only the bureau's own directory may be a link (a run may keep its feeds on another disk).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bureau.errors import RunDirectoryError
from bureau.formats.schema import MONTH_PATTERN, month_labels

_MONTH_FOLDER = re.compile(MONTH_PATTERN)
_LINK = "a symbolic link: not followed"


@dataclass
class FeedTree:
    """The entries of a bureau's feed tree.

    Attributes
    ----------
    months
        ``(YYYY-MM, files)`` for each month folder, in month order, its feed files in name
        order (the order they arrived in).
    ignored
        ``(path, reason)`` of every entry skipped, the path relative to the bureau's feeds.
    """

    months: list[tuple[str, list[Path]]] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)

    @property
    def files(self) -> list[Path]:
        """Every feed file, in arrival order."""
        return [path for _, files in self.months for path in files]


def _entries(folder: Path) -> list[tuple[str, os.stat_result | OSError]]:
    """A folder's entries by name, each with its own status (links not followed)."""
    found = []
    with os.scandir(folder) as listing:
        for entry in listing:
            try:
                found.append((entry.name, entry.stat(follow_symlinks=False)))
            except OSError as exc:
                found.append((entry.name, exc))
    return sorted(found, key=lambda item: item[0])


def _not_a_file(info: os.stat_result | OSError, suffix: str, name: str) -> str | None:
    """Why an entry of a month folder is no feed file (None if it is one)."""
    if isinstance(info, OSError):
        return f"cannot be read: {info.strerror}"
    if stat.S_ISLNK(info.st_mode):
        return _LINK
    if stat.S_ISDIR(info.st_mode):
        return "a directory, not a feed file"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if not name.endswith(suffix):
        return f"not a {suffix} file"
    return None


def scan_feeds(root: Path, suffix: str, start: dt.date, months: int) -> FeedTree:
    """List a bureau's feed files, and name everything else in its feed tree.

    Parameters
    ----------
    root
        The bureau's feeds, ``feeds/<bureau>``.
    suffix
        Its intake format's file suffix.
    start
        The first day of the run's month 0.
    months
        The months of the run's calendar.

    Returns
    -------
    FeedTree
        The feed files by month, and the entries skipped with their reasons.

    Raises
    ------
    RunDirectoryError
        If the bureau's feeds cannot be listed.
    """
    first, last = month_labels(start, np.array([0, months - 1])).tolist()
    calendar = set(month_labels(start, np.arange(months)).tolist())
    tree = FeedTree()
    try:
        top = _entries(root)
    except OSError as exc:
        raise RunDirectoryError(f"cannot list the feeds: {exc.strerror}", path=root) from None
    for name, info in top:
        reason = None
        if isinstance(info, OSError):
            reason = f"cannot be read: {info.strerror}"
        elif stat.S_ISLNK(info.st_mode):
            reason = _LINK
        elif not stat.S_ISDIR(info.st_mode):
            reason = "not in a month folder (feed files go in YYYY-MM/)"
        elif not _MONTH_FOLDER.fullmatch(name):
            reason = "not a month folder (YYYY-MM)"
        elif name not in calendar:
            reason = f"a month outside the run's calendar ({first} to {last})"
        if reason is not None:
            tree.ignored.append((name, reason))
            continue
        try:
            inside = _entries(root / name)
        except OSError as exc:
            tree.ignored.append((name, f"cannot be read: {exc.strerror}"))
            continue
        files = []
        for file, detail in inside:
            why = _not_a_file(detail, suffix, file)
            if why is None:
                files.append(root / name / file)
            else:
                tree.ignored.append((f"{name}/{file}", why))
        tree.months.append((name, files))
    return tree


def regular_files_bytes(root: Path) -> int:
    """The bytes of the regular files one level down (month folders), links not followed.

    Parameters
    ----------
    root
        A bureau's feeds.

    Returns
    -------
    int
        The total size; 0 if there is nothing to read.
    """
    total = 0
    try:
        folders = [root / name for name, info in _entries(root) if _is_dir(info)]
    except OSError:
        return 0
    for folder in folders:
        try:
            entries = _entries(folder)
        except OSError:
            continue
        total += sum(
            info.st_size
            for _, info in entries
            if not isinstance(info, OSError) and stat.S_ISREG(info.st_mode)
        )
    return total


def _is_dir(info: os.stat_result | OSError) -> bool:
    return not isinstance(info, OSError) and stat.S_ISDIR(info.st_mode)
