"""A bureau's ingestion pipeline: parse, validate, normalise, resolve identities, load.

The bureau reads only its own feeds (``feeds/<bureau>/``), month by month in the order the
files arrived. Each file is loaded in one transaction and recorded by content hash: a file
already loaded is skipped, so ingesting twice changes nothing, and a run killed in the middle of
a file leaves no trace of it (the transaction never committed) and completes on the next run. A
file that cannot be parsed at all is reported by name and nothing of it loads.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from bureau.bureaus.load import (
    TradelineIds,
    load_identities,
    load_inquiries,
    load_public_records,
    load_signals,
    load_tradelines,
    record_file,
    refresh_tradelines,
)
from bureau.bureaus.resolve import IdentityIndex, commit, resolve
from bureau.bureaus.rules import Validated, validate
from bureau.config.scenario import Scenario
from bureau.engine import map_chunks
from bureau.errors import RunDirectoryError
from bureau.formats import FeedError, ParsedFeed, get_codec
from bureau.formats.schema import RECORDS, from_text, label_months
from bureau.rundir import file_digest
from bureau.store.bulk import read_frame
from bureau.store.credit_file import Consumer, CreditFileBase, Identifier, LoadedFile
from bureau.store.engines import database_engine

logger = logging.getLogger(__name__)

MONTH_FIELDS = {
    name: [f.name for f in specs if f.kind == "month"] for name, specs in RECORDS.items()
}


@dataclass
class IngestReport:
    """What one ingestion did.

    Attributes
    ----------
    bureau
        The bureau.
    files_loaded, files_skipped
        Files loaded now, and files skipped because already loaded.
    failed
        Files that could not be parsed at all: ``(file, reason)``.
    rows_read, rows_loaded, rows_rejected
        Records read from the files loaded, loaded, and rejected.
    by_rule
        Rejected records (and dropped fields) by rule id.
    """

    bureau: str
    files_loaded: int = 0
    files_skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    by_rule: Counter = field(default_factory=Counter)


@dataclass
class _Parsed:
    path: Path
    rel: str
    sha256: str
    feed: ParsedFeed
    rejects: pd.DataFrame
    typed: pd.DataFrame


def feed_files(feeds: Path, bureau: str, suffix: str) -> list[Path]:
    """List a bureau's feed files in arrival order (month, then name).

    Parameters
    ----------
    feeds
        The run's ``feeds/`` directory.
    bureau
        The bureau.
    suffix
        Its intake format's file suffix.

    Returns
    -------
    list of pathlib.Path
        The files.
    """
    root = feeds / bureau
    return sorted(root.glob(f"*/*{suffix}"), key=lambda p: (p.parent.name, p.name))


def _normalise(scn: Scenario, checked: Validated, record_type: str) -> pd.DataFrame:
    """Typed records with months as integers, plus ``line``."""
    text = checked.records
    typed = from_text(text, record_type)
    for name in MONTH_FIELDS[record_type]:
        present = typed[name].notna()
        months = pd.Series(pd.NA, index=typed.index, dtype="Int64")
        if present.any():
            months[present] = label_months(scn.start_date, typed.loc[present, name])
        typed[name] = months
    typed["line"] = text["line"].to_numpy(dtype=np.int64)
    return typed


def _check(
    scn: Scenario, month: str, feeds_read: list[tuple[Path, str, str, ParsedFeed]]
) -> list[_Parsed]:
    """Validate and normalise a month's files, all files of a record type in one pass."""
    checked: dict[int, tuple[pd.DataFrame, pd.DataFrame]] = {}
    kinds = sorted({feed.record_type for *_, feed in feeds_read})
    for record_type in kinds:
        members = [i for i, (*_, feed) in enumerate(feeds_read) if feed.record_type == record_type]
        together = pd.concat(
            [feeds_read[i][3].records.assign(_file=i) for i in members], ignore_index=True
        )
        result = validate(together, record_type, month)
        typed = _normalise(scn, result, record_type)
        typed["_file"] = result.records["_file"].to_numpy()
        for i in members:
            feed = feeds_read[i][3]
            rejects = result.rejects[result.rejects["_file"] == i].drop(columns="_file")
            if len(feed.rejects):
                rejects = pd.concat(
                    [feed.rejects.assign(action="rejected"), rejects], ignore_index=True
                )
            mine = typed[typed["_file"] == i].drop(columns="_file").reset_index(drop=True)
            checked[i] = (rejects, mine)
    return [
        _Parsed(path, rel, sha, feed, *checked[i])
        for i, (path, rel, sha, feed) in enumerate(feeds_read)
    ]


