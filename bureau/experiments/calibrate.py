"""Calibration: the values of scenario keys whose runs come closest to published figures.

Optuna's TPE sampler proposes values for the parameters (:mod:`bureau.experiments.targets`),
one trial after another; each trial runs the scenario with them over several seeds, as far
through the chain as the targets' tables need, and scores the seeds' mean of each statistic by
its distance to the target: the objective is the weighted mean of ``((mean - value) /
tolerance) ** 2``. The sampler of trial ``n`` is seeded with the scenario's seed and ``n``, and
the study is kept in SQLite in the output directory, so a calibration interrupted and started
again resumes where it stopped and proposes what it would have proposed without the stop.

A Morris screening (SALib) can come first: it moves one parameter at a time along a few
trajectories through the bounds and reports, per parameter and statistic, the mean absolute
elementary effect (``mu_star``) and its spread (``sigma``), so that a user calibrates only the
keys that move the statistics.

Outputs, in the output directory: ``calibrated.toml`` (a scenario that ``extends`` the input and
sets only the fitted keys), ``fit.{parquet,csv}`` (each target, its tolerance, the best trial's
mean with a 95% interval over seeds, within or not), ``trials.{parquet,csv}``,
``screening.{parquet,csv}`` with ``--screen``, and ``calibration.png``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bureau.config import load_scenario, scenario_to_toml
from bureau.config.scenario import Scenario
from bureau.experiments.figure import calibration_figure
from bureau.experiments.metrics import summarise
from bureau.experiments.screening import RUNS, morris_screening
from bureau.experiments.targets import (
    CalibrationError,
    Parameter,
    Target,
    load_parameters,
    load_targets,
    scenario_values,
)
from bureau.experiments.trials import distance, evaluate, seed_means, with_values
from bureau.rng import generator
from bureau.rundir import write_bytes_atomic, write_text_atomic
from bureau.store.parquet import write_table

logger = logging.getLogger(__name__)

#: The Optuna study's database, in the output directory.
STUDY_FILE = "study.db"

CalibrationProgress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Calibration:
    """What a calibration found.

    Attributes
    ----------
    fit
        One row per target: ``target``, ``statistic``, ``aggregate``, ``value``,
        ``tolerance``, ``weight``, ``seeds``, ``mean``, ``ci_low``, ``ci_high`` (95% Student
        t interval over seeds), ``distance`` (``(mean - value) / tolerance``), ``within``,
        ``source``; for the best trial.
    trials
        One row per trial: ``trial``, ``state``, ``objective``, each parameter's value and
        each target's mean over seeds.
    screening
        With a screening: one row per parameter and target, ``mu_star``, ``mu_star_conf``,
        ``sigma``, and ``mu_star_tolerances`` and ``sigma_tolerances`` (in the target's
        tolerances); else None.
    best
        The fitted value of each scenario key (a parameter that moves several keys gives
        each of them its value).
    scenario
        The calibrated scenario.
    toml
        ``calibrated.toml``'s text.
    out
        The output directory.
    """

    fit: pd.DataFrame
    trials: pd.DataFrame
    screening: pd.DataFrame | None
    best: dict[str, Any]
    scenario: Scenario
    toml: str
    out: Path


def _inputs_digest(
    scenario: Scenario, targets: list[Target], params: list[Parameter], seeds: int
) -> str:
    """What a stored study was made for: a study of other inputs is not resumed."""
    text = json.dumps(
        {
            "scenario": scenario_to_toml(scenario),
            "targets": [repr(t) for t in targets],
            "params": [repr(p) for p in params],
            "seeds": seeds,
        },
        sort_keys=True,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _suggest(trial: Any, params: list[Parameter]) -> dict[str, Any]:
    return {
        p.key: (
            trial.suggest_int(p.key, int(p.low), int(p.high), log=p.log)
            if p.integer
            else trial.suggest_float(p.key, p.low, p.high, log=p.log)
        )
        for p in params
    }


def _counted(study: Any) -> int:
    """Trials that ran to their end: done, or failed for want of a statistic."""
    from optuna.trial import TrialState

    return sum(
        t.state == TrialState.COMPLETE or bool(t.user_attrs.get("no_statistic"))
        for t in study.trials
    )


def _open_study(out: Path, digest: str) -> Any:
    """The output directory's study, new or resumed; a trial a stop cut short is run again."""
    import optuna
    from optuna.trial import TrialState

    # The trials' progress is the caller's to show; Optuna's own lines would repeat it.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage = optuna.storages.RDBStorage(f"sqlite:///{out / STUDY_FILE}")
    study = optuna.create_study(
        study_name="calibration", storage=storage, direction="minimize", load_if_exists=True
    )
    made_for = study.user_attrs.get("inputs")
    if made_for is None:
        study.set_user_attr("inputs", digest)
    elif made_for != digest:
        raise CalibrationError(
            "holds a calibration of other inputs (scenario, targets, parameters or seeds); "
            "give another --out",
            path=out,
        )
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        # Its values come back first, so the study goes on as if it had not stopped.
        study.enqueue_trial(trial.params, skip_if_exists=False)
        study.tell(trial.number, state=TrialState.FAIL)
    return study


