"""A trial of a calibration: the scenario moved, run over seeds, and scored against targets.

Each seed runs in a process of its own with one worker, only as far as the targets' tables
need (:func:`~bureau.experiments.targets.needed_stages`), and its run is deleted once measured:
a calibration keeps the statistics, not the runs.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bureau.config import load_scenario, scenario_to_dict
from bureau.config.scenario import Scenario
from bureau.experiments.targets import Target, needed_stages
from bureau.parallel import map_chunks
from bureau.pipeline.runner import run_stages


@dataclass(frozen=True)
class _SeedJob:
    scenario: Scenario
    path: Path
    stages: tuple[str, ...]
    targets: tuple[Target, ...]


def _seed_job(job: _SeedJob) -> list[float]:
    """Run one seed as far as the targets need (a worker-process entry point), measure it."""
    run_stages(job.path, job.scenario, stages=list(job.stages), workers=1, force=True)
    values = [target.measure(job.path) for target in job.targets]
    # A calibration keeps the statistics, not the runs: hundreds of runs would fill the disk.
    shutil.rmtree(job.path, ignore_errors=True)
    return values


def with_values(scenario: Scenario, values: dict[str, Any], seed: int | None = None) -> Scenario:
    """The scenario with the keys set (and the seed, when given).

    Parameters
    ----------
    scenario
        The scenario.
    values
        The value of each dotted key.
    seed
        The seed, or None to keep the scenario's.

    Returns
    -------
    Scenario
        The scenario, validated.
    """
    changes = dict(values) if seed is None else {**values, "seed": seed}
    return load_scenario(scenario_to_dict(scenario), changes)


def evaluate(
    scenario: Scenario,
    values: dict[str, Any],
    targets: list[Target],
    seeds: int,
    folder: Path,
    workers: int,
) -> np.ndarray:
    """Each target's statistic in a run of the scenario, moved, for every seed.

    Parameters
    ----------
    scenario
        The scenario.
    values
        The value of each key to set.
    targets
        The targets.
    seeds
        Runs, with the scenario's seed plus 0, 1, ..., ``seeds - 1``.
    folder
        Where the runs go while they run (deleted after).
    workers
        Runs at a time.

    Returns
    -------
    numpy.ndarray
        Seeds by targets; NaN where a run gave no value.
    """
    moved = with_values(scenario, values)
    stages = tuple(needed_stages(targets))
    jobs = [
        _SeedJob(
            with_values(moved, {}, moved.seed + k), folder / f"seed-{k}", stages, tuple(targets)
        )
        for k in range(seeds)
    ]
    found = np.array(list(map_chunks(_seed_job, jobs, workers=workers, fresh=True)), dtype=float)
    shutil.rmtree(folder, ignore_errors=True)
    return found.reshape(seeds, len(targets))


def seed_means(per_seed: np.ndarray) -> np.ndarray:
    """The mean over seeds of each statistic, NaN where no seed gave one.

    Parameters
    ----------
    per_seed
        Seeds by targets (:func:`evaluate`).

    Returns
    -------
    numpy.ndarray
        One mean per target.
    """
    given = ~np.isnan(per_seed)
    count = given.sum(axis=0)
    total = np.where(given, per_seed, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def distance(means: Sequence[float], targets: Sequence[Target]) -> float:
    """The objective: the weighted mean of each statistic's squared distance in tolerances.

    Parameters
    ----------
    means
        Each target's statistic (its mean over seeds).
    targets
        The targets.

    Returns
    -------
    float
        ``sum(w * ((mean - value) / tolerance) ** 2) / sum(w)``; NaN when a target of
        positive weight has no value.
    """
    weights = np.array([t.weight for t in targets])
    z = (np.asarray(means, dtype=float) - [t.value for t in targets]) / [
        t.tolerance for t in targets
    ]
    if np.isnan(z[weights > 0]).any():
        return math.nan
    return float(np.sum(weights * np.nan_to_num(z) ** 2) / weights.sum())
