"""What lenders furnish: tradelines and inquiries, with defects; what every channel shares.

Each builder turns world tables into the records one channel sends, in canonical typed form
(:mod:`bureau.formats.schema`), together with the truth about every record: whose it is, which
world row it comes from, the month it arrives in, and every defect injected into it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bureau.config.bureaus import Defects
from bureau.config.scenario import Scenario
from bureau.formats.schema import month_labels
from bureau.furnish.channels import Channel
from bureau.furnish.identity import DEFECT_COLUMNS, furnished_identity
from bureau.rng import KeyedDraws, RowDraws

STATUS_TEXT = np.array(["N", "1", "2", "3", "4", "W", "C"])
IDENTITY_FIELDS = ["name", "national_id", "phone", "previous_phone", "phone_since"]


@dataclass
class Batch:
    """The records of one channel and record type, before they are split into files.

    Attributes
    ----------
    records
        Canonical typed records, in the order they will be written.
    truth
        One row per record: ``arrival`` (month of the file), ``person_id``, ``truth_key``
        (account, application or record id; -1 for none), ``data_month`` and ``defect``
        (the record-level defect, or ``""``).
    defects
        Field-level defects: ``position`` (row in ``records``), ``field``, ``defect``,
        ``true_value``, ``reported_value``.
    skipped
        Records the source should have sent and did not (``skipped_month``), with the truth
        columns; they are in no file.
    """

    records: pd.DataFrame
    truth: pd.DataFrame
    defects: pd.DataFrame
    skipped: pd.DataFrame | None = None


def account_ref(lender: str, account_id: np.ndarray) -> np.ndarray:
    """The lender's own account number for world accounts: stable, and no truth key in sight."""
    salt = int.from_bytes(lender.encode("utf-8")[:6].ljust(6, b"_"), "little")
    scrambled = (
        account_id.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(salt)
    ) % np.uint64(10**12)
    return np.char.add(lender[:4].upper(), scrambled.astype("U12").astype(object).astype(str))


def arrivals(
    draws: RowDraws, months: np.ndarray, lag: int, defects: Defects
) -> tuple[np.ndarray, np.ndarray]:
    """The month each record arrives in: its data month plus the channel's lag, or one later.

    Parameters
    ----------
    draws
        The records' keyed draws.
    months
        The months the records describe.
    lag
        The channel's reporting lag.
    defects
        The channel's defect rates (``late``).

    Returns
    -------
    tuple of numpy.ndarray
        Arrival months, and whether each record came late.
    """
    late = draws.uniform("late") < defects.late
    return months + lag + late, late


def finish_batch(
    window: tuple[int, int],
    draws: RowDraws,
    channel: Channel,
    defects: Defects,
    records: pd.DataFrame,
    truth: pd.DataFrame,
    found: list[pd.DataFrame],
    identity: pd.DataFrame,
    *,
    with_phone: bool = True,
) -> Batch:
    """Attach identities, keep what arrives in the window, add duplicates; keep the truth.

    Parameters
    ----------
    window
        The first and the last-but-one arrival month to keep.
    draws
        The records' keyed draws.
    channel
        The channel.
    defects
        The channel's defect rates.
    records
        The records without identity fields.
    truth
        One row per record (see :class:`Batch`).
    found
        Field defects injected so far.
    identity
        The identity each record carries (one row per record, indexed by person).
    with_phone
        Whether the source knows phone numbers.

    Returns
    -------
    Batch
        Records with identities, their truth and every defect.
    """
    reported, id_defects = furnished_identity(
        draws, identity, truth["data_month"].to_numpy(), defects, with_phone=with_phone
    )
    records = pd.concat([records.reset_index(drop=True), reported], axis=1)
    # Whose identity the record carries: its owner, or for a wrongful record someone else.
    truth = truth.assign(identity_of=identity.index.to_numpy())
    found = [*found, id_defects]
    defects_frame = (
        pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=DEFECT_COLUMNS)
    )

    # Records sent twice: the copy follows the original in the same file.
    dup = draws.uniform("duplicate") < defects.duplicate
    order = np.repeat(np.arange(len(records)), 1 + dup)
    is_copy = np.zeros(order.size, dtype=bool)
    is_copy[1:] = order[1:] == order[:-1]
    records = records.iloc[order].reset_index(drop=True)
    truth = truth.iloc[order].reset_index(drop=True)
    truth.loc[is_copy, "defect"] = "duplicate"
    # Field defects follow the original row to its copy (``order`` is sorted, so the first
    # occurrence of a row is a binary search away and its copy, if any, is the next row).
    if len(defects_frame):
        original = defects_frame["position"].to_numpy(dtype=np.int64)
        first = np.searchsorted(order, original)
        copies = defects_frame[dup[original]].assign(position=first[dup[original]] + 1)
        defects_frame = pd.concat([defects_frame.assign(position=first), copies], ignore_index=True)

    arrival = truth["arrival"].to_numpy()
    keep = (window[0] <= arrival) & (arrival < window[1])
    index = np.flatnonzero(keep)
    remap = np.full(len(records), -1)
    remap[index] = np.arange(index.size)
    if len(defects_frame):
        defects_frame = defects_frame.assign(
            position=remap[defects_frame["position"].to_numpy(dtype=int)]
        )
        defects_frame = defects_frame[defects_frame["position"] >= 0].reset_index(drop=True)
    return Batch(
        records=records.iloc[index].reset_index(drop=True),
        truth=truth.iloc[index].reset_index(drop=True),
        defects=defects_frame,
    )


