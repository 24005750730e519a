from __future__ import annotations

import gc
import os
import weakref
from pathlib import Path

import pytest
from threadpoolctl import threadpool_info

from bureau import load_scenario, parallel
from bureau.layout import RunLayout
from bureau.parallel import (
    LOCAL,
    SchedulerError,
    map_built,
    map_chunks,
    map_stream,
    on_cluster,
    one_thread,
    started,
    use_scheduler,
)
from bureau.pipeline import run_stages
from tests.cli.test_bad_input import TINY, refused, run_outputs
from tests.processes import all_gone, marked_processes


def _where(item: int) -> tuple[int, int]:
    return item * item, os.getpid()


class _Rows(list):
    """A chunk's result that a weak reference can follow."""


def _big(item: int) -> _Rows:
    return _Rows(range(item + 1))


def test_map_chunks_yields_in_input_order_whatever_the_weights() -> None:
    items = list(range(6))
    weights = [1, 9, 2, 8, 3, 7]
    for workers in (1, 2):
        results = list(map_chunks(_where, items, workers, weights))
        assert [square for square, _ in results] == [i * i for i in items]


def test_started_runs_beside_the_caller_and_can_spare_a_worker() -> None:
    here = os.getpid()
    with started(_where, range(4), workers=2) as collect:
        results = collect()
    assert [square for square, _ in results] == [0, 1, 4, 9]
    assert here not in {pid for _, pid in results}

    with started(_where, range(4), workers=2, spare=True) as collect:
        pids = {pid for _, pid in collect()}
    assert len(pids) == 1 and here not in pids

    with started(_where, range(4), workers=3, spare=True) as collect:
        pids = {pid for _, pid in collect()}
    assert len(pids) <= 2 and here not in pids

    with started(_where, range(4), workers=1, spare=True) as collect:
        assert {pid for _, pid in collect()} == {here}