def _search(
    scenario: Scenario,
    targets: list[Target],
    params: list[Parameter],
    trials: int,
    seeds: int,
    out: Path,
    workers: int,
    progress: CalibrationProgress | None,
) -> Any:
    import optuna
    from optuna.trial import TrialState

    study = _open_study(out, _inputs_digest(scenario, targets, params, seeds))
    starts = {p.key: int(p.start) if p.integer else p.start for p in params if p.start is not None}
    if starts and not study.trials:
        # The given values come first; the sampler chooses any parameter without one.
        study.enqueue_trial(starts)
    done = _counted(study)
    if progress is not None:
        progress("calibrate", min(done, trials), trials)
    while done < trials:
        # Seeded by the trial's place in the search: the same proposals, resumed or not.
        seed = int(generator(scenario.seed, "calibrate.trial", done).integers(2**32))
        study.sampler = optuna.samplers.TPESampler(seed=seed)
        trial = study.ask()
        values = _suggest(trial, params)
        per_seed = evaluate(
            scenario,
            scenario_values(params, values),
            targets,
            seeds,
            out / RUNS / f"trial-{trial.number}",
            workers,
        )
        trial.set_user_attr("statistics", per_seed.tolist())
        means = seed_means(per_seed)
        objective = distance(means, targets)
        if math.isnan(objective):
            trial.set_user_attr("no_statistic", True)
            study.tell(trial, state=TrialState.FAIL)
            missing = [t.name for t, m in zip(targets, means, strict=True) if m != m]
            logger.warning("trial %d: no value for %s", trial.number, ", ".join(missing))
        else:
            study.tell(trial, objective)
        done += 1
        if progress is not None:
            progress("calibrate", done, trials)
    return study


def _trials_table(study: Any, targets: list[Target], params: list[Parameter]) -> pd.DataFrame:
    rows = []
    for trial in study.trials:
        per_seed = np.array(trial.user_attrs.get("statistics", []), dtype=float)
        means = seed_means(per_seed) if per_seed.size else np.full(len(targets), np.nan)
        rows.append(
            {
                "trial": trial.number,
                "state": trial.state.name.lower(),
                "objective": trial.value if trial.value is not None else math.nan,
                **{p.key: trial.params.get(p.key, math.nan) for p in params},
                **{f"mean.{t.name}": m for t, m in zip(targets, means, strict=True)},
            }
        )
    return pd.DataFrame(rows)


def _fit_table(per_seed: np.ndarray, targets: list[Target]) -> pd.DataFrame:
    values = pd.DataFrame(
        [
            {"cell": "best", "view": t.name, "metric": t.statistic, "value": v}
            for row in per_seed
            for t, v in zip(targets, row, strict=True)
        ]
    )
    summary = summarise(values).set_index("view")
    rows = []
    for t in targets:
        mean = float(summary.loc[t.name, "mean"])
        rows.append(
            {
                "target": t.name,
                "statistic": t.statistic,
                "aggregate": t.aggregate,
                "value": t.value,
                "tolerance": t.tolerance,
                "weight": t.weight,
                "seeds": int(summary.loc[t.name, "seeds"]),
                "mean": mean,
                "ci_low": float(summary.loc[t.name, "ci_low"]),
                "ci_high": float(summary.loc[t.name, "ci_high"]),
                "distance": (mean - t.value) / t.tolerance,
                "within": bool(abs(mean - t.value) <= t.tolerance),
                "source": t.source,
            }
        )
    return pd.DataFrame(rows)


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_key(part: str) -> str:
    return part if _BARE_KEY.match(part) else json.dumps(part)