def tradelines(
    scn: Scenario,
    keyed: KeyedDraws,
    window: tuple[int, int],
    channel: Channel,
    defects: Defects,
    accounts: pd.DataFrame,
    account_months: pd.DataFrame,
    persons: pd.DataFrame,
) -> Batch:
    """The monthly account reports of one lender through one channel.

    Parameters
    ----------
    scn
        The scenario.
    keyed
        The channel's keyed draws: each report draws by its account and month.
    window
        The arrival months to furnish, first and last-but-one.
    channel
        The lender's channel to the bureau.
    defects
        The channel's defect rates.
    accounts, account_months
        The world's accounts and account-months (any lender; filtered here).
    persons
        The world's persons, indexed by ``person_id``, with the identity columns.

    Returns
    -------
    Batch
        Tradeline records with their truth and defects.
    """
    mine = accounts[accounts["lender_id"] == channel.source]
    # A report arrives at the earliest its lag after its month; a stale balance looks one
    # month further back.
    data_month = account_months["month"].to_numpy()
    recent = (data_month >= window[0] - channel.lag - 2) & (data_month < window[1] - channel.lag)
    rows = (
        account_months[recent]
        .merge(
            mine[["account_id", "person_id", "product", "open_month", "term_months", "amount"]],
            on="account_id",
            validate="many_to_one",
        )
        .sort_values(["month", "account_id"], kind="stable", ignore_index=True)
    )

    # Skipped months are never sent; they exist only in the truth as gaps.
    every = RowDraws(keyed, (rows["account_id"].to_numpy(), rows["month"].to_numpy()))
    skip = every.uniform("skipped_month") < defects.skipped_month
    skipped = pd.DataFrame(
        {
            "arrival": rows.loc[skip, "month"].to_numpy(dtype=np.int64) + channel.lag,
            "person_id": rows.loc[skip, "person_id"].to_numpy(),
            "truth_key": rows.loc[skip, "account_id"].to_numpy(),
            "data_month": rows.loc[skip, "month"].to_numpy(dtype=np.int64),
            "defect": "skipped_month",
            "identity_of": rows.loc[skip, "person_id"].to_numpy(),
        }
    )
    skipped = skipped[skipped["arrival"].between(window[0], window[1] - 1)]
    rows = rows[~skip].reset_index(drop=True)
    draws = every.take(~skip)
    n = len(rows)
    status = rows["status"].to_numpy().astype(np.int64)
    balance = rows["balance"].to_numpy().astype(np.int64) * 100
    found = []

    wrong = np.flatnonzero(draws.uniform("status_error") < defects.status_error)
    if wrong.size:
        shift = draws.take(wrong).integers("status_shift", 1, len(STATUS_TEXT) - 1)
        # Misreports stay among the open-account codes (a closed or written-off code is rarely
        # invented): current <-> a delinquency bucket.
        reported = np.where(status[wrong] == 0, np.minimum(shift, 4), 0)
        changed = reported != status[wrong]
        found.append(
            pd.DataFrame(
                {
                    "position": wrong[changed],
                    "field": "status",
                    "defect": "status_error",
                    "true_value": STATUS_TEXT[status[wrong[changed]]].astype(object),
                    "reported_value": STATUS_TEXT[reported[changed]].astype(object),
                }
            )
        )
        status[wrong[changed]] = reported[changed]

    account = rows["account_id"].to_numpy()
    # Where the same account's report of the month before sits, if it was sent.
    key = pd.Series(
        np.arange(n), index=pd.MultiIndex.from_arrays([account, rows["month"].to_numpy()])
    )
    prev_pos = key.reindex(
        pd.MultiIndex.from_arrays([account, rows["month"].to_numpy() - 1])
    ).to_numpy()
    has_previous = ~np.isnan(prev_pos)
    stale = np.flatnonzero(has_previous & (draws.uniform("stale_balance") < defects.stale_balance))
    if stale.size:
        previous_balance = balance[prev_pos[stale].astype(np.int64)]
        changed = previous_balance != balance[stale]
        found.append(
            pd.DataFrame(
                {
                    "position": stale[changed],
                    "field": "balance",
                    "defect": "stale_balance",
                    "true_value": balance[stale[changed]].astype(object),
                    "reported_value": previous_balance[changed].astype(object),
                }
            )
        )
        balance[stale[changed]] = previous_balance[changed]

    month = rows["month"].to_numpy().astype(np.int64)
    arrival, late = arrivals(draws, month, channel.lag, defects)
    records = pd.DataFrame(
        {
            "furnisher": channel.source,
            "account_ref": account_ref(channel.source, account),
            "product": rows["product"].astype(str).to_numpy(),
            "report_month": month_labels(scn.start_date, month),
            "opened": month_labels(scn.start_date, rows["open_month"].to_numpy()),
            "term_months": rows["term_months"].to_numpy().astype(np.int64),
            "amount": rows["amount"].to_numpy().astype(np.int64) * 100,
            "balance": balance,
            "payment": rows["payment"].to_numpy().astype(np.int64) * 100,
            "status": STATUS_TEXT[status],
        }
    )
    truth = pd.DataFrame(
        {
            "arrival": arrival,
            "person_id": rows["person_id"].to_numpy(),
            "truth_key": account,
            "data_month": month,
            "defect": np.where(late, "late", ""),
        }
    )
    identity = persons.loc[rows["person_id"].to_numpy(), IDENTITY_FIELDS]
    batch = finish_batch(window, draws, channel, defects, records, truth, found, identity)
    batch.skipped = skipped.reset_index(drop=True)
    return batch


