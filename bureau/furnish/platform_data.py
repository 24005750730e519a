"""What platforms furnish: quarterly summaries of their members' activity, and contact lists.

Each builder turns world tables into the records one platform channel sends, with the truth
about every record, like the lenders' and courts' builders in :mod:`bureau.furnish.feeds`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bureau.config.bureaus import Defects
from bureau.config.scenario import Scenario
from bureau.formats.schema import RECORDS, month_labels, pandas_dtype
from bureau.furnish.channels import Channel
from bureau.furnish.feeds import IDENTITY_FIELDS, Batch, arrivals, finish_batch
from bureau.rng import KeyedDraws, RowDraws

# Platform kinds and the signals their members generate.
PLATFORM_SIGNALS = {
    "ecommerce": ("ecommerce_spend", "ecommerce_returns", "address_changed"),
    "payment": ("payment_volume", "utility_on_time"),
    "pos_network": ("payment_volume",),
    "messaging": ("social_activity", "gaming_minutes"),
    "telecom": ("phone_bill_on_time",),
    "insurer": (),
    "bank": (),
    "p2p": (),
}
_FEN_SIGNALS = ("ecommerce_spend", "payment_volume")


def signals(
    scn: Scenario,
    keyed: KeyedDraws,
    window: tuple[int, int],
    channel: Channel,
    defects: Defects,
    memberships: pd.DataFrame,
    signal_table: pd.DataFrame,
    persons: pd.DataFrame,
) -> Batch:
    """A platform's quarterly summary of each member: one record per member and quarter.

    Platforms deliver alternative data in quarterly batches, not month by month: each record
    describes the calendar quarter ending in its ``month``, over the months the person was a
    member. Amounts and counts are the quarter's totals; ``social_activity`` and
    ``gaming_minutes`` its monthly averages; ``utility_on_time`` and ``phone_bill_on_time``
    mean every bill of the quarter was paid on time; ``address_changed`` means any move.
    Each record draws by its member and quarter.
    """
    kind = scn.platforms[channel.source].kind
    fields = PLATFORM_SIGNALS[kind]
    members = memberships[memberships["platform_id"] == channel.source]
    join = np.maximum(members["join_month"].to_numpy().astype(np.int64), 0)
    leave = members["leave_month"].to_numpy().astype(np.int64)
    leave = np.where(leave >= 0, leave, scn.months)
    span = np.maximum(leave - join, 0)
    person = np.repeat(members["person_id"].to_numpy(), span)
    start = np.repeat(join, span)
    month = start + np.arange(span.sum()) - np.repeat(np.cumsum(span) - span, span)

    # The last month of each month's calendar quarter (which may lie beyond the window).
    calendar = scn.start_date.month - 1 + month
    quarter_end = month + (2 - calendar % 3)
    # Only the quarters whose summaries can arrive in the window.
    due = (quarter_end >= window[0] - channel.lag - 1) & (quarter_end < window[1] - channel.lag)
    person, month, quarter_end = person[due], month[due], quarter_end[due]
    # The world's signals hold every person and month in order: row = person_id * months + month.
    rows = person * scn.months + month
    # One group per (quarter, member), numbered in (quarter, member) order: cells of the dense
    # quarter-by-person grid, of which the occupied ones are kept.
    width = int(person.max(initial=0)) + 1
    first = int(quarter_end.min()) if quarter_end.size else 0
    cell = (quarter_end - first) // 3 * width + person
    occupied = np.bincount(cell) > 0
    keys = np.flatnonzero(occupied)
    group = (np.cumsum(occupied) - 1)[cell]
    quarters = pd.DataFrame({"quarter_end": keys // width * 3 + first, "person_id": keys % width})
    size = np.bincount(group, minlength=len(keys))
    for name in fields:
        column = signal_table[name].to_numpy()[rows]
        if column.dtype == bool:
            hits = np.bincount(group, weights=column, minlength=len(keys))
            # "all" for on-time bills, "any" for moves.
            quarters[name] = hits == size if name.endswith("on_time") else hits > 0
            continue
        numbers = column.astype(np.float64)
        seen = ~np.isnan(numbers)
        total = np.bincount(group, weights=np.where(seen, numbers, 0.0), minlength=len(keys))
        if name in ("social_activity", "gaming_minutes"):
            count = np.bincount(group, weights=seen, minlength=len(keys))
            with np.errstate(invalid="ignore", divide="ignore"):
                quarters[name] = np.where(count > 0, total / count, np.nan)
        else:
            quarters[name] = total
    quarter_month = quarters["quarter_end"].to_numpy(dtype=np.int64)
    quarter_person = quarters["person_id"].to_numpy()
    draws = RowDraws(keyed, (quarter_person, quarter_month))
    arrival, late = arrivals(draws, quarter_month, channel.lag, defects)
    columns: dict[str, object] = {
        "furnisher": channel.source,
        "month": month_labels(scn.start_date, quarter_month),
    }
    for spec in RECORDS["signal"]:
        if spec.name in ("furnisher", "month", "name", "national_id", "phone"):
            continue
        if spec.name not in fields:
            # What the platform does not collect is absent, not zero.
            columns[spec.name] = pd.Series(
                index=range(len(quarters)), dtype=pandas_dtype(spec.kind)
            ).array
        elif spec.name in _FEN_SIGNALS:
            columns[spec.name] = (quarters[spec.name] * 100).round().astype("Int64").to_numpy()
        elif spec.kind == "bool":
            columns[spec.name] = quarters[spec.name].astype("boolean").to_numpy()
        else:
            columns[spec.name] = quarters[spec.name].round().astype("Int64").to_numpy()
    records = pd.DataFrame(columns, index=np.arange(len(quarters)))
    truth = pd.DataFrame(
        {
            "arrival": arrival,
            "person_id": quarter_person,
            "truth_key": -1,
            "data_month": quarter_month,
            "defect": np.where(late, "late", ""),
        }
    )
    identity = persons.loc[quarter_person, IDENTITY_FIELDS]
    return finish_batch(window, draws, channel, defects, records, truth, [], identity)


def contacts(
    scn: Scenario,
    keyed: KeyedDraws,
    window: tuple[int, int],
    channel: Channel,
    defects: Defects,
    memberships: pd.DataFrame,
    ties: pd.DataFrame,
    persons: pd.DataFrame,
) -> Batch:
    """A messaging platform's contact lists: one record per member and close contact.

    Members of the same platform who share a household or a close social tie (``strength`` of
    at least ``social.contact_strength``) are in each other's lists from the first month both
    are members; the platform sends each entry once, in that month's file. The contact is
    named by their current phone number, as a contact list knows them. Each entry draws by
    the member and the contact.
    """
    members = memberships[memberships["platform_id"] == channel.source]
    join = pd.Series(
        np.maximum(members["join_month"].to_numpy().astype(np.int64), 0),
        index=members["person_id"].to_numpy(),
    )
    leave_raw = members["leave_month"].to_numpy().astype(np.int64)
    leave = pd.Series(
        np.where(leave_raw >= 0, leave_raw, scn.months), index=members["person_id"].to_numpy()
    )
    close = ties[(ties["kind"] == "household") | (ties["strength"] >= scn.social.contact_strength)]
    # Both directions: each is in the other's list.
    a = np.concatenate([close["person_id"].to_numpy(), close["other_id"].to_numpy()])
    b = np.concatenate([close["other_id"].to_numpy(), close["person_id"].to_numpy()])
    both = np.isin(a, join.index) & np.isin(b, join.index)
    a, b = a[both], b[both]
    since = np.maximum(join.reindex(a).to_numpy(), join.reindex(b).to_numpy())
    until = np.minimum(leave.reindex(a).to_numpy(), leave.reindex(b).to_numpy())
    listed = since < until
    a, b, since = a[listed], b[listed], since[listed]
    order = np.lexsort((b, a, since))
    a, b, since = a[order], b[order], since[order]
    draws = RowDraws(keyed, (a, b))
    arrival, late = arrivals(draws, since, channel.lag, defects)
    records = pd.DataFrame(
        {
            "furnisher": channel.source,
            "month": month_labels(scn.start_date, since),
            "contact_phone": persons["phone"].reindex(b).to_numpy(),
        }
    )
    truth = pd.DataFrame(
        {
            "arrival": arrival,
            "person_id": a,
            "truth_key": b,
            "data_month": since,
            "defect": np.where(late, "late", ""),
        }
    )
    identity = persons.loc[a, IDENTITY_FIELDS]
    return finish_batch(window, draws, channel, defects, records, truth, [], identity)
