"""One chunk of the world, from persons to outcomes, and identities settled across chunks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bureau.config.scenario import Scenario
from bureau.formats.national_id import format_national_ids
from bureau.rng import generator
from bureau.store.parquet import chunk_file, write_table
from bureau.world.credit import application_intents, lender_ids, originate
from bureau.world.hardship import BURN_IN, hardship_matrix
from bureau.world.identity import UniqueRegistry
from bureau.world.outcomes import loan_outcomes, outcomes_table
from bureau.world.platforms import generate_memberships
from bureau.world.population import generate_persons
from bureau.world.records import generate_records
from bureau.world.repayment import repay
from bureau.world.signals import generate_signals
from bureau.world.ties import generate_ties

TABLES = (
    "persons",
    "ties",
    "memberships",
    "accounts",
    "account_months",
    "applications",
    "public_records",
    "signals",
    "outcomes",
)
#: The tables that lenders' decisions change; the others are the same whatever is decided.
DECIDED_TABLES = ("accounts", "account_months", "applications", "public_records", "outcomes")


def generate_chunk(
    scn: Scenario,
    chunk: int,
    decisions: pd.DataFrame | None = None,
    tables: tuple[str, ...] = TABLES,
) -> dict[str, pd.DataFrame]:
    """Generate every table of one chunk of persons.

    Parameters
    ----------
    scn
        The scenario.
    chunk
        The 0-based chunk index.
    decisions
        Decisions on the chunk's applications made with bureau scores (see
        :func:`bureau.world.credit.originate`); None: lenders decide on their own.
    tables
        The tables wanted (every one by default); those that no wanted table needs are not
        generated.

    Returns
    -------
    dict of str to pandas.DataFrame
        One entry per name in ``tables``. ``persons`` still carries its raw identity columns;
        :func:`settle_persons` finishes it.
    """
    persons = generate_persons(scn, chunk)
    ties = generate_ties(scn, chunk, persons) if "ties" in tables else None
    memberships = generate_memberships(scn, chunk, persons)
    history = hardship_matrix(scn, chunk, persons)
    hardship = history[:, BURN_IN:]
    accounts, applications, declined = originate(
        scn, chunk, persons, memberships, hardship, decisions
    )
    accounts, account_months = repay(scn, persons, accounts, history)
    _, declined_months = repay(scn, persons, declined, history)
    applications = loan_outcomes(scn, applications, account_months, declined, declined_months)
    records = generate_records(scn, chunk, persons, accounts, account_months)
    signals = (
        generate_signals(scn, chunk, persons, memberships, hardship)
        if "signals" in tables
        else None
    )
    outcomes = outcomes_table(scn, persons, accounts, account_months)
    made = {
        "persons": persons,
        "ties": ties,
        "memberships": memberships,
        "accounts": accounts,
        "account_months": account_months,
        "applications": applications,
        "public_records": records,
        "signals": signals,
        "outcomes": outcomes,
    }
    return {name: made[name] for name in tables}


def settle_persons(
    scn: Scenario, chunk: int, persons: pd.DataFrame, registry: UniqueRegistry
) -> pd.DataFrame:
    """Make a chunk's identity numbers and phones unique world-wide and format them.

    Chunks must be settled in chunk order with the same registry.

    Parameters
    ----------
    scn
        The scenario.
    chunk
        The 0-based chunk index.
    persons
        The chunk's raw persons from :func:`generate_chunk`.
    registry
        The registry holding every earlier chunk's numbers.

    Returns
    -------
    pandas.DataFrame
        The persons with ``national_id``, ``phone`` and ``previous_phone`` as strings.
    """
    rng = generator(scn.seed, "world.identity", chunk)
    n = len(persons)
    male = (persons["gender"] == "M").to_numpy()
    has_prev = persons["previous_phone_number"].to_numpy() >= 0
    phones = np.concatenate(
        [persons["phone_number"].to_numpy(), persons["previous_phone_number"].to_numpy()[has_prev]]
    )
    body, phones = registry.settle(rng, persons["id_body"].to_numpy(), male, phones)
    previous = np.full(n, None, dtype=object)
    previous[has_prev] = phones[n:].astype(str)
    settled = persons.drop(columns=["id_body", "phone_number", "previous_phone_number"])
    settled.insert(1, "national_id", format_national_ids(body))
    settled.insert(5, "phone", phones[:n].astype(str))
    settled.insert(6, "previous_phone", pd.array(previous, dtype="string"))
    return settled


@dataclass(frozen=True)
class ChunkJob:
    """The work of one chunk: what to generate and, when writing, where."""

    scenario: Scenario
    chunk: int
    out: Path | None
    #: Decisions on the chunk's applications made with bureau scores (None: none).
    decisions: pd.DataFrame | None = None
    #: The tables to make.
    tables: tuple[str, ...] = TABLES


def run_chunk(job: ChunkJob) -> tuple[dict[str, pd.DataFrame], dict[str, int]]:
    """Generate one chunk; write its tables (all but persons) when ``job.out`` is set.

    Parameters
    ----------
    job
        The chunk and its destination.

    Returns
    -------
    tuple
        The tables still to be handled by the caller (only ``persons`` when writing, all of
        them otherwise) and the row count of every table.
    """
    tables = generate_chunk(job.scenario, job.chunk, job.decisions, job.tables)
    rows = {name: len(frame) for name, frame in tables.items()}
    if job.out is None:
        return tables, rows
    for name, frame in tables.items():
        if name != "persons":
            write_table(frame, chunk_file(job.out / name, job.chunk))
    return {k: v for k, v in tables.items() if k == "persons"}, rows


@dataclass(frozen=True)
class IntentsJob:
    """The applications of one chunk within a window of months, before any is decided."""

    scenario: Scenario
    chunk: int
    #: The first month and the month after the last.
    months: tuple[int, int]


def chunk_intents(job: IntentsJob) -> pd.DataFrame:
    """Return the applications a chunk's persons would make in a window of months.

    Whether each is made depends on the decisions on the person's earlier applications (a
    person stops applying once they hold enough accounts of a product); the world settles that
    when it is generated with the decisions. Every draw is the world's own.

    Parameters
    ----------
    job
        The chunk and the window.

    Returns
    -------
    pandas.DataFrame
        ``application_id``, ``person_id``, ``lender_id``, ``product``, ``month`` and
        ``own_approved`` (the lender's own screening), in application order.
    """
    scn = job.scenario
    persons = generate_persons(scn, job.chunk)
    memberships = generate_memberships(scn, job.chunk, persons)
    hardship = hardship_matrix(scn, job.chunk, persons)[:, BURN_IN:]
    _, intents = application_intents(scn, job.chunk, persons, memberships, hardship)
    month = intents["month"].to_numpy()
    intents = intents[(month >= job.months[0]) & (month < job.months[1])]
    return pd.DataFrame(
        {
            "application_id": intents["application_id"].to_numpy(),
            "person_id": persons["person_id"].to_numpy()[intents["p"].to_numpy()],
            "lender_id": np.asarray(lender_ids(scn), dtype=object)[intents["lender"].to_numpy()],
            "product": np.asarray(scn.product_ids, dtype=object)[intents["product"].to_numpy()],
            "month": intents["month"].to_numpy().astype(np.int16),
            "own_approved": intents["own_approved"].to_numpy(),
        }
    )