def inquiries(
    scn: Scenario,
    keyed: KeyedDraws,
    window: tuple[int, int],
    channel: Channel,
    defects: Defects,
    applications: pd.DataFrame,
    persons: pd.DataFrame,
) -> Batch:
    """The credit inquiries (applications) a lender reports through one channel.

    Each inquiry draws by its application: the same whichever other applications were made.
    Once the market opens, a bureau learns of an application when a lender asks it for a
    score, and records the inquiry itself: lenders no longer report them.
    """
    month = applications["month"].to_numpy()
    mine = (applications["lender_id"] == channel.source).to_numpy() & (month < scn.market_start)
    mine = mine & (month >= window[0] - channel.lag - 1) & (month < window[1] - channel.lag)
    rows = applications[mine].sort_values(
        ["month", "application_id"], kind="stable", ignore_index=True
    )
    month = rows["month"].to_numpy().astype(np.int64)
    draws = RowDraws(keyed, (rows["application_id"].to_numpy(),))
    arrival, late = arrivals(draws, month, channel.lag, defects)
    ref = account_ref(channel.source, rows["application_id"].to_numpy() + 7)
    records = pd.DataFrame(
        {
            "furnisher": channel.source,
            "inquiry_ref": np.char.add("Q", ref.astype(str)),
            "product": rows["product"].astype(str).to_numpy(),
            "month": month_labels(scn.start_date, month),
            "approved": rows["approved"].to_numpy(),
        }
    )
    truth = pd.DataFrame(
        {
            "arrival": arrival,
            "person_id": rows["person_id"].to_numpy(),
            "truth_key": rows["application_id"].to_numpy(),
            "data_month": month,
            "defect": np.where(late, "late", ""),
        }
    )
    identity = persons.loc[rows["person_id"].to_numpy(), IDENTITY_FIELDS]
    return finish_batch(window, draws, channel, defects, records, truth, [], identity)