def calibrated_toml(
    source: str | Path | None,
    scenario: Scenario,
    best: dict[str, Any],
    fit: pd.DataFrame,
    targets_file: str | Path,
) -> str:
    """The calibrated scenario: the input extended with the fitted keys, each commented.

    Parameters
    ----------
    source
        The scenario file or bundled name the calibration started from; None for a scenario
        given as an object, which is then written whole.
    scenario
        That scenario.
    best
        The fitted value of each key.
    fit
        The fit table (:attr:`Calibration.fit`), summarised in the header.
    targets_file
        The targets file, named in the header.

    Returns
    -------
    str
        TOML that :func:`~bureau.load_scenario` reads.
    """
    within = int(fit["within"].sum())
    lines = [
        f"# Calibrated with `bureau calibrate` against {Path(targets_file).name}: "
        f"{within} of {len(fit)} targets within their tolerance.",
        "# Only the fitted keys are set here; everything else is the extended scenario's.",
    ]
    if source is None:
        lines.append(scenario_to_toml(with_values(scenario, best)))
        return "\n".join(lines) + "\n"
    given = Path(source)
    parent = str(given.resolve()) if given.is_file() else f"{given.name.removesuffix('.toml')}.toml"
    lines += [f"extends = {json.dumps(parent)}", ""]
    tables: dict[str, list[str]] = {}
    for key, value in best.items():
        *table, name = key.split(".")
        shown = repr(int(value)) if isinstance(value, int) else repr(float(value))
        tables.setdefault(".".join(_toml_key(p) for p in table), []).append(
            f"{_toml_key(name)} = {shown}  # calibrated"
        )
    for table, entries in tables.items():
        if table:
            lines.append(f"[{table}]")
        lines += [*entries, ""]
    return "\n".join(lines)


def calibrate(
    scenario: Scenario | str | Path,
    targets: str | Path,
    params: str | Path,
    out: str | Path,
    *,
    trials: int = 20,
    seeds: int = 3,
    workers: int = 1,
    screen: bool = False,
    trajectories: int = 4,
    progress: CalibrationProgress | None = None,
) -> Calibration:
    """Search scenario keys for the values whose runs come closest to published figures.

    Parameters
    ----------
    scenario
        A :class:`~bureau.Scenario`, a TOML file or a bundled scenario's name.
    targets
        The targets file (:func:`~bureau.experiments.targets.load_targets`).
    params
        The parameters file (:func:`~bureau.experiments.targets.load_parameters`).
    out
        The output directory, created or resumed.
    trials
        Trials in all, counting those of an earlier, interrupted calibration of the same
        inputs.
    seeds
        Runs per trial, with the scenario's seed plus 0, 1, ..., ``seeds - 1``.
    workers
        Runs at a time, each in its own process with one worker: the results are the same
        whatever this is.
    screen
        Run a Morris screening first.
    trajectories
        The screening's trajectories: ``trajectories * (parameters + 1)`` points, each run
        over ``seeds`` seeds.
    progress
        Called as ``progress("screen" or "calibrate", done, total)``.

    Returns
    -------
    Calibration
        The fit, the trials, the screening and the calibrated scenario.

    Raises
    ------
    CalibrationError
        If a file names an unknown statistic or key, a bound is refused, ``trials`` or
        ``seeds`` is below 1, the output directory holds a calibration of other inputs, or no
        trial gave every statistic.
    bureau.ScenarioError
        If the scenario cannot be loaded.
    """
    if trials < 1:
        raise CalibrationError(f"at least one trial is needed, got {trials}", field="trials")
    if seeds < 1:
        raise CalibrationError(f"at least one seed is needed, got {seeds}", field="seeds")
    if screen and trajectories < 2:
        raise CalibrationError(
            f"a screening needs at least 2 trajectories, got {trajectories}",
            field="trajectories",
        )
    source = None if isinstance(scenario, Scenario) else scenario
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    wanted = load_targets(targets)
    moved = load_parameters(params, scenario)
    # Absolute: a run may be done by a Dask worker with another working directory.
    out = Path(out).absolute()
    out.mkdir(parents=True, exist_ok=True)
    screening = None
    if screen:
        screening = morris_screening(
            scenario, wanted, moved, trajectories, seeds, out, workers, progress
        )
        _write_table(out, "screening", screening)
    study = _search(scenario, wanted, moved, trials, seeds, out, workers, progress)
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        raise CalibrationError(
            "no trial gave a value for every target: see the trials table", path=out
        )
    best_trial = min(complete, key=lambda t: (t.value, t.number))
    best = scenario_values(moved, best_trial.params)
    fit = _fit_table(np.array(best_trial.user_attrs["statistics"], dtype=float), wanted)
    history = _trials_table(study, wanted, moved)
    text = calibrated_toml(source, scenario, best, fit, targets)
    write_text_atomic(out / "calibrated.toml", text)
    _write_table(out, "fit", fit)
    _write_table(out, "trials", history)
    write_bytes_atomic(out / "calibration.png", calibration_figure(history, fit))
    shutil.rmtree(out / RUNS, ignore_errors=True)
    return Calibration(fit, history, screening, best, with_values(scenario, best), text, out)


def _write_table(out: Path, name: str, frame: pd.DataFrame) -> None:
    write_table(frame, out / f"{name}.parquet")
    write_text_atomic(out / f"{name}.csv", frame.to_csv(index=False))
