from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.cli.helpers import applicant_frame, tiny_run


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny run with one bureau's credit files and its reference model, per module."""
    return tiny_run(tmp_path_factory.mktemp("runs") / "tiny")


@pytest.fixture(scope="module")
def applicants(run: Path) -> pd.DataFrame:
    """Applicants of the tiny run (their true identities)."""
    return applicant_frame(run)
