"""A bureau's ingestion pipeline: parse, validate, normalise, resolve identities, load.

The bureau reads only its own feeds (``feeds/<bureau>/``), month by month in the order the
files arrived. The files of a month are loaded together in one transaction, each recorded by
content hash: a file already loaded is skipped, so ingesting twice changes nothing, and a run
killed in the middle of a month leaves no trace of that month's files (the transaction never
committed) and completes on the next run. One transaction per month rather than per file spares
a commit, and the pandas work of splitting a month by file, for each of hundreds of files. A
file that cannot be parsed at all is reported by name and nothing of it loads; the rest of its
month loads. A file once loaded is never replaced: delivered again with other contents under
the same name, it is refused (a furnisher corrects reports in a later month's delivery). An
entry of the feed tree that is no feed file is named and skipped (see
:mod:`bureau.bureaus.feed_tree`). Every file is named relative to the bureau's feeds.
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

from bureau.bureaus.feed_tree import regular_files_bytes, scan_feeds
from bureau.bureaus.load import (
    Disagreement,
    load_contacts,
    load_identities,
    load_inquiries,
    load_public_records,
    load_signals,
    record_file,
)
from bureau.bureaus.load_tradelines import TradelineIds, load_tradelines, refresh_tradelines
from bureau.bureaus.resolve import IdentityIndex, commit, resolve
from bureau.bureaus.rules import Validated, validate
from bureau.config.scenario import Scenario
from bureau.errors import RunDirectoryError
from bureau.formats import FeedError, ParsedFeed, get_codec
from bureau.formats.schema import RECORDS, from_text, label_months, month_labels, month_numbers
from bureau.layout import RunLayout
from bureau.parallel import map_chunks
from bureau.rundir import file_digest
from bureau.store.bulk import read_frame
from bureau.store.credit_file import Consumer, Identifier, LoadedFile

logger = logging.getLogger(__name__)

MONTH_FIELDS = {
    name: [f.name for f in specs if f.kind == "month"] for name, specs in RECORDS.items()
}


@dataclass
class IngestSummary:
    """What one ingestion did.

    Attributes
    ----------
    bureau
        The bureau.
    files_loaded, files_skipped
        Files loaded now, and files skipped because already loaded.
    failed
        Files of which nothing loaded (they cannot be parsed at all, cannot be read, or
        changed since they were loaded): ``(file, reason)``.
    ignored
        Everything else not loaded: entries of the feed tree that are no feed file, columns
        of a file unknown to its format, records that disagree with what another month's
        delivery furnished: ``(path, reason)``.
    rows_read, rows_loaded, rows_rejected
        Records read from the files loaded, loaded, and rejected.
    by_rule
        Rejected records (and dropped fields) by rule id.

    Every path is relative to the bureau's feeds.
    """

    bureau: str
    files_loaded: int = 0
    files_skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)
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


def _normalise(scn: Scenario, checked: Validated, record_type: str) -> pd.DataFrame:
    """Typed records with months as integers, plus ``line``."""
    text = checked.records
    typed = from_text(text, record_type)
    for name in MONTH_FIELDS[record_type]:
        typed[name] = month_numbers(scn.start_date, text[name])
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
        # Validation keeps the records' order, so each file's records are one slice.
        bounds = np.searchsorted(result.records["_file"].to_numpy(), [*members, len(feeds_read)])
        for i, start, stop in zip(members, bounds[:-1], bounds[1:], strict=True):
            feed = feeds_read[i][3]
            rejects = result.rejects[result.rejects["_file"] == i].drop(columns="_file")
            if len(feed.rejects):
                rejects = pd.concat(
                    [feed.rejects.assign(action="rejected"), rejects], ignore_index=True
                )
            checked[i] = (rejects, typed.iloc[start:stop].reset_index(drop=True))
    return [
        _Parsed(path, rel, sha, feed, *checked[i])
        for i, (path, rel, sha, feed) in enumerate(feeds_read)
    ]


def _read_state(engine: Engine) -> tuple[IdentityIndex, TradelineIds, dict[str, int], set[str]]:
    """The identity keys, tradeline numbers, and loaded files (month by path, hashes)."""
    with engine.connect() as conn:
        keys = read_frame(conn, select(Identifier.kind, Identifier.value, Identifier.consumer_id))
        top = conn.execute(
            select(Consumer.consumer_id).order_by(Consumer.consumer_id.desc()).limit(1)
        ).scalar()
        files = conn.execute(select(LoadedFile.file, LoadedFile.arrival, LoadedFile.sha256)).all()
        tradelines = TradelineIds.read(conn)
    index = IdentityIndex(
        keys.astype({"kind": "string", "value": "string"}), next_id=(top or 0) + 1
    )
    return index, tradelines, {f: a for f, a, _ in files}, {sha for *_, sha in files}


def _fail(report: IngestSummary, rel: str, reason: str) -> None:
    report.failed.append((rel, reason))
    # The report carries it to the user; the log only follows along.
    logger.info("%s: %s: %s", report.bureau, rel, reason)


def ingest_bureau(
    scn: Scenario,
    feeds: Path,
    bureau: str,
    engine: Engine,
    progress: Callable[[int, int], None] | None = None,
) -> IngestSummary:
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
    IngestSummary
        Files and rows read, loaded and rejected.
    """
    profile = scn.bureaus[bureau]
    codec = get_codec(profile.intake_format)
    if not (feeds / bureau).is_dir():
        raise RunDirectoryError(f"no feeds for {bureau}: run bureau furnish first", path=feeds)
    tree = scan_feeds(feeds / bureau, codec.suffix, scn.start_date, scn.months)
    index, tradelines, loaded_at, loaded = _read_state(engine)
    report = IngestSummary(bureau, ignored=list(tree.ignored))
    total = len(tree.files)
    done = 0
    for month, files in tree.months:
        feeds_read: list[tuple[Path, str, str, ParsedFeed]] = []
        for path in files:
            done += 1
            rel = path.relative_to(feeds / bureau).as_posix()
            try:
                sha = file_digest(path)
            except OSError as exc:
                _fail(report, rel, f"cannot be read: {exc.strerror}")
                continue
            if sha in loaded:
                # Already loaded, in an earlier run or as an identical file this month.
                report.files_skipped += 1
                continue
            if rel in loaded_at:
                when = month_labels(scn.start_date, np.array([loaded_at[rel]]))[0]
                _fail(
                    report,
                    rel,
                    f"changed since it was loaded in {when}: a loaded file is never replaced; "
                    "a correction comes in a later month's delivery",
                )
                continue
            loaded.add(sha)
            try:
                feed = codec.read(path)
            except FeedError as exc:
                loaded.discard(sha)
                # The row and field, without the path the file was read by.
                _fail(report, rel, str(FeedError(exc.message, row=exc.row, field=exc.field)))
                continue
            except OSError as exc:
                loaded.discard(sha)
                _fail(report, rel, f"cannot be read: {exc.strerror}")
                continue
            feeds_read.append((path, rel, sha, feed))
            unknown = feed.header.get("ignored_columns")
            if unknown:
                report.ignored.append(
                    (rel, f"column(s) {unknown} unknown to the format: not loaded")
                )
        batch = _check(scn, month, feeds_read)
        if progress:
            progress(done, total)
        if not batch:
            continue

        arrival = int(label_months(scn.start_date, pd.Series([month]))[0])
        tradelines, disagreements = _load_month(
            engine, profile.matching, index, tradelines, batch, arrival
        )
        report.ignored += [(d.file, d.reason) for d in disagreements]
        for parsed in batch:
            rejects = parsed.rejects
            report.files_loaded += 1
            report.rows_read += len(parsed.feed.records) + len(parsed.feed.rejects)
            report.rows_loaded += len(parsed.typed)
            report.rows_rejected += int(
                rejects.loc[rejects["action"] == "rejected", "line"].nunique()
            )
            report.by_rule.update(rejects["rule_id"].tolist())
    with engine.begin() as conn:
        refresh_tradelines(conn)
    return report


