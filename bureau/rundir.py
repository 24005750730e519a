"""Run directories: created whole or not at all, and described by a manifest.

A new run is written into a hidden sibling directory and renamed into place only when every
stage has succeeded, so a failed or interrupted run never leaves a half-written run directory
under the requested name. A run started again on the same inputs after its process died takes
up that hidden directory where it was left: the stages it had finished are not run again.
``manifest.json`` records the package version, the seed, each stage's wall time and row counts,
and a SHA-256 of every file.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bureau.errors import RunDirectoryError

MANIFEST = "manifest.json"
RESOLVED_SCENARIO = "scenario.resolved.toml"
#: In a staging directory: the hash of the inputs it is being made from.
INPUTS = ".inputs"
#: In a staging directory: the stages finished so far, with their records.
FINISHED = ".finished.json"


@contextlib.contextmanager
def staged_directory(out: Path, force: bool = False, inputs: str | None = None) -> Iterator[Path]:
    """Yield a temporary directory that becomes ``out`` if the block succeeds.

    Parameters
    ----------
    out
        The run directory to create.
    force
        Replace ``out`` if it exists. Without it an existing directory is an error, raised
        before anything is written.
    inputs
        A hash of what the run is made from. A staging directory of an earlier run of ``out``
        from the same inputs, whose process is gone, is taken up instead of a new one (what
        it holds is for the caller to reuse, see :func:`finished_stages`); others are deleted.

    Yields
    ------
    pathlib.Path
        The directory to write into.

    Raises
    ------
    RunDirectoryError
        If ``out`` exists and ``force`` is False, exists and is not a run directory, or
        cannot be created.
    """
    out = Path(out)
    if out.name in ("", ".", "..") or out.resolve() == Path.cwd().resolve():
        raise RunDirectoryError("a run directory needs a name of its own", path=out)
    if out.exists() and not out.is_dir():
        raise RunDirectoryError("exists and is not a directory", path=out)
    if out.exists():
        if not force:
            raise RunDirectoryError(
                "already exists; replace it with --force (force=True)", path=out
            )
        if not (out / MANIFEST).is_file():
            # --force replaces runs, never an arbitrary directory that happens to be in the way.
            raise RunDirectoryError("exists and is not a run directory; not replacing it", path=out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        left = _remove_abandoned(out, keep=inputs)
        staging = Path(
            tempfile.mkdtemp(
                prefix=f".{out.name}.{os.getpid()}.", suffix=".partial", dir=out.parent
            )
        )
        if left is not None:
            # Renamed, so that no other run takes it up while this one is alive.
            os.replace(left, staging)
        if inputs is not None:
            (staging / INPUTS).write_text(inputs, encoding="utf-8")
    except OSError as exc:
        raise RunDirectoryError(
            f"cannot create a run directory here: {exc.strerror}", path=out
        ) from None
    try:
        yield staging
        # mkdtemp makes the directory private; a run is as readable as any other output.
        umask = os.umask(0)
        os.umask(umask)
        staging.chmod(0o777 & ~umask)
        for entry in (INPUTS, FINISHED):
            (staging / entry).unlink(missing_ok=True)
        if out.exists():
            retired = staging.with_suffix(".old")
            os.replace(out, retired)
            os.replace(staging, out)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_abandoned(out: Path, keep: str | None = None) -> Path | None:
    """Delete staging directories of earlier runs of ``out`` whose process is gone.

    A run killed outright (SIGKILL, power loss) cannot clean up after itself; the next run of
    the same directory does it. One made from the inputs ``keep`` is left in place and
    returned (the newest, if several are).
    """
    kept = None
    for stale in sorted(out.parent.glob(f".{out.name}.*.partial"), key=lambda p: p.stat().st_mtime):
        pid = stale.name[len(out.name) + 2 :].split(".", 1)[0]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        marker = stale / INPUTS
        same = keep is not None and marker.is_file() and marker.read_text("utf-8") == keep
        if same and kept is not None:
            shutil.rmtree(kept, ignore_errors=True)
        if same:
            kept = stale
        else:
            shutil.rmtree(stale, ignore_errors=True)
    return kept


#: What the stages write under temporary names before renaming it into place.
TEMPORARY_PATTERNS = (".*.tmp", ".furnish.*")


def remove_temporaries(root: Path) -> int:
    """Delete what a stage killed mid-way left under temporary names in a run directory.

    A stage writes every file aside and renames it into place; a process killed outright
    cannot remove what it had written aside. The run is held while this runs, so nothing
    deleted is still being written.

    Parameters
    ----------
    root
        The run directory.

    Returns
    -------
    int
        Entries deleted.
    """
    # One walk of the run, over the hidden entries only (a run holds thousands of feed files).
    found = [
        path
        for path in sorted(root.rglob(".*"))
        if any(fnmatch.fnmatch(path.name, pattern) for pattern in TEMPORARY_PATTERNS)
    ]
    for path in found:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return len(found)


def finished_stages(staging: Path) -> dict[str, Any]:
    """The stages a staging directory records as finished, with what each recorded.

    Parameters
    ----------
    staging
        A directory yielded by :func:`staged_directory`.

    Returns
    -------
    dict
        Stage name to its record, in the order they finished; empty for a new directory.
    """
    path = staging / FINISHED
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        # Written atomically, so only a hand-edited file is unreadable: start over.
        return {}


def write_finished(staging: Path, records: dict[str, Any]) -> None:
    """Record in a staging directory the stages finished so far.

    Parameters
    ----------
    staging
        A directory yielded by :func:`staged_directory`.
    records
        Stage name to what to keep of it (wall time, rows): JSON-serialisable.
    """
    write_text_atomic(staging / FINISHED, json.dumps(records, indent=1, sort_keys=False) + "\n")


def write_text_atomic(path: Path, text: str) -> None:
    """Write a text file whole or not at all: written aside, then renamed over the target.

    Parameters
    ----------
    path
        The file.
    text
        Its content (UTF-8).
    """
    _replace_with(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write a binary file whole or not at all: written aside, then renamed over the target.

    Parameters
    ----------
    path
        The file.
    data
        Its content.
    """
    _replace_with(path, data)


