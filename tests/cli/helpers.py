"""What the command-line tests of scoring share: a tiny run, feature tables, and checks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from click.testing import Result

from bureau import load_scenario
from bureau.bureaus.feature_catalog import feature_bounds
from bureau.pipeline import run_stages

MODELS = Path(__file__).parents[2] / "models"
BUREAU = "qianhai"


def tiny_run(root: Path, bureau: str = BUREAU) -> Path:
    """A run of 300 persons with one bureau's credit files and its reference model (seconds)."""
    scenario = load_scenario("small")
    others = {f"bureaus.{b}.enabled": False for b in scenario.active_bureaus if b != bureau}
    scenario = load_scenario("small", {"population.persons": 300, **others})
    run_stages(root, scenario, stages=["world", "furnish", "ingest"], workers=1)
    shutil.copytree(MODELS / bureau, root / "models" / bureau)
    return root


def applicant_frame(run: Path, rows: int = 40) -> pd.DataFrame:
    """Applicants taken from a run's persons (their true identities)."""
    persons = pd.read_parquet(run / "world" / "persons")
    return pd.DataFrame(
        {
            "applicant_id": "A" + persons["person_id"].astype(str),
            "national_id": persons["national_id"],
            "name": persons["name"],
            "birth_date": persons["birth_date"].dt.strftime("%Y-%m-%d"),
            "phone": persons["phone"],
        }
    ).head(rows)


def feature_frame(bureau: str = BUREAU, rows: int = 20, seed: int = 0) -> pd.DataFrame:
    """A feature table for a reference model: possible values of every feature, and ids."""
    card = json.loads((MODELS / bureau / "model_card.json").read_text())
    rng = np.random.default_rng(seed)
    columns = {}
    for name in card["features"]:
        low, high = feature_bounds(name)
        top = min(high, low + 12)
        values = rng.integers(int(low), int(top) + 1, rows).astype(float)
        columns[name] = values if high > 1 else rng.random(rows).round(3)
    frame = pd.DataFrame(columns)
    frame.insert(0, "applicant_id", [f"A{i}" for i in range(rows)])
    return frame


def one_line_error(result: Result) -> str:
    """The single ``error:`` line of a failed command (exit 2, no traceback)."""
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def files_in(directory: Path) -> dict[str, bytes]:
    """Every file under a directory (hidden ones too) and its bytes."""
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()
    }


def assert_rejects(path: Path, expected: list[tuple[int, str, str]]) -> None:
    """A reject file holds these ``(row, column, words of the reason)``, each value short."""
    found = pd.read_csv(path, keep_default_na=False, dtype={"column": str, "raw": str})
    assert len(found) == len(expected), found
    for (row, column, words), got in zip(expected, found.itertuples(), strict=True):
        assert (got.row, got.column) == (row, column) and words in got.reason, got
        assert len(got.raw) <= 300  # a huge value is cut short
