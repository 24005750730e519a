"""The seed discipline: one independent random generator per (stage, chunk).

A run has a single root seed. Each stochastic step of each chunk of persons draws from its own
:class:`numpy.random.Generator`, derived from the root seed and a stable key made of the stage
name and the chunk index. Nothing uses global random state, so the same scenario and seed give
the same numbers whatever order or process the chunks run in, and adding draws to one stage
never shifts the numbers of another.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri


def stage_key(stage: str) -> int:
    """Return the stable integer key of a stage name.

    Parameters
    ----------
    stage
        The stage name, for example ``"world.persons"``.

    Returns
    -------
    int
        A 32-bit key that is the same in every process and every Python version (unlike
        ``hash``, which is salted per process).
    """
    return zlib.crc32(stage.encode("utf-8"))


def library_seed(seed: int, stage: str) -> int:
    """A seed for a library that takes one integer (LightGBM's ``seed``), fixed by a stage.

    Parameters
    ----------
    seed
        The run's root seed.
    stage
        What the seed is for, for example ``"train:sesame"``.

    Returns
    -------
    int
        A non-negative integer below 2**31, which every such library accepts.
    """
    return (seed + stage_key(stage)) % 2**31


def generator(seed: int, stage: str, chunk: int) -> np.random.Generator:
    """Return the generator of one stage for one chunk.

    Parameters
    ----------
    seed
        The run's root seed (a non-negative integer).
    stage
        The stage name; different names give independent streams.
    chunk
        The 0-based chunk index.

    Returns
    -------
    numpy.random.Generator
        A PCG64 generator seeded by ``SeedSequence(seed, spawn_key=(stage_key(stage), chunk))``.
    """
    sequence = np.random.SeedSequence(entropy=seed, spawn_key=(stage_key(stage), chunk))
    return np.random.Generator(np.random.PCG64(sequence))


# Keyed draws. A draw that belongs to one row (an application, an account-month) is a hash of
# the root seed, the stream, the purpose and the row's keys: it is the same whichever other
# rows exist. A decision that adds or removes an account then shifts no other row's numbers,
# which a position in a shared stream would.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_UNIT = 2.0**-53


def _mix(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, in place on a uint64 array (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        x ^= x >> np.uint64(30)
        x *= _MIX1
        x ^= x >> np.uint64(27)
        x *= _MIX2
        x ^= x >> np.uint64(31)
    return x


class KeyedDraws:
    """Random numbers of one stream, each a pure function of the keys of the row it is for.

    Parameters
    ----------
    seed
        The run's root seed.
    stream
        The stream's name; different names give independent numbers.

    Notes
    -----
    Each method takes a ``purpose`` (a name that separates the draws of one row) and one or
    more integer key arrays, broadcast together: ``uniform("miss", account[:, None],
    month[None, :])`` gives one number per account and month. The numbers come from chained
    splitmix64 hashing, which passes the usual tests of uniformity; they are not a stream, so
    they do not depend on how many rows there are or in which order they come.
    """

    def __init__(self, seed: int, stream: str) -> None:
        base = np.array([seed & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64)
        base ^= np.uint64(stage_key(stream)) << np.uint64(32)
        self._base = _mix(base)[0]

    def bits(self, purpose: str, *keys: np.ndarray | int) -> np.ndarray:
        """Return 64 random bits per broadcast combination of ``keys``.

        Parameters
        ----------
        purpose
            What the draw is for; each purpose gives independent bits.
        *keys
            Integer arrays (or scalars) that identify the row, broadcast together.

        Returns
        -------
        numpy.ndarray
            uint64 array of the broadcast shape.
        """
        h = np.array(self._base ^ np.uint64(stage_key(purpose)), dtype=np.uint64)
        h = _mix(h.reshape(1))
        shape = np.broadcast_shapes(*[np.shape(k) for k in keys])
        h = h.reshape((1,) * max(len(shape), 1))
        # Each key is mixed in at its own shape: a grid of accounts by months mixes once per
        # account, then once per cell.
        with np.errstate(over="ignore"):
            for key in keys:
                h = _mix(h ^ (np.asarray(key, dtype=np.int64).astype(np.uint64) * _GOLDEN))
        if h.shape != shape:
            h = np.broadcast_to(h, shape).copy() if shape else h.reshape(())
        return h

    def uniform(self, purpose: str, *keys: np.ndarray | int) -> np.ndarray:
        """Return uniform numbers on [0, 1), one per broadcast combination of ``keys``.

        Parameters
        ----------
        purpose
            What the draw is for.
        *keys
            Integer arrays (or scalars) that identify the row.

        Returns
        -------
        numpy.ndarray
            float64 array.
        """
        return (self.bits(purpose, *keys) >> np.uint64(11)).astype(np.float64) * _UNIT

    def normal(self, purpose: str, *keys: np.ndarray | int) -> np.ndarray:
        """Return standard normal numbers, by the inverse of the normal distribution function.

        Parameters
        ----------
        purpose
            What the draw is for.
        *keys
            Integer arrays (or scalars) that identify the row.

        Returns
        -------
        numpy.ndarray
            float64 array.
        """
        # The midpoint of the 2**-53 cell keeps the argument strictly inside (0, 1).
        return ndtri(self.uniform(purpose, *keys) + _UNIT / 2)

    def integers(
        self, purpose: str, low: int | np.ndarray, high: int | np.ndarray, *keys: np.ndarray | int
    ) -> np.ndarray:
        """Return integers drawn uniformly from ``low`` (inclusive) to ``high`` (exclusive).

        Parameters
        ----------
        purpose
            What the draw is for.
        low, high
            The bounds, broadcast with the keys.
        *keys
            Integer arrays (or scalars) that identify the row.

        Returns
        -------
        numpy.ndarray
            int64 array.
        """
        u = self.uniform(purpose, *keys)
        low = np.asarray(low, dtype=np.int64)
        span = np.asarray(high, dtype=np.int64) - low
        return low + np.minimum(np.floor(u * span).astype(np.int64), span - 1)

    def geometric(self, purpose: str, p: float | np.ndarray, *keys: np.ndarray | int) -> np.ndarray:
        """Return the number of trials up to the first success, each succeeding with ``p``.

        Parameters
        ----------
        purpose
            What the draw is for.
        p
            The chance of success, in (0, 1], broadcast with the keys.
        *keys
            Integer arrays (or scalars) that identify the row.

        Returns
        -------
        numpy.ndarray
            int64 array of values from 1 on.
        """
        u = self.uniform(purpose, *keys)
        p = np.asarray(p, dtype=float)
        with np.errstate(divide="ignore"):
            trials = np.floor(np.log1p(-u) / np.log1p(-np.minimum(p, 1.0))) + 1
        return np.where(p >= 1.0, 1, trials).astype(np.int64)


@dataclass(frozen=True)
class RowDraws:
    """Keyed draws for the rows of one table: row ``i`` draws with the keys ``keys[..][i]``.

    Parameters
    ----------
    keyed
        The stream.
    keys
        One or more int64 arrays of equal length that together identify each row.
    """

    keyed: KeyedDraws
    keys: tuple[np.ndarray, ...]

    def __len__(self) -> int:
        return len(self.keys[0])

    def take(self, rows: np.ndarray) -> RowDraws:
        """Return the draws of a subset of rows (positions or a boolean mask), or repeated ones.

        Parameters
        ----------
        rows
            Positions or a boolean mask.

        Returns
        -------
        RowDraws
            The draws of those rows, in that order.
        """
        return RowDraws(self.keyed, tuple(k[rows] for k in self.keys))

    def uniform(self, purpose: str) -> np.ndarray:
        """One uniform number on [0, 1) per row (see :meth:`KeyedDraws.uniform`)."""
        return self.keyed.uniform(purpose, *self.keys)

    def integers(self, purpose: str, low: int, high: int) -> np.ndarray:
        """One integer from ``low`` to ``high - 1`` per row (see :meth:`KeyedDraws.integers`)."""
        return self.keyed.integers(purpose, low, high, *self.keys)
