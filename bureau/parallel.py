"""Where chunks run: in this process, in a pool of worker processes, or on a Dask cluster.

Chunk functions are pure functions of (scenario, chunk index), each drawing from its own
generator, so where they run changes nothing in what they produce. Results come back in chunk
order whatever order the workers finish in. Inside :func:`use_scheduler`, every map of chunks
goes to the Dask cluster instead of the local pool; nothing else in the stages changes.
"""

from __future__ import annotations

import functools
import itertools
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    CancelledError,
    Executor,
    Future,
    ProcessPoolExecutor,
    wait,
)
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, TypeVar

from threadpoolctl import threadpool_limits

from bureau.errors import BureauError

if TYPE_CHECKING:
    from distributed import Client

K = TypeVar("K")
T = TypeVar("T")
R = TypeVar("R")

#: The scheduler address that starts a Dask cluster of worker processes on this machine.
LOCAL = "local"
#: How long a connection to a scheduler may take, in seconds.
CONNECT_SECONDS = 10
#: Dask's setting of the task size from which it warns.
LARGE_GRAPH_WARNING = "distributed.admin.large-graph-warning-threshold"
#: The Dask client the chunk work of this context goes to, if any.
_CLIENT: ContextVar[Client | None] = ContextVar("bureau_dask_client", default=None)


class SchedulerError(BureauError):
    """A Dask scheduler that cannot be reached or started."""


@contextmanager
def use_scheduler(address: str | None, workers: int = 1) -> Iterator[None]:
    """Send the chunk work done inside the block to a Dask cluster.

    Parameters
    ----------
    address
        A scheduler address (``tcp://host:8786``), ``"local"`` to start a cluster of
        ``workers`` single-threaded worker processes on this machine for the block, or None
        (or empty) for the local process pool. Workers read and write the run directory, so
        on a real cluster it must be on a path every worker reaches.
    workers
        Worker processes of a ``"local"`` cluster; a remote cluster has its own.

    Yields
    ------
    None

    Raises
    ------
    SchedulerError
        If the scheduler cannot be reached or the local cluster cannot start.
    """
    if not address:
        yield
        return
    import dask
    from distributed import Client, LocalCluster

    with ExitStack() as stack:
        try:
            if address == LOCAL:
                # No dashboard: it would open a web server the user did not ask for. No memory
                # limit per worker: a job may take what it takes in the local pool.
                cluster = LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    memory_limit=0,
                )
                stack.callback(cluster.close)
                client = Client(cluster, set_as_default=False)
            else:
                client = Client(address, timeout=CONNECT_SECONDS, set_as_default=False)
        except Exception as exc:  # starting or reaching a cluster fails for reasons of the machine
            what = (
                "cannot start a local Dask cluster"
                if address == LOCAL
                else f"cannot reach the Dask scheduler {address!r}"
            )
            raise SchedulerError(f"{what}: {exc}", field="scheduler") from None
        stack.callback(client.close)
        _check_single_threaded(client, address)
        # An item made in this process (a bureau's slice of the truth) travels with its task,
        # as it travels to a local worker through a pipe: Dask's warning about a large task
        # says nothing the user can act on.
        stack.enter_context(dask.config.set({LARGE_GRAPH_WARNING: "1TB"}))
        token = _CLIENT.set(client)
        stack.callback(_CLIENT.reset, token)
        yield


def _check_single_threaded(client: Client, address: str) -> None:
    """Refuse a cluster whose workers run several tasks at once in one process.

    A task keeps BLAS and OpenMP to one thread by a process-wide limit (see
    :func:`one_thread`); two tasks in threads of one process would lift each other's limit,
    and a model fitted meanwhile could differ in its last digits from the local run's.
    Workers that join later are not seen here: start them with ``--nthreads 1`` too.
    """
    workers = client.scheduler_info().get("workers", {})
    threaded = sorted(
        f"{name} ({info.get('nthreads')} threads)"
        for name, info in workers.items()
        if info.get("nthreads", 1) != 1
    )
    if threaded:
        shown = ", ".join(threaded[:3]) + (" ..." if len(threaded) > 3 else "")
        raise SchedulerError(
            f"the Dask scheduler {address!r} has workers that run several tasks at once: "
            f"{shown}; start them with `dask worker --nthreads 1` (one process per core)",
            field="scheduler",
        )


