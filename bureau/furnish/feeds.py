"""What lenders and courts furnish: tradelines, inquiries and public records, with defects.

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
    rng: np.random.Generator, months: np.ndarray, lag: int, defects: Defects
) -> tuple[np.ndarray, np.ndarray]:
    """The month each record arrives in: its data month plus the channel's lag, or one later.

    Parameters
    ----------
    rng
        The channel's generator.
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
    late = rng.random(months.size) < defects.late
    return months + lag + late, late


def finish_batch(
    scn: Scenario,
    rng: np.random.Generator,
    channel: Channel,
    defects: Defects,
    records: pd.DataFrame,
    truth: pd.DataFrame,
    found: list[pd.DataFrame],
    identity: pd.DataFrame,
    *,
    with_phone: bool = True,
) -> Batch:
    """Attach identities, drop what arrives after the window, add duplicates; keep the truth.

    Parameters
    ----------
    scn
        The scenario (its window).
    rng
        The channel's generator.
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
        rng, identity, truth["data_month"].to_numpy(), defects, with_phone=with_phone
    )
    records = pd.concat([records.reset_index(drop=True), reported], axis=1)
    # Whose identity the record carries: its owner, or for a wrongful record someone else.
    truth = truth.assign(identity_of=identity.index.to_numpy())
    found = [*found, id_defects]
    defects_frame = (
        pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=DEFECT_COLUMNS)
    )

    # Records sent twice: the copy follows the original in the same file.
    dup = rng.random(len(records)) < defects.duplicate
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

    keep = truth["arrival"].to_numpy() < scn.months
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
    rng: np.random.Generator,
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
    rng
        The channel's generator.
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
    rows = account_months.merge(
        mine[["account_id", "person_id", "product", "open_month", "term_months", "amount"]],
        on="account_id",
        validate="many_to_one",
    ).sort_values(["month", "account_id"], kind="stable", ignore_index=True)

    # Skipped months are never sent; they exist only in the truth as gaps.
    skip = rng.random(len(rows)) < defects.skipped_month
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
    skipped = skipped[skipped["arrival"] < scn.months]
    rows = rows[~skip].reset_index(drop=True)
    n = len(rows)
    status = rows["status"].to_numpy().astype(np.int64)
    balance = rows["balance"].to_numpy().astype(np.int64) * 100
    found = []

    wrong = np.flatnonzero(rng.random(n) < defects.status_error)
    if wrong.size:
        shift = rng.integers(1, len(STATUS_TEXT) - 1, wrong.size)
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
    stale = np.flatnonzero(has_previous & (rng.random(n) < defects.stale_balance))
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
    arrival, late = arrivals(rng, month, channel.lag, defects)
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
    batch = finish_batch(scn, rng, channel, defects, records, truth, found, identity)
    batch.skipped = skipped.reset_index(drop=True)
    return batch


def inquiries(
    scn: Scenario,
    rng: np.random.Generator,
    channel: Channel,
    defects: Defects,
    applications: pd.DataFrame,
    persons: pd.DataFrame,
) -> Batch:
    """The credit inquiries (applications) a lender reports through one channel."""
    rows = applications[applications["lender_id"] == channel.source].sort_values(
        ["month", "application_id"], kind="stable", ignore_index=True
    )
    month = rows["month"].to_numpy().astype(np.int64)
    arrival, late = arrivals(rng, month, channel.lag, defects)
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
    return finish_batch(scn, rng, channel, defects, records, truth, [], identity)


def public_records(
    scn: Scenario,
    rng: np.random.Generator,
    channel: Channel,
    defects: Defects,
    records_table: pd.DataFrame,
    persons: pd.DataFrame,
) -> Batch:
    """Public records from the courts: each filing, and its removal when it ends.

    A wrongful entry repeats a real record against another person (a namesake or a clerical
    error); the truth marks it ``wrongful_record`` with no true owner.
    """
    rows = records_table.sort_values(["record_id"], kind="stable", ignore_index=True)
    filed = rows["month"].to_numpy().astype(np.int64)
    ended = rows["end_month"].to_numpy().astype(np.int64)
    # One report when a record is filed (or at month 0 if older), one more when it ends.
    first = np.maximum(filed, 0)
    events = pd.DataFrame(
        {
            "row": np.concatenate([np.arange(len(rows)), np.flatnonzero(ended >= 0)]),
            "event_month": np.concatenate([first, ended[ended >= 0]]),
            "ending": np.concatenate(
                [np.zeros(len(rows), bool), np.ones(int((ended >= 0).sum()), bool)]
            ),
        }
    ).sort_values(["event_month", "row", "ending"], kind="stable", ignore_index=True)
    src = rows.iloc[events["row"].to_numpy()].reset_index(drop=True)
    person = src["person_id"].to_numpy().copy()
    truth_key = src["record_id"].to_numpy().copy()
    label = np.full(len(src), "", dtype=object)

    wrongful = rng.random(len(src)) < defects.wrongful_record
    wrongful &= ~events["ending"].to_numpy()
    if wrongful.any():
        extra = src[wrongful].reset_index(drop=True)
        extra_events = events[wrongful].reset_index(drop=True)
        others = persons.index.to_numpy()[rng.integers(0, len(persons), len(extra))]
        src = pd.concat([src, extra], ignore_index=True)
        events = pd.concat([events, extra_events.assign(ending=False)], ignore_index=True)
        person = np.concatenate([person, others])
        truth_key = np.concatenate([truth_key, np.full(len(extra), -1)])
        label = np.concatenate([label, np.full(len(extra), "wrongful_record", dtype=object)])

    event_month = events["event_month"].to_numpy().astype(np.int64)
    arrival, late = arrivals(rng, event_month, channel.lag, defects)
    ref_source = np.where(truth_key >= 0, truth_key, src["record_id"].to_numpy() + 10**15)
    end_text = month_labels(scn.start_date, np.maximum(src["end_month"].to_numpy(), 0))
    records = pd.DataFrame(
        {
            "furnisher": channel.source,
            "record_ref": np.char.add("R", account_ref("courts", ref_source).astype(str)),
            "kind": src["kind"].astype(str).to_numpy(),
            "filed": month_labels(scn.start_date, src["month"].to_numpy()),
            "ended": pd.array(
                np.where(events["ending"].to_numpy(), end_text, None), dtype="string"
            ),
            "amount": src["amount"].to_numpy().astype(np.int64) * 100,
        }
    )
    truth = pd.DataFrame(
        {
            "arrival": arrival,
            "person_id": np.where(label == "wrongful_record", -1, person),
            "truth_key": truth_key,
            "data_month": event_month,
            "defect": np.where(label != "", label, np.where(late, "late", "")),
        }
    )
    identity = persons.loc[person, IDENTITY_FIELDS]
    return finish_batch(scn, rng, channel, defects, records, truth, [], identity, with_phone=False)
