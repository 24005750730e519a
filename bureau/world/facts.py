"""The world's own figures, month by month: what published statistics of a market describe.

Coverage of a credit registry, the default rate of borrowers, the share of adults on the
dishonest judgment-debtor list and the reach of each kind of platform are what public sources
report of a real market (see FACTS.md); this table gives the same figures of the synthetic
world, so that a calibration can name them as targets. The world is read one chunk at a time.
"""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import numpy as np
import pandas as pd

from bureau.config.scenario import PlatformKind, Scenario
from bureau.store.parquet import chunk_files, read_table
from bureau.world.common import rows_of
from bureau.world.hardship import interval_cover
from bureau.world.outcomes import HORIZON

PLATFORM_KINDS: tuple[str, ...] = get_args(PlatformKind)
#: The columns of the ``world_facts`` report table.
FACT_COLUMNS = (
    "month",
    "adults",
    "credit_record_share",
    "bank_record_share",
    "borrower_share",
    "default_rate",
    "listed_share",
    *(f"reach_{kind}" for kind in PLATFORM_KINDS),
)
#: The kinds of lender whose accounts make a record in a central credit database.
REGISTERED = ("bank", "consumer_finance")
#: The columns of the ``platform_reach`` report table.
REACH_COLUMNS = ("month", "platform", "kind", "users", "reach")


def world_facts(scn: Scenario, world: Path) -> dict[str, pd.DataFrame]:
    """The world's figures at every month that has a 12-month outcome.

    Parameters
    ----------
    scn
        The scenario (its months and its platforms' kinds).
    world
        The run's ``world/`` directory.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``world_facts``: one row per month (0-based) with :data:`FACT_COLUMNS`: ``adults``;
        the shares of adults with a credit record (an account opened by then, before the
        window included), with one at a bank or consumer-finance company
        (``bank_record_share``: what a central credit database holds), with an account open
        (``borrower_share``), on the dishonest list, and using a platform of each kind; and
        ``default_rate``, the share of the borrowers not in default then who go 90 days past
        due or are charged off in the 12 months after. ``platform_reach``: one row per month
        and platform (:data:`REACH_COLUMNS`), its users and their share of adults, since
        public figures give users platform by platform.
    """
    t = scn.months
    months = t - HORIZON
    kinds = {pid: p.kind for pid, p in scn.platforms.items()}
    # Banks and licensed consumer-finance companies report to a central credit database;
    # platforms and P2P lenders did not in the years FACTS.md gives its coverage for.
    registered = [lid for lid, lender in scn.lenders.items() if lender.kind in REGISTERED]
    counts = {name: np.zeros(months, dtype=np.int64) for name in FACT_COLUMNS[2:]}
    users = {pid: np.zeros(months, dtype=np.int64) for pid in sorted(kinds)}
    at_risk = np.zeros(months, dtype=np.int64)
    adults = 0
    for chunk in range(len(chunk_files(world / "persons"))):
        persons = read_table(world / "persons", ["person_id"], chunk=chunk)
        n = len(persons)
        adults += n
        accounts = read_table(
            world / "accounts", ["person_id", "lender_id", "open_month"], chunk=chunk
        )
        banked = accounts["lender_id"].astype(str).isin(registered).to_numpy()
        for name, kept in (("credit_record_share", slice(None)), ("bank_record_share", banked)):
            first = np.full(n, np.iinfo(np.int64).max)
            np.minimum.at(
                first,
                rows_of(persons, accounts["person_id"].to_numpy()[kept]),
                accounts["open_month"].to_numpy()[kept],
            )
            counts[name] += (first[:, None] <= np.arange(months)).sum(axis=0)

        outcomes = read_table(
            world / "outcomes",
            ["snapshot_month", "default_12m", "borrower", "in_default"],
            chunk=chunk,
        )
        month = outcomes["snapshot_month"].to_numpy(dtype=np.int64)
        borrower = outcomes["borrower"].to_numpy(dtype=bool)
        judged = borrower & ~outcomes["in_default"].to_numpy(dtype=bool)
        bad = judged & outcomes["default_12m"].to_numpy(dtype=bool)
        counts["borrower_share"] += np.bincount(month[borrower], minlength=months)
        at_risk += np.bincount(month[judged], minlength=months)
        counts["default_rate"] += np.bincount(month[bad], minlength=months)

        records = read_table(
            world / "public_records", ["person_id", "kind", "month", "end_month"], chunk=chunk
        )
        listed = records[records["kind"].astype(str) == "dishonest_debtor"]
        counts["listed_share"] += _cover(persons, listed, "month", "end_month", t, months).sum(0)

        members = read_table(world / "memberships", chunk=chunk)
        platform = members["platform_id"].astype(str).to_numpy()
        # Each platform's members once; a kind's reach is the union of its platforms'.
        reached = {name: np.zeros((n, months), dtype=bool) for name in PLATFORM_KINDS}
        for pid in users:
            cover = _cover(
                persons, members[platform == pid], "join_month", "leave_month", t, months
            )
            users[pid] += cover.sum(axis=0)
            reached[kinds[pid]] |= cover
        for name, cover in reached.items():
            counts[f"reach_{name}"] += cover.sum(axis=0)
    table = pd.DataFrame({"month": np.arange(months), "adults": adults})
    for name, count in counts.items():
        base = at_risk if name == "default_rate" else np.full(months, adults)
        table[name] = np.where(base > 0, count / np.maximum(base, 1), np.nan)
    reach = pd.DataFrame(
        {
            "month": np.tile(np.arange(months), len(users)),
            "platform": np.repeat(list(users), months),
            "kind": np.repeat([kinds[pid] for pid in users], months),
            "users": np.concatenate(list(users.values())) if users else np.zeros(0, np.int64),
        }
    )
    reach["reach"] = reach["users"] / adults if adults else np.nan
    reach = reach.sort_values(["month", "platform"], ignore_index=True)
    return {"world_facts": table[list(FACT_COLUMNS)], "platform_reach": reach}


def _cover(
    persons: pd.DataFrame, spells: pd.DataFrame, first: str, end: str, t: int, months: int
) -> np.ndarray:
    """Which persons of a chunk are inside at least one spell, in each of the first months.

    A spell whose end is -1 has not ended within the window.
    """
    ends = spells[end].to_numpy(dtype=np.int64)
    cover = interval_cover(
        len(persons),
        t,
        rows_of(persons, spells["person_id"]),
        spells[first].to_numpy(),
        np.where(ends >= 0, ends, t),
    )
    return cover[:, :months]