def _load_month(
    engine: Engine,
    rules: list[str],
    index: IdentityIndex,
    tradelines: TradelineIds,
    batch: list[_Parsed],
    arrival: int,
) -> tuple[TradelineIds, list[Disagreement]]:
    """Resolve and load a month's checked files in one transaction.

    Returns the tradeline ids after them, and the files whose records disagree with what
    another month's delivery furnished (not loaded).

    A month's delivery goes in whole or not at all: every file of it is recorded by content
    hash in the same transaction as its records, so a run killed before the commit leaves
    no trace of any of them, and the next run loads them all again.
    """
    identities = pd.concat(
        [p.typed[["name", "national_id", "phone"]] for p in batch], ignore_index=True
    )
    resolution = resolve(identities, rules, index)
    sizes = [len(p.typed) for p in batch]
    source_file = np.repeat(np.array([p.rel for p in batch], dtype=object), sizes)
    source_line = np.concatenate([p.typed["line"].to_numpy(dtype=np.int64) for p in batch])
    leaders = resolution.new_consumers["row"].to_numpy()
    consumers = identities.iloc[leaders].assign(
        consumer_id=resolution.new_consumers["consumer_id"].to_numpy(),
        source_file=source_file[leaders],
        source_line=source_line[leaders],
    )
    records = {}
    bounds = np.cumsum([0, *sizes])
    for parsed, start, stop in zip(batch, bounds[:-1], bounds[1:], strict=True):
        records.setdefault(parsed.feed.record_type, []).append(
            parsed.typed.assign(
                consumer_id=resolution.consumer_id[start:stop], source_file=parsed.rel
            )
        )
    after = tradelines
    disagreements: list[Disagreement] = []
    with engine.begin() as conn:
        load_identities(conn, consumers, resolution.new_keys, arrival)
        for record_type, parts in records.items():
            together = pd.concat(parts, ignore_index=True)
            if record_type == "tradeline":
                after = load_tradelines(conn, tradelines, together, arrival)
            elif record_type == "inquiry":
                load_inquiries(conn, together, arrival)
            elif record_type == "public_record":
                disagreements += load_public_records(conn, together, arrival)
            elif record_type == "contact":
                load_contacts(conn, together, arrival)
            else:
                disagreements += load_signals(conn, together, arrival)
        for parsed in batch:
            record_file(
                conn,
                sha256=parsed.sha256,
                file=parsed.rel,
                arrival=arrival,
                record_type=parsed.feed.record_type,
                rows_read=len(parsed.feed.records) + len(parsed.feed.rejects),
                rows_loaded=len(parsed.typed),
                rejects=parsed.rejects,
            )
    commit(index, resolution)
    return after, disagreements


