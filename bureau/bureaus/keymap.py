"""Maps from key values to ids, held as sorted 64-bit hashes.

A bureau looks up hundreds of thousands of keys (identity values, account numbers) in every
month's files, against a map that grows month by month. Hashing each key to one 64-bit number
makes a lookup a binary search and an update a merge of sorted arrays, with no hash table to
rebuild as the map grows. A collision between two of a bureau's few million keys is vanishingly
unlikely.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# The FNV-1a 64-bit prime: multiplying by it before mixing in the next column keeps the
# combined hash order-sensitive.
_MIX = np.uint64(0x100000001B3)


def hash_columns(columns: list[pd.Series | pa.Array | pa.ChunkedArray | np.ndarray]) -> np.ndarray:
    """Hash the values of one or several columns, row by row, to one 64-bit number per row.

    Parameters
    ----------
    columns
        Equal-length columns: pandas Series, Arrow arrays or NumPy arrays. A missing value
        hashes like no other string does.

    Returns
    -------
    numpy.ndarray
        uint64 hashes.
    """
    combined = np.zeros(len(columns[0]), dtype=np.uint64)
    for column in columns:
        if isinstance(column, pd.Series):
            values = column.to_numpy(dtype=object, na_value="\x00")
        elif isinstance(column, pa.Array | pa.ChunkedArray):
            values = pc.fill_null(column, "\x00").to_numpy(zero_copy_only=False)
        else:
            values = column
        with np.errstate(over="ignore"):
            combined = combined * _MIX ^ pd.util.hash_array(values, categorize=False)
    return combined


class KeyMap:
    """Key hashes, sorted, each with one int64 value; a key once added keeps its value.

    Parameters
    ----------
    hashes, values
        Initial keys and their values (hashes need not be sorted; a repeated hash keeps its
        first value).
    """

    def __init__(self, hashes: np.ndarray | None = None, values: np.ndarray | None = None) -> None:
        self.hashes = np.empty(0, dtype=np.uint64)
        self.ids = np.empty(0, dtype=np.int64)
        if hashes is not None and values is not None and len(hashes):
            self.add(hashes, values)

    def __len__(self) -> int:
        return int(self.hashes.size)

    def find(self, hashes: np.ndarray) -> np.ndarray:
        """Return the value of each key, or -1 for a key not held.

        Parameters
        ----------
        hashes
            uint64 key hashes.

        Returns
        -------
        numpy.ndarray
            int64 values.
        """
        if not self.hashes.size:
            return np.full(len(hashes), -1, dtype=np.int64)
        position = np.minimum(np.searchsorted(self.hashes, hashes), self.hashes.size - 1)
        return np.where(self.hashes[position] == hashes, self.ids[position], -1)

    def add(self, hashes: np.ndarray, values: np.ndarray) -> None:
        """Add keys not held yet; a key held, or repeated in ``hashes``, keeps its first value.

        Parameters
        ----------
        hashes
            uint64 key hashes.
        values
            int64 values, one per hash.
        """
        merged = self.merged(hashes, values)
        self.hashes, self.ids = merged.hashes, merged.ids

    def merged(self, hashes: np.ndarray, values: np.ndarray) -> KeyMap:
        """Return a new map with these keys added, as :meth:`add` would; this one is unchanged.

        Parameters
        ----------
        hashes
            uint64 key hashes.
        values
            int64 values, one per hash.

        Returns
        -------
        KeyMap
            The larger map.
        """
        order = np.argsort(hashes, kind="stable")
        hashes, values = hashes[order], np.asarray(values, dtype=np.int64)[order]
        first = np.ones(hashes.size, dtype=bool)
        first[1:] = hashes[1:] != hashes[:-1]
        hashes, values = hashes[first], values[first]
        fresh = self.find(hashes) < 0
        position = np.searchsorted(self.hashes, hashes[fresh])
        out = KeyMap()
        out.hashes = np.insert(self.hashes, position, hashes[fresh])
        out.ids = np.insert(self.ids, position, values[fresh])
        return out
