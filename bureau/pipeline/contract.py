"""The stage contract: what a stage declares, what it is given, what it returns.

A stage is declared once, as data (:class:`Stage`): its name, the stages it requires, and a
function from a :class:`StageContext` to a :class:`StageResult`. The runner
(:mod:`bureau.pipeline.runner`) needs nothing else to run any set of stages in dependency
order, to run a missing prerequisite, to skip what is done and to record it in the manifest.

What makes one run of a stage differ from another is declared too, so that the runner can tell
what is done without knowing the stage: the bureaus it ran for (``per_bureau``), the context
fields its results depend on (``keys``, such as the linkage method), and the windows of months
it has covered (``windowed``), which lets a stage run round after round of a market, each round
recorded as done on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from bureau.config.scenario import Scenario
from bureau.layout import RunLayout

#: ``progress(stage, done, total)``: how far a stage has got, for a progress bar.
StageProgress = Callable[[str, int, int], None]


@dataclass(frozen=True, order=True)
class Window:
    """A window of months, ``start`` included and ``stop`` not: a market round.

    Parameters
    ----------
    start
        The first month.
    stop
        The month after the last.
    """

    start: int
    stop: int

    def __str__(self) -> str:
        return f"{self.start}-{self.stop}"

    def to_list(self) -> list[int]:
        """The window as the manifest records it.

        Returns
        -------
        list of int
            ``[start, stop]``.
        """
        return [self.start, self.stop]


@dataclass(frozen=True)
class StageContext:
    """What a stage is given: the scenario, the run's layout and how to run.

    Parameters
    ----------
    scenario
        The run's scenario.
    layout
        The run directory (or its staging directory) and its databases.
    workers
        Worker processes for chunked work; outputs are identical for any number.
    progress
        Called as ``progress(stage, done, total)``.
    bureaus
        For a per-bureau stage: the bureaus to run it for (every active bureau when None).
    method
        For reconciliation: the linkage method (the scenario's when None).
    window
        For a windowed stage: the months to run it over (the whole run when None).
    """

    scenario: Scenario
    layout: RunLayout
    workers: int = 1
    progress: StageProgress | None = None
    bureaus: tuple[str, ...] | None = None
    method: str | None = None
    window: Window | None = None

    @property
    def linkage(self) -> str:
        """The linkage method: the one asked for, else the scenario's."""
        return self.method or self.scenario.aggregator.linkage

    @property
    def active_bureaus(self) -> list[str]:
        """The bureaus this run of the stage is for, in the scenario's order."""
        if self.bureaus is None:
            return list(self.scenario.active_bureaus)
        return [b for b in self.scenario.active_bureaus if b in self.bureaus]

    def progress_of(self, stage: str) -> Callable[[int, int], None]:
        """A ``progress(done, total)`` callback for one stage.

        Parameters
        ----------
        stage
            The stage's name, as the callback of the context is told.

        Returns
        -------
        callable
            A callback that does nothing when the context has none.
        """

        def update(done: int, total: int) -> None:
            if self.progress:
                self.progress(stage, done, total)

        return update

    def narrowed(self, **changes: Any) -> StageContext:
        """The same context with some fields changed (bureaus, window...).

        Parameters
        ----------
        **changes
            Fields and their new values.

        Returns
        -------
        StageContext
            A new context.
        """
        return replace(self, **changes)


@dataclass(frozen=True)
class StageResult:
    """What a stage did: rows written per table, and whether it changed what others used.

    Stages with more to tell (the reports of every bureau's ingestion, the tables the CLI
    prints) return a subclass with typed fields.

    Parameters
    ----------
    rows
        Rows written per table or figure (``sesame.loaded``, ``comparison``...).
    changed
        Whether the stage replaced anything the stages that require it were made from; a
        stage that found nothing new to do (an ingestion with no new file) says False, and
        what was made after it stays done.
    keys
        The values of the stage's :attr:`Stage.keys` it ran with, defaults resolved (the
        linkage method used when none was asked for): the manifest records them.
    """

    rows: dict[str, int] = field(default_factory=dict)
    changed: bool = True
    keys: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Stage:
    """One stage of a run, declared as data.

    Parameters
    ----------
    name
        The stage's name (the CLI command that runs it alone has the same name).
    requires
        The stages whose outputs it reads; the runner runs any that is not done first.
    run
        The stage itself: a function of the context, returning its result.
    summary
        One line saying what the stage does.
    per_bureau
        It runs for any subset of the bureaus, and is done for a bureau once it has run for
        it: asked for more bureaus, it runs for the ones not done yet.
    keys
        Fields of the context its results depend on (``method``): asked for with other
        values than it ran with, the stage is not done and is run again; asked for with
        none, whatever it ran with stands.
    windowed
        It runs over a window of months at a time, each window done on its own.
    resumable
        Its function skips by itself what it has already done (ingestion skips the files
        it has loaded): asked for by name on an existing run, it is always entered, to pick
        up what is new.
    loads_databases
        It creates the bureaus' databases: until it has run, a run may choose its database;
        once it has, every later stage checks those databases before writing anything.
    """

    name: str
    requires: tuple[str, ...]
    run: Callable[[StageContext], StageResult]
    summary: str = ""
    per_bureau: bool = False
    keys: tuple[str, ...] = ()
    windowed: bool = False
    resumable: bool = False
    loads_databases: bool = False

    def asked_keys(self, ctx: StageContext) -> dict[str, Any]:
        """The values of the stage's :attr:`keys` that a context asks for.

        Parameters
        ----------
        ctx
            The context.

        Returns
        -------
        dict
            Key to value, for the keys the context gives a value (not None).
        """
        values = {key: getattr(ctx, key) for key in self.keys}
        return {key: value for key, value in values.items() if value is not None}
