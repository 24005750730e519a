"""Finding the processes a test started, by a mark in their environment."""

from __future__ import annotations

import os
import time


def marked_processes(marker: str) -> list[int]:
    """Pids of the live processes whose environment holds ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if marker.encode() in handle.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


def all_gone(marker: str, seconds: float = 5.0) -> bool:
    """Wait up to ``seconds`` for every process carrying ``marker`` to end."""
    deadline = time.monotonic() + seconds
    while marked_processes(marker):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