def on_cluster() -> bool:
    """Whether the chunk work of this context goes to a Dask cluster.

    Returns
    -------
    bool
        True inside :func:`use_scheduler` with an address.
    """
    return _CLIENT.get() is not None


def _in_this_process(workers: int, items: int) -> bool:
    """Whether a map runs here: one worker or one item, and no cluster to send it to."""
    return min(workers, items) <= 1 and not on_cluster()


def map_chunks(
    fn: Callable[[T], R],
    items: Iterable[T],
    workers: int = 1,
    weights: Sequence[float] | None = None,
    fresh: bool = False,
) -> Iterator[R]:
    """Apply ``fn`` to each item, in this process or a process pool, yielding in input order.

    Parameters
    ----------
    fn
        A picklable, module-level function.
    items
        Its arguments, one per chunk.
    workers
        1 runs in this process; more starts that many worker processes. Inside
        :func:`use_scheduler`, the items run on the cluster whatever the number.
    weights
        Expected cost of each item. A pool starts the heaviest first, so that a long item
        does not start last and leave the other workers idle; results still come in input
        order.
    fresh
        Start each worker in a new interpreter (spawn) rather than by fork: for jobs that run
        LightGBM where this process may have run it already (a sweep of whole runs called
        from a notebook or a test session), which forked workers would hang on.

    Yields
    ------
    R
        ``fn(item)`` for each item, in the order of ``items``.
    """
    items = list(items)
    if _in_this_process(workers, len(items)):
        yield from map(fn, items)
        return
    with _pool(min(workers, len(items)), fresh) as pool, one_thread():
        # Each result is let go once yielded: on a cluster a future held keeps its result in
        # a worker's memory, and a long map would hold every chunk's until it ends.
        futures = deque(_submit(pool, fn, items, weights))
        while futures:
            yield futures.popleft().result()


def map_built(
    fn: Callable[[T], R],
    build: Callable[[K], T],
    keys: Sequence[K],
    workers: int = 1,
    weights: Sequence[float] | None = None,
) -> Iterator[R]:
    """Like :func:`map_chunks`, each item built only when a worker is about to take it.

    For items that are large and made in this process (a bureau's slice of the truth): at
    most one more item than there are workers exists at a time, instead of every item at
    once, and the first workers start as soon as their items are built.

    Parameters
    ----------
    fn
        A picklable, module-level function.
    build
        Makes the item of a key, in this process.
    keys
        One per item.
    workers
        1 builds and runs each item in turn in this process; more starts that many worker
        processes.
        Inside :func:`use_scheduler`, the items run on the cluster whatever the number.
    weights
        Expected cost of each item: the heaviest are built and started first.

    Yields
    ------
    R
        ``fn(build(key))`` for each key, in the order of ``keys``.
    """
    if _in_this_process(workers, len(keys)):
        for key in keys:
            yield fn(build(key))
        return
    order = sorted(range(len(keys)), key=lambda i: -weights[i]) if weights else range(len(keys))
    slots = min(workers, len(keys))
    with _pool(slots, fresh=False) as pool, one_thread():
        built = ((index, build(keys[index])) for index in order)
        yield from _in_order(pool, fn, built, slots)