def _read_state(engine: Engine) -> tuple[IdentityIndex, TradelineIds, set[str]]:
    with engine.connect() as conn:
        keys = read_frame(conn, select(Identifier.kind, Identifier.value, Identifier.consumer_id))
        top = conn.execute(
            select(Consumer.consumer_id).order_by(Consumer.consumer_id.desc()).limit(1)
        ).scalar()
        loaded = set(conn.execute(select(LoadedFile.sha256)).scalars())
        tradelines = TradelineIds.read(conn)
    index = IdentityIndex(
        keys.astype({"kind": "string", "value": "string"}), next_id=(top or 0) + 1
    )
    return index, tradelines, loaded


def ingest_bureau(
    scn: Scenario,
    feeds: Path,
    bureau: str,
    engine: Engine,
    progress: Callable[[int, int], None] | None = None,
) -> IngestReport:
    """Load every feed file of one bureau that is not loaded yet.

    Parameters
    ----------
    scn
        The scenario (the bureau's profile, and the calendar).
    feeds
        The run's ``feeds/`` directory.
    bureau
        The bureau.
    engine
        The bureau's own database.
    progress
        Called as ``progress(files_done, files_total)``.

    Returns
    -------
    IngestReport
        Files and rows read, loaded and rejected.
    """
    profile = scn.bureaus[bureau]
    codec = get_codec(profile.intake_format)
    if not (feeds / bureau).is_dir():
        raise RunDirectoryError(f"no feeds for {bureau}: run bureau furnish first", path=feeds)
    files = feed_files(feeds, bureau, codec.suffix)
    index, tradelines, loaded = _read_state(engine)
    report = IngestReport(bureau)
    done = 0
    months = sorted({f.parent.name for f in files})
    for month in months:
        feeds_read: list[tuple[Path, str, str, ParsedFeed]] = []
        for path in (f for f in files if f.parent.name == month):
            done += 1
            rel = path.relative_to(feeds / bureau).as_posix()
            sha = file_digest(path)
            if sha in loaded:
                # Already loaded, in an earlier run or as an identical file this month.
                report.files_skipped += 1
                continue
            loaded.add(sha)
            try:
                feeds_read.append((path, rel, sha, codec.read(path)))
            except FeedError as exc:
                loaded.discard(sha)
                report.failed.append((rel, exc.message))
                logger.warning("%s: %s", path, exc.message)
        batch = _check(scn, month, feeds_read)
        if progress:
            progress(done, len(files))
        if not batch:
            continue

        arrival = int(label_months(scn.start_date, pd.Series([month]))[0])
        identities = pd.concat(
            [p.typed[["name", "national_id", "phone"]] for p in batch], ignore_index=True
        )
        resolution = resolve(identities, profile.matching, index)
        bounds = np.cumsum([0] + [len(p.typed) for p in batch])
        leaders = resolution.new_consumers
        for parsed, start, stop in zip(batch, bounds[:-1], bounds[1:], strict=True):
            records = parsed.typed.assign(consumer_id=resolution.consumer_id[start:stop])
            mine = leaders[(leaders["row"] >= start) & (leaders["row"] < stop)]
            consumers = identities.iloc[mine["row"].to_numpy()].assign(
                consumer_id=mine["consumer_id"].to_numpy(),
                source_file=parsed.rel,
                source_line=parsed.typed["line"].to_numpy()[mine["row"].to_numpy() - start],
            )
            keys = resolution.new_keys
            keys = keys[(keys["row"] >= start) & (keys["row"] < stop)]
            record_type = parsed.feed.record_type
            with engine.begin() as conn:
                load_identities(conn, consumers, keys, arrival)
                if record_type == "tradeline":
                    after, count = load_tradelines(conn, tradelines, records, arrival, parsed.rel)
                elif record_type == "inquiry":
                    count = load_inquiries(conn, records, arrival, parsed.rel)
                elif record_type == "public_record":
                    count = load_public_records(conn, records, arrival, parsed.rel)
                else:
                    count = load_signals(conn, records, arrival)
                rows_read = len(parsed.feed.records) + len(parsed.feed.rejects)
                record_file(
                    conn,
                    sha256=parsed.sha256,
                    file=parsed.rel,
                    arrival=arrival,
                    record_type=record_type,
                    rows_read=rows_read,
                    rows_loaded=count,
                    rejects=parsed.rejects,
                )
            if record_type == "tradeline":
                tradelines = after
            rejects = parsed.rejects
            refused = rejects[rejects["action"] == "rejected"]
            report.files_loaded += 1
            report.rows_read += rows_read
            report.rows_loaded += count
            report.rows_rejected += int(refused["line"].nunique())
            report.by_rule.update(rejects["rule_id"].tolist())
        commit(index, resolution)
    with engine.begin() as conn:
        refresh_tradelines(conn)
    return report


