"""Truth keys: world-wide unique ids made inside a chunk without looking at other chunks."""

from __future__ import annotations

import numpy as np

# Room for a billion rows of one table per chunk.
CHUNK_STRIDE = 1_000_000_000


def chunk_keys(chunk: int, count: int) -> np.ndarray:
    """Return ``count`` keys unique to one chunk: ``chunk * 10**9 + 0 .. count - 1``.

    Parameters
    ----------
    chunk
        The 0-based chunk index.
    count
        How many keys.

    Returns
    -------
    numpy.ndarray
        int64 keys.
    """
    return chunk * CHUNK_STRIDE + np.arange(count, dtype=np.int64)