def map_stream(
    fn: Callable[[T], R], items: Iterable[T], workers: int = 1, fresh: bool = False
) -> Iterator[R]:
    """Like :func:`map_chunks`, for items read one after another from a stream of any length.

    Items are taken from the stream as workers free up, one queued beyond the workers, and at
    most ``2 * workers + 1`` are out (running, or done and waiting for an earlier one) at a
    time: memory stays bounded by a few items whatever the stream's length.

    Parameters
    ----------
    fn
        A picklable, module-level function.
    items
        Its arguments, taken from the iterable only as workers are free for them.
    workers
        1 runs in this process; more starts that many worker processes. Inside
        :func:`use_scheduler`, the items run on the cluster whatever the number.
    fresh
        Start the workers in new interpreters, as for :func:`map_chunks`.

    Yields
    ------
    R
        ``fn(item)`` for each item, in the order of ``items``.
    """
    items = iter(items)
    # A stream of one item is not worth starting workers for.
    head = list(itertools.islice(items, 2))
    items = itertools.chain(head, items)
    if _in_this_process(workers, len(head)):
        yield from map(fn, items)
        return
    with _pool(workers, fresh) as pool, one_thread():
        yield from _in_order(pool, fn, enumerate(items), workers, most=2 * workers + 1)


def _in_order(
    pool: Executor,
    fn: Callable[[T], R],
    items: Iterator[tuple[int, T]],
    workers: int,
    most: int | None = None,
) -> Iterator[R]:
    """Run numbered items, one more queued than ``workers``; yield results in number order.

    ``most`` bounds the items taken and not yet yielded (results that finished ahead of an
    earlier one wait for it), for items numbered in the order they are taken; without it, a
    slow item lets the others run on and their results gather.
    """
    running: dict[Future[R], int] = {}
    done: dict[int, R] = {}
    following = 0

    def fill() -> None:
        # One item more than the workers: a worker that finishes finds the next one ready.
        while len(running) <= workers and (most is None or len(running) + len(done) < most):
            taken = next(items, None)
            if taken is None:
                return
            running[pool.submit(fn, taken[1])] = taken[0]

    fill()
    while running:
        finished, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in finished:
            done[running.pop(future)] = future.result()
        fill()
        while following in done:
            yield done.pop(following)
            following += 1
        fill()


@contextmanager
def started(
    fn: Callable[[T], R],
    items: Iterable[T],
    workers: int = 1,
    weights: Sequence[float] | None = None,
    spare: bool = False,
) -> Iterator[Callable[[], list[R]]]:
    """Start ``fn`` on every item in worker processes now, and collect the results later.

    For work that can go on beside the caller's own: with a pool, the items run while the
    body of the ``with`` block does; with one worker there is nothing to run beside it, and
    the items run when their results are asked for.

    Parameters
    ----------
    fn
        A picklable, module-level function.
    items
        Its arguments, one per chunk.
    workers
        1 runs in this process; more starts that many worker processes. Inside
        :func:`use_scheduler`, the items run on the cluster whatever the number.
    weights
        Expected cost of each item (the heaviest start first).
    spare
        Leave one of the ``workers`` to the caller, for a caller that keeps a core busy
        itself: the items run in ``workers - 1`` worker processes (one with two workers;
        with one worker, in this process when their results are asked for).

    Yields
    ------
    callable
        Called without arguments, waits for every result and returns them in input order.
    """
    items = list(items)
    if spare and workers > 1:
        # One process beside the caller is still work done meanwhile.
        workers, alone = workers - 1, False
    else:
        alone = _in_this_process(workers, len(items))
    if alone or not items:
        yield lambda: list(map(fn, items))
        return
    with _pool(min(workers, len(items)), fresh=False) as pool, one_thread():
        futures = _submit(pool, fn, items, weights)
        yield lambda: [future.result() for future in futures]


