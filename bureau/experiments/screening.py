"""Morris screening (SALib): which scenario keys move which statistics, before a calibration.

Each trajectory moves one key at a time by a step of a grid of :data:`MORRIS_LEVELS` levels of
its range (log keys on their log scale); the elementary effects give, per key and statistic,
``mu_star`` (their mean absolute size) and ``sigma`` (their spread).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bureau.config.scenario import Scenario
from bureau.experiments.targets import Parameter, Target, scenario_values
from bureau.experiments.trials import evaluate, seed_means

#: The levels of the Morris grid.
MORRIS_LEVELS = 4
#: Where the runs go while they run, in the output directory.
RUNS = "runs"


def _morris_points(
    params: list[Parameter], trajectories: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """The Morris design as sampled (log keys on their log scale), and in the keys' units."""
    from SALib.sample import morris

    problem = _problem(params)
    unit = morris.sample(problem, N=trajectories, num_levels=MORRIS_LEVELS, seed=seed)
    points = unit.copy()
    for j, p in enumerate(params):
        if p.log:
            points[:, j] = np.exp(points[:, j])
        if p.integer:
            points[:, j] = np.round(points[:, j])
    return unit, points


def _problem(params: list[Parameter]) -> dict[str, Any]:
    bounds = [[math.log(p.low), math.log(p.high)] if p.log else [p.low, p.high] for p in params]
    return {"num_vars": len(params), "names": [p.key for p in params], "bounds": bounds}


def morris_screening(
    scenario: Scenario,
    targets: list[Target],
    params: list[Parameter],
    trajectories: int,
    seeds: int,
    out: Path,
    workers: int,
    progress: Callable[[str, int, int], None] | None = None,
) -> pd.DataFrame:
    """A Morris screening: how much each parameter moves each statistic.

    Parameters
    ----------
    scenario
        The scenario (its seed draws the design).
    targets, params
        The statistics and the keys.
    trajectories
        Morris trajectories: ``trajectories * (len(params) + 1)`` points.
    seeds
        Runs per point.
    out
        The output directory: the points measured go to ``screening.jsonl`` as they are, and
        are not run again; the runs, to ``runs/screen-<i>`` while they run.
    workers
        Runs at a time.
    progress
        Called as ``progress("screen", points_done, points)``.

    Returns
    -------
    pandas.DataFrame
        One row per parameter and target: ``mu_star``, ``mu_star_conf``, ``sigma``, and
        ``mu_star_tolerances`` and ``sigma_tolerances`` (in the target's tolerances).
    """
    from SALib.analyze import morris

    unit, points = _morris_points(params, trajectories, scenario.seed)
    # Points measured before a stop are kept, one JSON line each, and not run again.
    log = out / "screening.jsonl"
    measured: dict[int, list[float]] = {}
    if log.exists():
        for line in log.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            measured[entry["point"]] = entry["means"]
    for i, point in enumerate(points):
        if i not in measured:
            values = {
                p.key: int(v) if p.integer else float(v) for p, v in zip(params, point, strict=True)
            }
            per_seed = evaluate(
                scenario,
                scenario_values(params, values),
                targets,
                seeds,
                out / RUNS / f"screen-{i}",
                workers,
            )
            means = [None if m != m else float(m) for m in seed_means(per_seed)]
            with log.open("a", encoding="utf-8") as sink:
                sink.write(json.dumps({"point": i, "means": means}) + "\n")
            measured[i] = means
        if progress is not None:
            progress("screen", i + 1, len(points))
    outputs = np.array(
        [[math.nan if m is None else m for m in measured[i]] for i in range(len(points))]
    )
    rows = []
    for k, target in enumerate(targets):
        column = outputs[:, k]
        if np.isnan(column).any():
            found = {"mu_star": [math.nan] * len(params)}
            found |= {"mu_star_conf": found["mu_star"], "sigma": found["mu_star"]}
        else:
            found = morris.analyze(
                _problem(params),
                unit,
                column,
                num_levels=MORRIS_LEVELS,
                seed=scenario.seed,
                print_to_console=False,
            )
        for j, p in enumerate(params):
            rows.append(
                {
                    "parameter": p.key,
                    "target": target.name,
                    "statistic": target.statistic,
                    "mu_star": float(found["mu_star"][j]),
                    "mu_star_conf": float(found["mu_star_conf"][j]),
                    "sigma": float(found["sigma"][j]),
                    "mu_star_tolerances": float(found["mu_star"][j]) / target.tolerance,
                    "sigma_tolerances": float(found["sigma"][j]) / target.tolerance,
                }
            )
    return pd.DataFrame(rows)
