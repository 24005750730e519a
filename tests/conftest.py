from __future__ import annotations

import pytest

from bureau import World, load_scenario, simulate

#: Fixtures that build a whole scenario: every test that uses one is marked ``slow``, so that
#: ``pytest -m "not slow"`` (``make test-fast``) never builds them.
WHOLE_RUNS = ("small_run", "baseline_world")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unmarked = [
        item.nodeid
        for item in items
        if set(WHOLE_RUNS) & set(getattr(item, "fixturenames", ()))
        and item.get_closest_marker("slow") is None
    ]
    if unmarked:
        listed = "\n  ".join(unmarked)
        raise pytest.UsageError(
            f"tests using {' or '.join(WHOLE_RUNS)} must be marked slow:\n  {listed}"
        )
    # The files with slow tests first: pytest-xdist hands out whole files in this order, and a
    # long file handed out last leaves the other worker idle until it ends.
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)


@pytest.fixture(scope="session")
def small_world() -> World:
    return simulate(load_scenario("small"))


@pytest.fixture(scope="session")
def baseline_world() -> World:
    """The baseline world (100,000 persons), for statistical properties that need its size."""
    return simulate(load_scenario("baseline"), workers=2)


@pytest.fixture(scope="session")
def small_run(tmp_path_factory: pytest.TempPathFactory):
    """A run of 1,500 persons through the whole chain, world to compare (SQLite)."""
    from bureau.pipeline import run_stages

    scn = load_scenario("small", {"population.persons": 1500, "population.chunk_size": 750})
    out = tmp_path_factory.mktemp("runs") / "small"
    return run_stages(out, scn, workers=2)