@contextmanager
def _pool(workers: int, fresh: bool) -> Iterator[Executor]:
    """A process pool whose workers end with this process, and at once when the block fails.

    Leaving the block normally waits for the work submitted; leaving it on an error or an
    interruption (Ctrl-C, SIGTERM) cancels what has not started and ends the workers that
    are running, instead of waiting for every queued job to finish. Inside
    :func:`use_scheduler`, the cluster's executor instead: a block that fails cancels what
    it submitted.
    """
    client = _CLIENT.get()
    if client is not None:
        from distributed import KilledWorker
        from distributed.comm.core import CommClosedError

        # Not pure: a task's key would otherwise hash its whole argument (a chunk's rows).
        executor = client.get_executor(pure=False)
        try:
            yield _OneThread(executor)
        except (KilledWorker, CommClosedError, CancelledError) as exc:
            # Tasks are cancelled here only after a failure; one cancelled before means the
            # scheduler dropped them (a lost connection).
            executor.shutdown(wait=False)
            raise SchedulerError(
                f"the Dask cluster failed the work: {type(exc).__name__}: {exc}",
                field="scheduler",
            ) from None
        except BaseException:
            executor.shutdown(wait=False)
            raise
        executor.shutdown(wait=True)
        return
    # Fork where the platform has it: workers need no re-import of the caller's main module,
    # so a notebook, a piped script or one without a __main__ guard works as well as the CLI.
    # numpy, pandas and pyarrow thread pools survive a fork; GNU OpenMP (under LightGBM) does
    # not: a process that has loaded a LightGBM model and then forks leaves its workers stuck.
    # So the stages load models only inside their jobs, never in the process that forks.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods and not fresh else "spawn")
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_start_worker,
        initargs=(os.getpid(),),
    )
    try:
        yield pool
    except BaseException:
        _stop(pool)
        raise
    pool.shutdown(wait=True)


def _stop(pool: ProcessPoolExecutor) -> None:
    """End a pool's workers now: cancel what is queued, terminate what runs."""
    # The executor offers no way to stop a running job; its processes are the only handle.
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + 5.0
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join(1.0)


#: How often a worker looks whether the process that started it is still there, in seconds.
PARENT_CHECK_SECONDS = 0.5


def _start_worker(parent: int) -> None:
    # For the life of the worker: see one_thread.
    threadpool_limits(limits=1)
    # A parent killed outright (SIGKILL, the out-of-memory killer) cannot end its workers;
    # left alone they would go on loading, holding memory and the run's lock for ever.
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int) -> None:
    """End this worker process as soon as the process that started it is gone."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)


@contextmanager
def one_thread() -> Iterator[None]:
    """Keep this process's BLAS and OpenMP to one thread inside the block.

    Two reasons. The same bytes: a logistic regression fitted with a threaded BLAS differs in
    its last digits with the number of threads, and so with the machine and with how many
    worker processes share it; fitted on one thread, it does not. And speed: the worker
    processes already fill the cores, and a BLAS thread pool in each of them (and in the
    process that started them) only oversubscribes the machine, its threads spinning while
    they wait for work; on two cores a third of the comparison's CPU time went to that.
    Worker processes are always kept to one thread; the stages run inside this block.

    Yields
    ------
    None
    """
    with threadpool_limits(limits=1):
        yield


class _OneThread(Executor):
    """A cluster's executor whose tasks run with one BLAS and OpenMP thread (see one_thread)."""

    def __init__(self, executor: Executor) -> None:
        self._executor = executor

    def submit(self, fn: Callable[..., R], /, *args: object, **kwargs: object) -> Future[R]:
        # Bound here: keywords given to Dask's submit would be read as its own options.
        return self._executor.submit(functools.partial(_one_thread_call, fn, *args, **kwargs))

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._executor.shutdown(wait=wait)


def _one_thread_call(fn: Callable[..., R], *args: object, **kwargs: object) -> R:
    """Call ``fn`` on one thread: a cluster's workers are not ours to configure."""
    with one_thread():
        return fn(*args, **kwargs)


def _submit(
    pool: Executor,
    fn: Callable[[T], R],
    items: list[T],
    weights: Sequence[float] | None,
) -> list[Future[R]]:
    """Submit every item, the heaviest first; the futures come back in input order."""
    order = list(range(len(items)))
    if weights is not None:
        order.sort(key=lambda i: -weights[i])
    futures = {i: pool.submit(fn, items[i]) for i in order}
    return [futures[i] for i in range(len(items))]
