from __future__ import annotations

import pytest

from bureau import World, load_scenario, simulate


@pytest.fixture(scope="session")
def small_world() -> World:
    return simulate(load_scenario("small"))


@pytest.fixture(scope="session")
def baseline_world() -> World:
    """The baseline world (100,000 persons), for statistical properties that need its size."""
    return simulate(load_scenario("baseline"), workers=2)
