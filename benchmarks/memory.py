"""Peak memory of this process and all its descendants, sampled in a thread (Linux).

Two measures: the sum of every process's resident set (RSS), which counts the pages a forked
worker still shares with its parent once per process and so overstates what the tree holds;
and the sum of proportional set sizes (PSS), which splits each shared page among the processes
sharing it: the physical memory the tree takes.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        # A process can end between being listed and being read: it has no children then.
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return kids
    for task in tasks:
        try:
            kids += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            continue
    return kids


def _kib(path: str, key: str) -> int:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _tree(root: int | None) -> list[int]:
    stack, pids = [root or os.getpid()], []
    while stack:
        pid = stack.pop()
        pids.append(pid)
        stack += _children(pid)
    return pids


def tree_rss(root: int | None = None) -> int:
    """Resident memory of a process and every descendant, in bytes (shared pages per process)."""
    return sum(_kib(f"/proc/{pid}/status", "VmRSS:") for pid in _tree(root))


def tree_pss(root: int | None = None) -> int:
    """Proportional set size of a process and every descendant, in bytes (shared pages split)."""
    return sum(_kib(f"/proc/{pid}/smaps_rollup", "Pss:") for pid in _tree(root))


class PeakMemory:
    """Context manager recording the peaks of :func:`tree_rss` and :func:`tree_pss` while open.

    Set :attr:`phase` to name what runs (a stage of the chain, say): :attr:`phase_pss` keeps
    the peak PSS measured under each name.
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak = 0
        self.peak_pss = 0
        self.phase = ""
        self.phase_pss: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        tick = 0
        while not self._stop.is_set():
            # The kernel walks every page table to sum PSS: ten times less often than RSS.
            self._measure(pss=tick % 10 == 0)
            tick += 1
            time.sleep(self.interval)

    def _measure(self, pss: bool = True) -> None:
        self.peak = max(self.peak, tree_rss())
        if pss:
            now = tree_pss()
            self.peak_pss = max(self.peak_pss, now)
            phase = self.phase
            self.phase_pss[phase] = max(self.phase_pss.get(phase, 0), now)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._measure()
