"""Where the package finds its data: scenarios and reference tables."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """Return the directory holding ``scenarios/`` and ``reference/``.

    Returns
    -------
    pathlib.Path
        ``data/`` of the source tree when the package runs from a checkout, or the copy
        installed inside the package (``bureau/_data``) when it runs from a wheel.
    """
    installed = _PACKAGE / "_data"
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / "data"


def scenario_path(name_or_path: str | Path) -> Path:
    """Resolve a scenario given by path or by the name of a bundled scenario.

    Parameters
    ----------
    name_or_path
        A path to a TOML file, or a bare name such as ``"small"`` or ``"small.toml"`` that,
        when no such file is in the working directory, names ``data/scenarios/small.toml``.

    Returns
    -------
    pathlib.Path
        The path to read. It is not checked for existence here; the loader reports a
        missing file.
    """
    path = Path(name_or_path)
    if path.exists() or len(path.parts) != 1:
        return path
    return data_dir() / "scenarios" / f"{path.stem}.toml"
