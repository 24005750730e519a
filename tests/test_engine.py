from __future__ import annotations

import os

from threadpoolctl import threadpool_info

from bureau.engine import map_chunks, one_thread, started


def _where(item: int) -> tuple[int, int]:
    return item * item, os.getpid()


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
