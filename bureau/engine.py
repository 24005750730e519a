"""Where chunks run: in this process, or in a pool of worker processes.

Chunk functions are pure functions of (scenario, chunk index), each drawing from its own
generator, so where they run changes nothing in what they produce. Results come back in chunk
order whatever order the workers finish in.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def map_chunks(fn: Callable[[T], R], items: Iterable[T], workers: int = 1) -> Iterator[R]:
    """Apply ``fn`` to each item, in this process or a process pool, yielding in input order.

    Parameters
    ----------
    fn
        A picklable, module-level function.
    items
        Its arguments, one per chunk.
    workers
        1 runs in this process; more starts that many worker processes.

    Yields
    ------
    R
        ``fn(item)`` for each item, in the order of ``items``.
    """
    if workers <= 1:
        yield from map(fn, items)
        return
    # forkserver: workers start from a clean process, not a fork of one whose thread pools
    # (Arrow, OpenMP) may be mid-flight.
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        yield from pool.map(fn, items)
