"""The furnishing stage: the world's data sources write each bureau's feed files.

For each bureau and each of its channels, the records are split by the month they arrive in and
written in the bureau's intake format to ``feeds/<bureau>/<YYYY-MM>/<source>.<record type>``.
The truth about every record (whose it is, which world row, which defects) goes to
``truth/furnished/<bureau>/`` and ``truth/defects/<bureau>/``, a file per window of arrival
months furnished, out of reach of the bureaus, which read only their own feeds.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd

from bureau.config.scenario import Scenario
from bureau.formats import get_codec
from bureau.formats.schema import month_labels
from bureau.furnish.channels import channels
from bureau.furnish.court_records import public_records
from bureau.furnish.feeds import Batch, inquiries, tradelines
from bureau.furnish.platform_data import contacts, signals
from bureau.layout import RunLayout
from bureau.parallel import map_chunks
from bureau.rng import KeyedDraws
from bureau.store.parquet import read_table, write_table

TRUTH_COLUMNS = (
    "file",
    "line",
    "record_type",
    "source",
    "central",
    "arrival",
    "person_id",
    "truth_key",
    "data_month",
    "defect",
    "identity_of",
)


@dataclass(frozen=True)
class FurnishJob:
    """One bureau's furnishing: the scenario, the run, and where its feeds and truth go."""

    scenario: Scenario
    bureau: str
    #: The run, holding the world.
    run: RunLayout
    #: Where the feeds and the truth are written (a staging directory of the run).
    out: RunLayout
    #: The arrival months to furnish: from the first up to, not including, the second. None:
    #: the whole window of the scenario.
    months: tuple[int, int] | None = None

    @property
    def window(self) -> tuple[int, int]:
        """The arrival months furnished, first and last-but-one."""
        return self.months if self.months is not None else (0, self.scenario.months)


# The world tables each record type is built from.
_SOURCES = {
    "tradeline": ("accounts", "account_months"),
    "inquiry": ("applications",),
    "public_record": ("public_records",),
    "signal": ("memberships", "signals"),
    "contact": ("memberships", "ties"),
}


def _world(run: RunLayout, record_types: set[str]) -> dict[str, pd.DataFrame]:
    """Read the persons' identities and only the tables the bureau's channels need."""
    tables = {
        "persons": read_table(
            run.world_table("persons"),
            ["person_id", "name", "national_id", "phone", "previous_phone", "phone_since"],
        ).set_index("person_id")
    }
    for record_type in sorted(record_types):
        for name in _SOURCES[record_type]:
            if name not in tables:
                tables[name] = read_table(run.world_table(name))
    return tables


def _batch(job: FurnishJob, tables: dict[str, pd.DataFrame], channel, record_type: str) -> Batch:
    scn = job.scenario
    defects = scn.bureaus[job.bureau].defects
    # Keyed by each record's own keys: a window of months, or a world where one more loan was
    # approved, draws the same numbers for every record the two have in common.
    keyed = KeyedDraws(scn.seed, f"furnish.{job.bureau}.{channel.source}.{record_type}")
    persons, at = tables["persons"], (scn, keyed, job.window, channel, defects)
    if record_type == "tradeline":
        return tradelines(*at, tables["accounts"], tables["account_months"], persons)
    if record_type == "inquiry":
        return inquiries(*at, tables["applications"], persons)
    if record_type == "public_record":
        return public_records(*at, tables["public_records"], persons)
    if record_type == "contact":
        return contacts(*at, tables["memberships"], tables["ties"], persons)
    return signals(*at, tables["memberships"], tables["signals"], persons)


def furnish_bureau(job: FurnishJob) -> dict[str, int]:
    """Write every feed file of one bureau and the truth about its records.

    Parameters
    ----------
    job
        The bureau and the run's directories.

    Returns
    -------
    dict of str to int
        Records written per record type, and ``files``.
    """
    scn = job.scenario
    codec = get_codec(scn.bureaus[job.bureau].intake_format)
    feeds = channels(scn, job.bureau)
    tables = _world(job.run, {t for channel in feeds for t in channel.record_types})
    root = job.out.feeds_of(job.bureau)
    truth_parts, defect_parts = [], []
    counts = {"tradeline": 0, "inquiry": 0, "public_record": 0, "signal": 0, "contact": 0}
    counts["files"] = 0
    for channel in feeds:
        for record_type in channel.record_types:
            batch = _batch(job, tables, channel, record_type)
            if batch.records.empty:
                continue
            arrival = batch.truth["arrival"].to_numpy()
            order = np.argsort(arrival, kind="stable")
            labels = month_labels(scn.start_date, arrival[order])
            bounds = np.flatnonzero(np.r_[True, arrival[order][1:] != arrival[order][:-1], True])
            file_of = np.empty(len(order), dtype=object)
            line_of = np.empty(len(order), dtype=np.int64)
            for start, stop in pairwise(bounds):
                rows = order[start:stop]
                label = labels[start]
                rel = f"{label}/{channel.source}.{record_type}{codec.suffix}"
                path = root / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                codec.write(
                    path, record_type, batch.records.iloc[rows], sender=channel.source, month=label
                )
                file_of[rows] = rel
                line_of[rows] = codec.first_record_line + np.arange(rows.size)
                counts["files"] += 1
            counts[record_type] += len(batch.records)
            if batch.skipped is not None and len(batch.skipped):
                truth_parts.append(
                    batch.skipped.assign(
                        file="",
                        line=-1,
                        record_type=record_type,
                        source=channel.source,
                        central=channel.central,
                    )[list(TRUTH_COLUMNS)]
                )
            truth_parts.append(
                batch.truth.assign(
                    file=file_of,
                    line=line_of,
                    record_type=record_type,
                    source=channel.source,
                    central=channel.central,
                )[list(TRUTH_COLUMNS)]
            )
            if len(batch.defects):
                positions = batch.defects["position"].to_numpy(dtype=np.int64)
                defect_parts.append(
                    pd.DataFrame(
                        {
                            "file": file_of[positions],
                            "line": line_of[positions],
                            "field": batch.defects["field"].to_numpy(),
                            "defect": batch.defects["defect"].to_numpy(),
                            "true_value": batch.defects["true_value"].astype("string").to_numpy(),
                            "reported_value": batch.defects["reported_value"]
                            .astype("string")
                            .to_numpy(),
                        }
                    )
                )
    truth = (
        pd.concat(truth_parts, ignore_index=True)
        if truth_parts
        else pd.DataFrame(columns=TRUTH_COLUMNS)
    )
    write_table(truth, job.out.window_file(job.out.furnished_truth(job.bureau), job.window))
    defects = (
        pd.concat(defect_parts, ignore_index=True)
        if defect_parts
        else pd.DataFrame(
            columns=["file", "line", "field", "defect", "true_value", "reported_value"]
        )
    )
    write_table(
        defects.astype({"true_value": "string", "reported_value": "string"}),
        job.out.window_file(job.out.defects_truth(job.bureau), job.window),
    )
    return counts