@dataclass(frozen=True)
class IngestJob:
    """One bureau's ingestion: the scenario, the run directory and the database URL."""

    scenario: Scenario
    run_dir: Path
    bureau: str
    db_url: str | None


def ingest_job(job: IngestJob) -> IngestReport:
    """Ingest one bureau in its own database (a worker-process entry point).

    Parameters
    ----------
    job
        The bureau and where its feeds and database are.

    Returns
    -------
    IngestReport
        What was loaded.
    """
    engine = bureau_engine(job.run_dir, job.bureau, job.db_url)
    try:
        return ingest_bureau(job.scenario, job.run_dir / "feeds", job.bureau, engine)
    finally:
        engine.dispose()


def bureau_engine(run_dir: Path, bureau: str, db_url: str | None = None) -> Engine:
    """Open a bureau's own database, creating its tables if needed.

    Parameters
    ----------
    run_dir
        The run directory (SQLite files go to ``db/<bureau>.db``).
    bureau
        The bureau, which is also its schema on a database server.
    db_url
        A server URL, or None for the SQLite default.

    Returns
    -------
    sqlalchemy.Engine
        The engine; no other bureau's tables are reachable through it.
    """
    return database_engine(run_dir, bureau, CreditFileBase, db_url)


def ingest_all(
    scn: Scenario,
    run_dir: Path,
    bureaus: list[str] | None = None,
    db_url: str | None = None,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> list[IngestReport]:
    """Ingest the feeds of several bureaus, each into its own database.

    Parameters
    ----------
    scn
        The scenario.
    run_dir
        The run directory, holding ``feeds/``.
    bureaus
        The bureaus to ingest; every enabled bureau when None.
    db_url
        A server URL, or None for SQLite files in the run directory.
    workers
        Worker processes, one bureau each at a time.
    progress
        Called as ``progress(bureaus_done, bureaus_total)``.

    Returns
    -------
    list of IngestReport
        One report per bureau, in bureau order.
    """
    chosen = scn.active_bureaus if bureaus is None else bureaus
    jobs = [IngestJob(scn, run_dir, bureau, db_url) for bureau in chosen]
    reports = []
    for done, report in enumerate(map_chunks(ingest_job, jobs, workers), start=1):
        reports.append(report)
        if progress:
            progress(done, len(jobs))
    return reports