def _replace_with(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except BaseException:
        # A full disk or an interruption leaves no half-written file behind.
        temporary.unlink(missing_ok=True)
        raise


def file_digest(path: Path) -> str:
    """Return the SHA-256 of a file.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    str
        The digest in hex.
    """
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def content_hashes(root: Path) -> dict[str, str]:
    """Hash every output file of a run directory.

    Databases (``db/``) are left out: they are live stores whose bytes change with every
    load and vacuum, not outputs with a fixed content. Hidden staging entries are left out too.

    Parameters
    ----------
    root
        The run directory.

    Returns
    -------
    dict of str to str
        Relative POSIX path to SHA-256, sorted by path.
    """
    paths = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or path.name == MANIFEST or rel.parts[0] == "db":
            continue
        if any(part.startswith(".") for part in rel.parts):
            continue
        paths.append(path)
    # hashlib lets go of the interpreter while it hashes: threads use every core.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        digests = pool.map(file_digest, paths)
        return {p.relative_to(root).as_posix(): d for p, d in zip(paths, digests, strict=True)}


def write_manifest(root: Path, header: dict[str, Any], stages: dict[str, Any]) -> dict[str, Any]:
    """Write ``manifest.json`` into a run directory.

    Parameters
    ----------
    root
        The run directory.
    header
        Package version, scenario name, seed and the like.
    stages
        Per stage: wall time in seconds and rows written per table.

    Returns
    -------
    dict
        The manifest as written.
    """
    manifest = {**header, "stages": stages, "files": content_hashes(root)}
    write_text_atomic(root / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest


def read_manifest(root: Path) -> dict[str, Any]:
    """Read a run directory's manifest.

    Parameters
    ----------
    root
        The run directory.

    Returns
    -------
    dict
        The manifest.

    Raises
    ------
    RunDirectoryError
        If there is none or it is not valid JSON.
    """
    path = root / MANIFEST
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, NotADirectoryError):
        raise RunDirectoryError("not a run directory (no manifest.json)", path=root) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RunDirectoryError(f"cannot read the manifest: {exc}", path=path) from None
    except json.JSONDecodeError as exc:
        raise RunDirectoryError(f"manifest is not valid JSON: {exc}", path=path) from None