def workload(scn: Scenario, run: RunLayout) -> list[float]:
    """Estimate how many records each enabled bureau's channels carry.

    Used only to start the largest bureaus first when several workers furnish; it reads two
    small world tables.

    Parameters
    ----------
    scn
        The scenario.
    run
        The run.

    Returns
    -------
    list of float
        One estimate per bureau of :attr:`Scenario.active_bureaus`.
    """
    accounts = read_table(run.world_table("accounts"), ["lender_id", "open_month", "close_month"])
    # -1 marks an account still open at the end of the window.
    close = accounts["close_month"].to_numpy(dtype=np.int64)
    end = np.where(close < 0, scn.months, close + 1)
    months = np.clip(end - np.maximum(accounts["open_month"].to_numpy(dtype=np.int64), 0), 0, None)
    per_source = pd.Series(months).groupby(accounts["lender_id"].astype(str).to_numpy()).sum()
    members = read_table(run.world_table("memberships"), ["platform_id"])["platform_id"].astype(str)
    # Platforms send a summary per member and quarter.
    per_source = per_source.add(members.value_counts() * scn.months / 3, fill_value=0)
    return [
        float(sum(per_source.get(channel.source, 0) for channel in channels(scn, bureau)))
        for bureau in scn.active_bureaus
    ]


def furnish_all(
    scn: Scenario,
    run: RunLayout,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
    months: tuple[int, int] | None = None,
) -> dict[str, int]:
    """Write the feeds of every enabled bureau, all or nothing.

    Feeds and truth are written under temporary names in the run directory and moved into
    place when every bureau is done, so an interrupted furnishing leaves no partial feeds.

    Parameters
    ----------
    scn
        The scenario.
    run
        The run, holding the world.
    workers
        Worker processes (one bureau each at a time); the files do not depend on it.
    progress
        Called as ``progress(bureaus_done, bureaus_total)``.
    months
        The arrival months to furnish (the first, and the month after the last): only their
        month folders and truth are replaced, the others are kept. None furnishes the whole
        run and replaces every feed.

    Returns
    -------
    dict of str to int
        Records written per record type over all bureaus, and files written.
    """
    staging = Path(tempfile.mkdtemp(prefix=".furnish.", dir=run.root))
    staged = run.moved_to(staging)
    try:
        jobs = [FurnishJob(scn, bureau, run, staged, months) for bureau in scn.active_bureaus]
        totals: dict[str, int] = {}
        weights = workload(scn, run) if workers > 1 else None
        if progress:
            progress(0, len(jobs))
        done_jobs = map_chunks(furnish_bureau, jobs, workers, weights)
        for done, counts in enumerate(done_jobs, start=1):
            for key, value in counts.items():
                totals[key] = totals.get(key, 0) + value
            if progress:
                progress(done, len(jobs))
        if months is None:
            for made, target in ((staged.feeds, run.feeds), (staged.truth, run.truth)):
                if target.exists():
                    shutil.rmtree(target)
                made.rename(target)
        else:
            _move_window(staged, run, scn, months)
        return totals
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_window(staged: RunLayout, run: RunLayout, scn: Scenario, months: tuple[int, int]) -> None:
    """Move one window's month folders and truth files into the run, replacing the window's."""
    labels = set(month_labels(scn.start_date, np.arange(*months)))
    for bureau in scn.active_bureaus:
        target = run.feeds_of(bureau)
        target.mkdir(parents=True, exist_ok=True)
        for folder in sorted(p for p in target.iterdir() if p.name in labels):
            shutil.rmtree(folder)
        made = staged.feeds_of(bureau)
        for folder in sorted(made.iterdir()) if made.exists() else []:
            folder.rename(target / folder.name)
        truth = (
            (staged.furnished_truth(bureau), run.furnished_truth(bureau)),
            (staged.defects_truth(bureau), run.defects_truth(bureau)),
        )
        for made_in, kept_in in truth:
            kept_in.mkdir(parents=True, exist_ok=True)
            run.window_file(made_in, months).replace(run.window_file(kept_in, months))
