"""Every notebook runs from top to bottom on a small world, in a kernel of this environment."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))
# Two bureaus of 500 persons, two regimes and one seed each: every stage and every cell of the
# notebooks still has something to work on, and the five (the six runs of two sweeps among
# them) fit in a few minutes.
ENVIRONMENT = {
    "BUREAU_NOTEBOOK_PERSONS": "500",
    "BUREAU_NOTEBOOK_BUREAUS": "sesame,qianhai",
    "BUREAU_NOTEBOOK_SEEDS": "1",
    "BUREAU_NOTEBOOK_REGIMES": "siloed,shared",
    "BUREAU_NOTEBOOK_WORKERS": "2",
}
CELL_TIMEOUT = 600


def _kernel() -> KernelManager:
    """The python3 kernel ipykernel installs in this environment, not one a user registered."""
    specs = KernelSpecManager(kernel_dirs=[str(Path(sys.prefix) / "share" / "jupyter" / "kernels")])
    return KernelManager(kernel_name="python3", kernel_spec_manager=specs)


def _execute(notebook: nbformat.NotebookNode, cwd: Path) -> nbformat.NotebookNode:
    client = NotebookClient(
        notebook,
        km=_kernel(),
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(cwd)}},
    )
    return client.execute()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("notebooks")
    with pytest.MonkeyPatch.context() as patch:
        for key, value in ENVIRONMENT.items():
            patch.setenv(key, value)
        patch.setenv("BUREAU_NOTEBOOK_RUNS", str(root / "runs"))
        yield root


def test_there_are_the_five_notebooks() -> None:
    assert [p.name for p in NOTEBOOKS] == [
        "01_quickstart.ipynb",
        "02_comparing_bureaus.ipynb",
        "03_inside_the_aggregator.ipynb",
        "04_data_sharing_experiment.ipynb",
        "05_credit_market.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_are_stored_clean(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)
    assert notebook.metadata.kernelspec.name == "python3"


@pytest.mark.slow
def test_the_kernel_is_this_environment_s_python(workdir: Path) -> None:
    probe = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("import sys\nprint(sys.prefix)\nprint(sys.executable)")]
    )
    done = _execute(probe, workdir)
    prefix, executable = done.cells[0].outputs[0]["text"].split()
    assert Path(prefix).resolve() == Path(sys.prefix).resolve()
    assert Path(executable).resolve() == Path(sys.executable).resolve()


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_without_error(path: Path, workdir: Path) -> None:
    # In order: the first makes the run that the next two read, the last makes a sweep.
    done = _execute(nbformat.read(path, as_version=4), workdir)
    errors = [
        output
        for cell in done.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert errors == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_use_only_the_public_api(path: Path) -> None:
    import ast

    import bureau

    below = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bureau."):
                below.append(node.module)
            if isinstance(node, ast.Import):
                below += [a.name for a in node.names if a.name.startswith("bureau.")]
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "bureau"
                and node.attr not in bureau.__all__
            ):
                below.append(f"bureau.{node.attr}")
    assert below == []


def test_the_readme_s_python_api_uses_only_the_public_api() -> None:
    import ast
    import re

    import bureau

    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Python API", 1)[1].split("\n## ", 1)[0]
    below = re.findall(r"\bbureau\.[a-z_]+\.[A-Za-z_]+", section)
    for block in re.findall(r"```python\n(.*?)```", section, flags=re.S):
        for node in ast.walk(ast.parse(block)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bureau"):
                below.append(ast.unparse(node))
            if isinstance(node, ast.Import):
                below += [a.name for a in node.names if a.name.startswith("bureau.")]
    named = set(re.findall(r"`bureau\.([A-Za-z_]+)", section)) | set(
        re.findall(r"\bbureau\.([A-Za-z_]+)\(", section)
    )
    below += sorted(f"bureau.{name}" for name in named - set(bureau.__all__))
    assert below == []
