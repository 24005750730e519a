"""The floors of the architecture, and the library's hygiene rules."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

import bureau
from bureau.rng import generator

PACKAGE = Path(bureau.__file__).parent


def test_import_floors_hold() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint is not None, "import-linter is part of the dev extras"
    result = subprocess.run([lint], capture_output=True, text=True, cwd=PACKAGE.parent, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def _calls(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                names.append(func.id)
            elif isinstance(func, ast.Attribute):
                names.append(ast.unparse(func))
    return names


def test_library_code_neither_prints_nor_uses_global_random_state() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for name in _calls(tree):
            if name == "print" and "cli" not in path.parts:
                offenders.append(f"{path}: print")
            if name.startswith("np.random.") and name not in {
                "np.random.SeedSequence",
                "np.random.Generator",
                "np.random.PCG64",
            }:
                offenders.append(f"{path}: {name}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                module = getattr(node, "module", None) or ""
                imported = {alias.name.split(".")[0] for alias in node.names} | {module}
                if imported & {"pickle", "joblib"}:
                    offenders.append(f"{path}: imports pickle/joblib")
    assert offenders == []


def test_generators_are_stable_and_independent() -> None:
    a = generator(1, "world.persons", 0).random(3)
    assert np.array_equal(a, generator(1, "world.persons", 0).random(3))
    assert not np.array_equal(a, generator(1, "world.persons", 1).random(3))
    assert not np.array_equal(a, generator(1, "world.ties", 0).random(3))
    assert not np.array_equal(a, generator(2, "world.persons", 0).random(3))


#: What reads or writes files, or names a run directory's parts.
_FILE_CALLS = {
    "open",
    "read_parquet",
    "read_csv",
    "read_json",
    "read_table",
    "to_parquet",
    "write_table",
    "read_text",
    "read_bytes",
    "write_text",
    "write_bytes",
    "write_text_atomic",
    "write_bytes_atomic",
    "iterdir",
    "glob",
    "rglob",
    "load_scenario",
    "read_card",
}
_FILE_MODULES = {"bureau.layout", "bureau.rundir", "bureau.store.parquet", "pyarrow.parquet"}


def test_analysis_reads_and_writes_no_files() -> None:
    """Analysis is functions of tables: the stages read the truth and write the report."""
    offenders = []
    for path in (PACKAGE / "analysis").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for name in _calls(tree):
            if name.rsplit(".", 1)[-1] in _FILE_CALLS:
                offenders.append(f"{path}: {name}")
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in _FILE_MODULES:
                offenders.append(f"{path}: imports {node.module}")
            if isinstance(node, ast.ImportFrom) and node.module == "pathlib":
                names = {alias.name for alias in node.names}
                if "Path" in names:
                    offenders.append(f"{path}: imports pathlib.Path")
    assert offenders == []