@dataclass(frozen=True)
class IngestJob:
    """One bureau's ingestion: the scenario, the run (its feeds and databases) and the bureau."""

    scenario: Scenario
    run: RunLayout
    bureau: str


def ingest_job(job: IngestJob) -> IngestSummary:
    """Ingest one bureau in its own database (a worker-process entry point).

    Parameters
    ----------
    job
        The bureau and its run.

    Returns
    -------
    IngestSummary
        What was loaded.
    """
    with job.run.bureau_database(job.bureau) as engine:
        return ingest_bureau(job.scenario, job.run.feeds, job.bureau, engine)


def feed_bytes(run: RunLayout, bureau: str) -> int:
    """The size of a bureau's feeds: what its ingestion, and every later stage of it, has to do.

    Parameters
    ----------
    run
        The run.
    bureau
        The bureau.

    Returns
    -------
    int
        Bytes of its feed files (0 before furnishing), to start the largest bureau first.
    """
    return regular_files_bytes(run.feeds_of(bureau))


def ingest_all(
    scn: Scenario,
    run: RunLayout,
    bureaus: list[str] | None = None,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> list[IngestSummary]:
    """Ingest the feeds of several bureaus, each into its own database.

    Parameters
    ----------
    scn
        The scenario.
    run
        The run, holding the feeds, and its databases.
    bureaus
        The bureaus to ingest; every enabled bureau when None.
    workers
        Worker processes, one bureau each at a time.
    progress
        Called as ``progress(bureaus_done, bureaus_total)``.

    Returns
    -------
    list of IngestSummary
        One report per bureau, in bureau order.
    """
    chosen = scn.active_bureaus if bureaus is None else bureaus
    jobs = [IngestJob(scn, run, bureau) for bureau in chosen]
    weights = [feed_bytes(run, bureau) for bureau in chosen]
    reports = []
    if progress:
        progress(0, len(jobs))
    for done, report in enumerate(map_chunks(ingest_job, jobs, workers, weights), start=1):
        reports.append(report)
        if progress:
            progress(done, len(jobs))
    return reports
