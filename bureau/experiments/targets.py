"""What a calibration aims at and what it may move: targets and parameters, read from TOML.

A target is a statistic of a run's report tables (one column of one table, aggregated over
its rows, optionally only some of them) with the value a published measurement gives it, a
tolerance, a weight and the measurement's source::

    [targets.same_tier]
    statistic = "pairwise.same_tier"   # TABLE.COLUMN of report/
    aggregate = "median"               # over the rows kept: mean, median, min, max or sum
    where = { bureau_a = ["equifax", "experian"] }   # optional: rows whose column is one of these
    value = 0.765
    tolerance = 0.035
    weight = 1.0
    source = "CFPB (2012), Analysis of Differences between Consumer- and Creditor-Purchased Scores"

A parameter is a numeric scenario key and the bounds to search it in, or a name for several
keys that take one value together (``keys``), which keeps the search small where the keys play
the same part::

    [params]
    "bureaus.equifax.defects.status_error" = { low = 0.0, high = 0.05 }
    "population.persons" = { low = 1000, high = 4000, log = true }   # an integer key: integers
    id_missing = { keys = ["bureaus.a.defects.id_missing", "bureaus.b.defects.id_missing"],
                   low = 0.0, high = 0.01 }
    "records.listed_at_start" = { low = 0.005, high = 0.04, start = 0.024 }  # the first trial

Everything is checked before anything runs: an unknown table, column, key or aggregate is an
error naming it (:class:`CalibrationError`), as is a bound the scenario would refuse.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bureau.analysis.agreement import PAIRWISE_COLUMNS
from bureau.analysis.compare import COMPARISON_COLUMNS
from bureau.analysis.file_accuracy import ACCURACY_COLUMNS, CONSUMER_ERROR_COLUMNS
from bureau.analysis.market import LENDING_COLUMNS
from bureau.config import load_scenario, scenario_to_dict
from bureau.config.scenario import Scenario
from bureau.errors import BureauError, ScenarioError
from bureau.experiments.cells import lookup
from bureau.layout import RunLayout
from bureau.pipeline.signal_audit import AUDIT_COLUMNS
from bureau.pipeline.stages import STAGES
from bureau.world.facts import FACT_COLUMNS, REACH_COLUMNS


class CalibrationError(BureauError):
    """A calibration asked for something impossible: an unknown statistic or key, bad bounds."""


@dataclass(frozen=True)
class ReportTable:
    """A report table a target may name: the stage that writes it and its columns."""

    stage: str
    columns: tuple[str, ...]


_AUC = ("rows", "bad_rate", "auc", "gini", "ks")

#: The report tables whose columns targets may name (docs/outputs.md describes them).
REPORT_TABLES: dict[str, ReportTable] = {
    "file_accuracy": ReportTable("accuracy", ACCURACY_COLUMNS),
    "consumer_errors": ReportTable("accuracy", CONSUMER_ERROR_COLUMNS),
    "model_performance": ReportTable(
        "train",
        (
            "bureau",
            "model",
            "status",
            *(
                f"{sample}_{m}"
                for sample in ("development", "out_of_time", "out_of_time_truth")
                for m in _AUC
            ),
        ),
    ),
    "disputes": ReportTable(
        "disputes",
        (
            "bureau",
            "errors",
            "disputed",
            "disputed_share",
            "corrected",
            "corrected_share",
            "rejected",
            "months_to_correction",
            "still_present",
            "still_present_share",
            "consumers_rescored",
            "mean_score_change",
            "share_score_up",
        ),
    ),
    "linkage": ReportTable(
        "reconcile",
        (
            "method",
            "files",
            "persons",
            "keys",
            "true_pairs",
            "linked_pairs",
            "correct_pairs",
            "precision",
            "recall",
            "f1",
            "persons_split",
            "keys_merged",
        ),
    ),
    "coverage_accuracy": ReportTable(
        "reconcile",
        (
            "view",
            "persons_visible",
            "coverage",
            "accounts",
            "account_error_rate",
            "persons_with_error",
            "person_error_rate",
            "wrong_status",
            "other_persons_account",
            "wrongful_public_record",
            "true_defaults",
            "defaults_seen",
            "defaults_seen_share",
        ),
    ),
    "consensus": ReportTable("reconcile", ("view", *_AUC)),
    "comparison": ReportTable("compare", COMPARISON_COLUMNS),
    "pairwise": ReportTable("compare", PAIRWISE_COLUMNS),
    "score_spread": ReportTable(
        "compare",
        (
            "scored_by",
            "persons",
            "median_range",
            "mean_range",
            "share_range_50",
            "share_range_100",
        ),
    ),
    "ablation": ReportTable(
        "compare",
        ("bureau", "removed", "observed_auc", "truth_auc", "observed_auc_gain", "truth_auc_gain"),
    ),
    "signal_audit": ReportTable("compare", AUDIT_COLUMNS),
    "world_facts": ReportTable("market", FACT_COLUMNS),
    "platform_reach": ReportTable("market", REACH_COLUMNS),
    "lending": ReportTable("market", ("round", "lender", *LENDING_COLUMNS)),
    "market_share": ReportTable(
        "market", ("round", "bureau", "subscribers", "inquiries", "share", "revenue")
    ),
    "credit_access": ReportTable(
        "market",
        (
            "round",
            "attribute",
            "group",
            "applications",
            "approval_rate",
            "approval_rate_low",
            "approval_rate_high",
            "approved_known",
            "default_rate",
            "default_rate_low",
            "default_rate_high",
        ),
    ),
    "selection_bias": ReportTable(
        "market",
        (
            "round",
            "bureau",
            "scored",
            "auc_through_the_door",
            "booked",
            "auc_booked",
            "auc_reported",
        ),
    ),
}

#: How a target's column is reduced to one number over the rows kept.
AGGREGATES = ("mean", "median", "min", "max", "sum")


@dataclass(frozen=True)
class Target:
    """One statistic to bring near a published value.

    Attributes
    ----------
    name
        The target's name in the targets file.
    table, column
        The report table and its column.
    aggregate
        One of :data:`AGGREGATES`, over the rows kept (missing values left out).
    where
        Rows kept: each column's value must be one of those listed (all rows when empty).
    value, tolerance, weight
        The published value, how far from it counts as close, and the weight in the
        objective.
    source
        Where the value comes from.
    """

    name: str
    table: str
    column: str
    aggregate: str
    value: float
    tolerance: float
    weight: float = 1.0
    source: str = ""
    where: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    @property
    def statistic(self) -> str:
        """``TABLE.COLUMN``, as the targets file names it."""
        return f"{self.table}.{self.column}"

    @property
    def stage(self) -> str:
        """The stage that writes the target's table."""
        return REPORT_TABLES[self.table].stage

    def measure(self, run: str | Path) -> float:
        """The statistic in a finished run.

        Parameters
        ----------
        run
            A run directory that has been through :attr:`stage`.

        Returns
        -------
        float
            The aggregate over the rows kept; NaN when no row with a value is kept.
        """
        frame = pd.read_parquet(RunLayout(run).report_file(self.table))
        kept = np.ones(len(frame), dtype=bool)
        for column, values in self.where.items():
            kept &= frame[column].isin(list(values)).to_numpy()
        numbers = pd.to_numeric(frame.loc[kept, self.column], errors="coerce").dropna()
        if numbers.empty:
            return math.nan
        return float(getattr(numbers, self.aggregate)())


