from __future__ import annotations

import functools
from pathlib import Path

import pytest

from bureau import World, load_scenario, simulate

#: Fixtures that build a whole scenario: every test that uses one is marked ``slow``, so that
#: ``pytest -m "not slow"`` (``make test-fast``) never builds them.
WHOLE_RUNS = ("small_run", "baseline_world")
#: The run of the whole chain that many test files read: built once per test session.
SHARED_RUN = "small_run"


# Optional: a hook of pytest-xdist, which a run without it (-p no:xdist) does not know.
@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """Hand out whole files, and every file that reads the shared run as one group.

    A file's tests stay on one worker, so that a module's fixture (a sweep, a run) is built
    once; and the files that read the shared run all go to one worker, which builds it once
    rather than once per worker.
    """
    from xdist.scheduler import LoadScopeScheduling

    root = config.rootpath

    class SharedRunScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return SHARED_RUN if _reads_shared_run(root / path) else path

    return SharedRunScheduling(config, log)


@functools.cache
def _reads_shared_run(path: Path) -> bool:
    # The scheduler sees test ids, not fixtures: a file that names the fixture reads the run.
    return path.suffix == ".py" and SHARED_RUN in path.read_text(encoding="utf-8")


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
    # The shared run's tests first, then the files with slow tests: pytest-xdist hands out the
    # groups in this order (--no-loadscope-reorder), and a long one handed out last would leave
    # the other worker idle until it ends.
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(
        key=lambda item: (
            SHARED_RUN not in getattr(item, "fixturenames", ()),
            item.path not in slow_files,
        )
    )


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
