"""One command writes a run directory at a time: the lock beside it."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from bureau.errors import RunDirectoryError

#: Locks this process holds, by run directory: a lock is taken again by nested stages.
_HELD: dict[Path, list[int]] = {}


def lock_path(out: Path) -> Path:
    """The lock file of a run directory: beside it, so that it exists before the run does.

    Parameters
    ----------
    out
        The run directory.

    Returns
    -------
    pathlib.Path
        ``.<name>.lock`` in the run directory's parent.
    """
    out = Path(out).absolute()
    return out.parent / f".{out.name}.lock"


@contextlib.contextmanager
def run_lock(out: Path) -> Iterator[None]:
    """Hold the run directory ``out`` for writing, for the duration of the block.

    One command writes a run at a time: a second command that would write the same run
    directory (a second ``bureau run`` into it, two ``bureau ingest`` of it) stops at once
    instead of replacing or mixing what the first writes. The lock is an ``flock`` on a file
    beside the run, so it is let go when its process ends, however it ends.

    Parameters
    ----------
    out
        The run directory (it need not exist yet).

    Yields
    ------
    None

    Raises
    ------
    RunDirectoryError
        If another process writes the run, or the lock cannot be taken.
    """
    path = lock_path(out)
    held = _HELD.get(path)
    if held is not None:
        held[1] += 1
        try:
            yield
        finally:
            held[1] -= 1
        return
    fd = _take_lock(path, out)
    _HELD[path] = [fd, 1]
    try:
        yield
    finally:
        del _HELD[path]
        # Removed while still held, so that no other process can take a lock on a file
        # that is no longer the lock file; one that opened it meanwhile sees it is gone.
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)


def _take_lock(path: Path, out: Path) -> int:
    """Open and lock the lock file; return its descriptor."""
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise RunDirectoryError(f"cannot write here: {exc.strerror}", path=out) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise RunDirectoryError(
                    f"cannot lock the run directory: {exc.strerror}", path=out
                ) from None
            by = f" (process {holder})" if holder.isdigit() else ""
            raise RunDirectoryError(
                f"another command is writing this run directory{by}; wait until it ends",
                path=out,
            ) from None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
            return fd
        # The holder let go and removed the file between our open and our lock: try again.
        os.close(fd)
