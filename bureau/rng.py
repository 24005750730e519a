"""The seed discipline: one independent random generator per (stage, chunk).

A run has a single root seed. Each stochastic step of each chunk of persons draws from its own
:class:`numpy.random.Generator`, derived from the root seed and a stable key made of the stage
name and the chunk index. Nothing uses global random state, so the same scenario and seed give
the same numbers whatever order or process the chunks run in, and adding draws to one stage
never shifts the numbers of another.
"""

from __future__ import annotations

import zlib

import numpy as np


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
