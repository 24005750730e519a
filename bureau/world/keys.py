"""Truth keys: world-wide unique ids made inside a chunk without looking at other chunks.

A chunk owns the keys ``chunk * CHUNK_STRIDE + 0 .. CHUNK_STRIDE - 1`` of every table, split
into slots of :data:`SLOT` keys. A table's own rows (applications, accounts held at the start,
a person's public records) are numbered in slot 0; a row that exists because of a row of
another table (the account an approved application opens, the judgment on a charged-off
account) takes its key from that row's key, in a slot of its own. So a row's key never depends
on how many other rows there are: approving one more application shifts no other key. Accounts
opened by applications take slot 1; the records that follow from an account (two per account,
from slots 0 and 1) take slots 2 to 5.
"""

from __future__ import annotations

import numpy as np

# Room for a hundred billion rows of one table per chunk, in ten slots: the scenario allows at
# most bureau.config.scenario.MAX_CHUNKS chunks, and that many chunks of
# 10**12 keys each stay below 2**63.
CHUNK_STRIDE = 1_000_000_000_000
SLOT = 100_000_000_000


def chunk_keys(chunk: int, count: int) -> np.ndarray:
    """Return ``count`` keys of a table's own rows: ``chunk * CHUNK_STRIDE + 0 .. count - 1``.

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


def derived_keys(parents: np.ndarray, slot: int, per_parent: int = 1, index: int = 0) -> np.ndarray:
    """Return the keys of rows made from other rows, each from its parent's key.

    Parameters
    ----------
    parents
        int64 keys of the parent rows (each in slot 0 or 1 of its chunk).
    slot
        The first slot of the derived rows (1 .. 9); with several rows per parent they take
        ``per_parent`` times the parents' range from there.
    per_parent
        How many rows one parent can make.
    index
        Which of them (0 .. ``per_parent - 1``).

    Returns
    -------
    numpy.ndarray
        int64 keys, in the parents' chunks.
    """
    parents = np.asarray(parents, dtype=np.int64)
    chunk, local = np.divmod(parents, CHUNK_STRIDE)
    return chunk * CHUNK_STRIDE + slot * SLOT + local * per_parent + index