def _blas_threads(_: int) -> int:
    return max(
        (pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"),
        default=1,
    )


def test_worker_processes_and_their_caller_keep_to_one_blas_thread() -> None:
    before = _blas_threads(0)
    assert list(map_chunks(_blas_threads, range(2), workers=2)) == [1, 1]
    with started(_blas_threads, range(2), workers=2) as collect:
        assert _blas_threads(0) == 1
        assert collect() == [1, 1]
    with one_thread():
        assert _blas_threads(0) == 1
    # Outside, the libraries keep their own threads.
    assert _blas_threads(0) == before


_SLOW_POOL = """
import signal, time
from bureau.parallel import map_chunks
def work(i):
    time.sleep(60)
    return i
def stop(*_):
    # As the command line does: SIGTERM unwinds like Ctrl-C.
    raise KeyboardInterrupt
if __name__ == "__main__":
    signal.signal(signal.SIGTERM, stop)
    print("started", flush=True)
    list(map_chunks(work, range(6), workers=2))
"""


def _start_pool(tmp_path, marker: str):
    import subprocess
    import sys
    import time

    script = tmp_path / "pool.py"
    script.write_text(_SLOW_POOL)
    env = {**os.environ, "BUREAU_TEST_MARK": marker}
    proc = subprocess.Popen(
        [sys.executable, str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stdout.readline() == b"started\n"
    deadline = time.monotonic() + 20
    # Both workers are up once three processes carry the mark.
    while len(marked_processes(marker)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(marked_processes(marker)) == 3
    return proc


@pytest.mark.slow
def test_workers_end_when_their_parent_is_killed(tmp_path) -> None:
    import signal
    import uuid

    marker = f"kill9-{uuid.uuid4().hex}"
    proc = _start_pool(tmp_path, marker)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    # Reparented workers would sleep for a minute; they must notice at once.
    assert all_gone(marker), marked_processes(marker)


@pytest.mark.slow
def test_sigterm_ends_the_pool_within_seconds_not_after_its_queue(tmp_path) -> None:
    import signal
    import time
    import uuid

    marker = f"term-{uuid.uuid4().hex}"
    proc = _start_pool(tmp_path, marker)
    began = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    # Six queued jobs of a minute each: without stopping the workers this takes minutes.
    assert time.monotonic() - began < 10
    assert all_gone(marker), marked_processes(marker)


def test_map_built_builds_each_item_when_a_worker_is_about_to_take_it() -> None:
    built: list[int] = []

    def build(key: int) -> int:
        built.append(key)
        return key

    keys = list(range(6))
    weights = [1, 9, 2, 8, 3, 7]
    for workers in (1, 2):
        built.clear()
        results = list(map_built(_where, build, keys, workers, weights))
        assert [square for square, _ in results] == [k * k for k in keys]
        assert sorted(built) == keys
    # The heaviest are built (and started) first.
    assert built[:3] == [1, 3, 5]


def test_map_stream_takes_items_only_as_workers_free_up() -> None:
    taken: list[int] = []

    def stream():
        for item in range(8):
            taken.append(item)
            yield item

    results = map_stream(_where, stream(), 2)
    first = next(results)
    # Two workers: at most five items out at a time, the stream not read ahead of them.
    assert first[0] == 0 and len(taken) <= 5
    assert [square for square, _ in [first, *results]] == [i * i for i in range(8)]
    # A stream of one item runs here, with no workers to start.
    assert list(map_stream(_where, iter([3]), 2)) == [(9, os.getpid())]


def test_chunks_on_a_local_dask_cluster_come_back_in_input_order_on_one_thread() -> None:
    here = os.getpid()
    with use_scheduler(LOCAL, workers=2):
        assert on_cluster()
        # One worker asked for: the chunks still go to the cluster, not to this process.
        results = list(map_chunks(_where, range(6), 1, [1, 9, 2, 8, 3, 7]))
        built = list(map_built(_where, lambda key: key + 1, [0, 1, 2], workers=2))
        blas = list(map_chunks(_blas_threads, range(2), 2))
    assert not on_cluster()
    assert [square for square, _ in results] == [i * i for i in range(6)]
    assert here not in {pid for _, pid in results}
    assert [square for square, _ in built] == [1, 4, 9]
    # Tasks keep to one BLAS thread, as the local pool's workers do.
    assert blas == [1, 1]


def test_a_scheduler_that_cannot_be_reached_is_a_typed_error_naming_it(monkeypatch) -> None:
    monkeypatch.setattr(parallel, "CONNECT_SECONDS", 1)
    with pytest.raises(SchedulerError) as caught, use_scheduler("tcp://127.0.0.1:9"):
        pass
    assert caught.value.field == "scheduler"
    assert "tcp://127.0.0.1:9" in caught.value.message


def test_a_cluster_whose_workers_run_several_threads_is_refused() -> None:
    from distributed import LocalCluster

    with (
        LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        pytest.raises(SchedulerError, match="--nthreads 1") as caught,
        use_scheduler(cluster.scheduler_address),
    ):
        pass
    assert "2 threads" in caught.value.message
    assert not on_cluster()


def test_map_chunks_lets_each_result_go_once_yielded() -> None:
    # A long map must not hold every chunk's result until it ends.
    results = map_chunks(_big, range(3), 2)
    first = weakref.ref(next(results))
    gc.collect()
    assert first() is None
    assert [len(r) for r in results] == [2, 3]


def test_the_command_line_names_the_scheduler_in_one_line(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(parallel, "CONNECT_SECONDS", 1)
    monkeypatch.setenv("BUREAU_SCHEDULER", "tcp://127.0.0.1:9")
    refused(["simulate", "small", "-o", str(tmp_path / "w"), "-q"], 2, "--scheduler", "reach")
    assert not (tmp_path / "w").exists()


@pytest.mark.slow
def test_a_run_on_a_local_dask_cluster_is_the_local_run_byte_for_byte(tmp_path) -> None:
    scn = load_scenario("small", {**TINY, "population.chunk_size": 150})
    run_stages(tmp_path / "local", scn, workers=2)
    with use_scheduler(LOCAL, workers=2):
        run_stages(tmp_path / "dask", scn, workers=2)
    assert run_outputs(tmp_path / "dask") == run_outputs(tmp_path / "local")


def test_a_run_s_paths_are_absolute_for_workers_elsewhere(monkeypatch, tmp_path) -> None:
    # A cluster's workers do not share the caller's working directory.
    monkeypatch.chdir(tmp_path)
    layout = RunLayout(Path("runs") / "r")
    assert layout.root == tmp_path / "runs" / "r"
    assert layout.world_table("persons").is_absolute()


def test_a_cluster_that_cannot_start_is_a_typed_error(monkeypatch) -> None:
    import distributed

    def refuse(*args, **kwargs):
        raise RuntimeError("Cluster failed to start")

    monkeypatch.setattr(distributed, "LocalCluster", refuse)
    with (
        pytest.raises(SchedulerError, match="cannot start a local Dask cluster"),
        use_scheduler(LOCAL),
    ):
        pass
