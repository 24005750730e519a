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
from bureau.world.credit import originate
from bureau.world.hardship import BURN_IN, hardship_matrix
from bureau.world.identity import UniqueRegistry
from bureau.world.outcomes import outcomes_table
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


def generate_chunk(scn: Scenario, chunk: int) -> dict[str, pd.DataFrame]:
    """Generate every table of one chunk of persons.

    Parameters
    ----------
    scn
        The scenario.
    chunk
        The 0-based chunk index.

    Returns
    -------
    dict of str to pandas.DataFrame
        One entry per name in :data:`TABLES`. ``persons`` still carries its raw identity
        columns; :func:`settle_persons` finishes it.
    """
    persons = generate_persons(scn, chunk)
    ties = generate_ties(scn, chunk, persons)
    memberships = generate_memberships(scn, chunk, persons)
    history = hardship_matrix(scn, chunk, persons)
    hardship = history[:, BURN_IN:]
    accounts, applications = originate(scn, chunk, persons, memberships, hardship)
    accounts, account_months = repay(scn, chunk, persons, accounts, history)
    records = generate_records(scn, chunk, persons, accounts, account_months)
    signals = generate_signals(scn, chunk, persons, memberships, hardship)
    outcomes = outcomes_table(scn, persons, accounts, account_months)
    return {
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
    tables = generate_chunk(job.scenario, job.chunk)
    rows = {name: len(frame) for name, frame in tables.items()}
    if job.out is None:
        return tables, rows
    for name, frame in tables.items():
        if name != "persons":
            write_table(frame, chunk_file(job.out / name, job.chunk))
    return {"persons": tables["persons"]}, rows