@dataclass(frozen=True)
class Parameter:
    """A numeric scenario key, or keys moved together, and the bounds a calibration searches.

    Attributes
    ----------
    key
        The parameter's name: the dotted scenario key, or the name given to :attr:`keys`.
    low, high
        The bounds, both included.
    log
        Search on a log scale (both bounds above zero).
    integer
        The keys hold integers: only integers are tried.
    keys
        The dotted scenario keys that take the parameter's value; empty for :attr:`key`
        alone.
    start
        The value the first trial tries (None: the sampler's choice).
    """

    key: str
    low: float
    high: float
    log: bool = False
    integer: bool = False
    keys: tuple[str, ...] = ()
    start: float | None = None

    @property
    def moves(self) -> tuple[str, ...]:
        """The scenario keys the parameter sets."""
        return self.keys or (self.key,)


def scenario_values(params: list[Parameter], values: Mapping[str, Any]) -> dict[str, Any]:
    """Each scenario key's value, given each parameter's.

    Parameters
    ----------
    params
        The parameters.
    values
        The value of each parameter, by :attr:`Parameter.key`.

    Returns
    -------
    dict
        The value of every key the parameters move, in the parameters' order.
    """
    return {key: values[p.key] for p in params for key in p.moves}


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CalibrationError("no such file", path=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CalibrationError(f"cannot be read: {exc}", path=path) from None
    except tomllib.TOMLDecodeError as exc:
        raise CalibrationError(f"not valid TOML: {exc}", path=path) from None


def _number(entry: Mapping[str, Any], key: str, where: str, path: Path) -> float:
    value = entry.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CalibrationError(f"must be a finite number, got {value!r}", path=path, field=where)
    return float(value)


def _unknown(entry: Mapping[str, Any], allowed: set[str], where: str, path: Path) -> None:
    extra = sorted(set(entry) - allowed)
    if extra:
        field = f"{where}.{extra[0]}" if where else extra[0]
        raise CalibrationError("unknown key", path=path, field=field)


def _entries(path: Path, table: str, missing: str) -> dict[str, Any]:
    """The one table of a targets or parameters file, not empty."""
    data = _read(path)
    _unknown(data, {table}, "", path)
    entries = data.get(table)
    if not isinstance(entries, dict) or not entries:
        raise CalibrationError(missing, path=path, field=table)
    return entries


def load_targets(path: str | Path) -> list[Target]:
    """Read and check a targets file.

    Parameters
    ----------
    path
        A TOML file with one ``[targets.NAME]`` table per target (see the module's
        documentation).

    Returns
    -------
    list of Target
        In the file's order.

    Raises
    ------
    CalibrationError
        If the file is missing or not TOML, has no target, or a target names an unknown
        table, column or aggregate, or has a missing value, a tolerance not above zero or a
        negative weight. The message names the file and the target's key.
    """
    path = Path(path)
    entries = _entries(path, "targets", "no [targets.NAME] table")
    found = []
    for name, entry in entries.items():
        where = f"targets.{name}"
        if not isinstance(entry, dict):
            raise CalibrationError("must be a table", path=path, field=where)
        _unknown(
            entry,
            {"statistic", "aggregate", "where", "value", "tolerance", "weight", "source"},
            where,
            path,
        )
        statistic = entry.get("statistic")
        table, _, column = str(statistic).partition(".")
        if not isinstance(statistic, str) or table not in REPORT_TABLES:
            known = ", ".join(REPORT_TABLES)
            raise CalibrationError(
                f"unknown statistic {statistic!r}: TABLE.COLUMN of one of {known}",
                path=path,
                field=f"{where}.statistic",
            )
        columns = REPORT_TABLES[table].columns
        if column not in columns:
            raise CalibrationError(
                f"the table {table!r} has no column {column!r} (it has {', '.join(columns)})",
                path=path,
                field=f"{where}.statistic",
            )
        aggregate = entry.get("aggregate", "mean")
        if aggregate not in AGGREGATES:
            raise CalibrationError(
                f"must be one of {', '.join(AGGREGATES)}, got {aggregate!r}",
                path=path,
                field=f"{where}.aggregate",
            )
        rows = entry.get("where", {})
        if not isinstance(rows, dict):
            raise CalibrationError("must be a table of column = values", path=path, field=where)
        kept: dict[str, tuple[Any, ...]] = {}
        for name_of, values in rows.items():
            if name_of not in columns:
                raise CalibrationError(
                    f"the table {table!r} has no column {name_of!r}",
                    path=path,
                    field=f"{where}.where.{name_of}",
                )
            kept[name_of] = tuple(values) if isinstance(values, list) else (values,)
        tolerance = _number(entry, "tolerance", f"{where}.tolerance", path)
        weight = _number({"weight": entry.get("weight", 1.0)}, "weight", f"{where}.weight", path)
        if tolerance <= 0:
            raise CalibrationError("must be above zero", path=path, field=f"{where}.tolerance")
        if weight < 0:
            raise CalibrationError("must not be negative", path=path, field=f"{where}.weight")
        found.append(
            Target(
                name=name,
                table=table,
                column=column,
                aggregate=aggregate,
                value=_number(entry, "value", f"{where}.value", path),
                tolerance=tolerance,
                weight=weight,
                source=str(entry.get("source", "")),
                where=kept,
            )
        )
    if not any(t.weight > 0 for t in found):
        raise CalibrationError("every target has weight 0", path=path, field="targets")
    return found


def load_parameters(path: str | Path, scenario: Scenario) -> list[Parameter]:
    """Read and check a parameters file against the scenario it will change.

    Parameters
    ----------
    path
        A TOML file with a ``[params]`` table: ``"KEY" = { low = ..., high = ..., log = ... }``,
        or ``NAME = { keys = ["KEY", ...], low = ..., high = ... }`` for keys set together;
        either may give the first trial's value (``start``).
    scenario
        The scenario whose keys these are.

    Returns
    -------
    list of Parameter
        In the file's order.

    Raises
    ------
    CalibrationError
        If the file is missing or not TOML, has no parameter, or a key is not a numeric key of
        the scenario (or keys set together mix integers and decimals), its bounds are not
        numbers with ``low < high`` (above zero on a log scale), a ``start`` is outside them, or
        the scenario refuses either bound. The message names the file and the key.
    """
    path = Path(path)
    entries = _entries(path, "params", "no [params] table")
    base = scenario_to_dict(scenario)
    found = []
    for key, entry in entries.items():
        where = f"params.{key}"
        if not isinstance(entry, dict):
            raise CalibrationError(
                "must be a table: { low = ..., high = ... }", path=path, field=where
            )
        _unknown(entry, {"low", "high", "log", "keys", "start"}, where, path)
        keys = entry.get("keys", [key])
        if (
            not isinstance(keys, list)
            or not keys
            or not all(isinstance(k, str) for k in keys)
            or len(set(keys)) < len(keys)
        ):
            raise CalibrationError(
                "must be a list of distinct scenario keys", path=path, field=f"{where}.keys"
            )
        kinds = set()
        for name in keys:
            current = lookup(base, name)
            if isinstance(current, bool) or not isinstance(current, int | float):
                what = "not a key of the scenario" if current is None else "not a numeric key"
                if "keys" in entry:
                    raise CalibrationError(f"{name!r} is {what}", path=path, field=f"{where}.keys")
                raise CalibrationError(what, path=path, field=where)
            kinds.add(isinstance(current, int))
        if len(kinds) > 1:
            raise CalibrationError(
                "mixes integer and decimal keys", path=path, field=f"{where}.keys"
            )
        low = _number(entry, "low", f"{where}.low", path)
        high = _number(entry, "high", f"{where}.high", path)
        log = entry.get("log", False)
        if not isinstance(log, bool):
            raise CalibrationError("must be true or false", path=path, field=f"{where}.log")
        if not low < high:
            raise CalibrationError("low must be below high", path=path, field=where)
        if log and low <= 0:
            raise CalibrationError("a log scale needs low above zero", path=path, field=where)
        integer = kinds == {True}
        if integer and (low != int(low) or high != int(high)):
            raise CalibrationError("an integer key needs integer bounds", path=path, field=where)
        for bound in (low, high):
            try:
                load_scenario(base, dict.fromkeys(keys, int(bound) if integer else bound))
            except ScenarioError as exc:
                raise CalibrationError(
                    f"the scenario refuses {bound:g}: {exc.message}", path=path, field=where
                ) from None
        tied = tuple(keys) if "keys" in entry else ()
        start = None
        if "start" in entry:
            start = _number(entry, "start", f"{where}.start", path)
            if not low <= start <= high or (integer and start != int(start)):
                raise CalibrationError(
                    "must lie within the bounds" + (" and be an integer" if integer else ""),
                    path=path,
                    field=f"{where}.start",
                )
        found.append(Parameter(key, low, high, log, integer, tied, start))
    return found


def needed_stages(targets: list[Target]) -> list[str]:
    """The stages whose tables the targets read, in chain order.

    Parameters
    ----------
    targets
        The targets.

    Returns
    -------
    list of str
        Stages of :data:`~bureau.pipeline.stages.STAGES`: a run of them (with what they
        require) gives every statistic, and stops there.
    """
    wanted = {t.stage for t in targets}
    return [stage for stage in STAGES if stage in wanted]
