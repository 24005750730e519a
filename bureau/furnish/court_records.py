"""What the courts furnish: public records, their ends, and wrongful entries."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bureau.config.bureaus import Defects
from bureau.config.scenario import Scenario
from bureau.formats.schema import month_labels
from bureau.furnish.channels import Channel
from bureau.furnish.feeds import IDENTITY_FIELDS, Batch, account_ref, arrivals, finish_batch
from bureau.rng import KeyedDraws, RowDraws


def public_records(
    scn: Scenario,
    keyed: KeyedDraws,
    window: tuple[int, int],
    channel: Channel,
    defects: Defects,
    records_table: pd.DataFrame,
    persons: pd.DataFrame,
) -> Batch:
    """Public records from the courts: each filing, and its removal when it ends.

    A wrongful entry repeats a real record against another person (a namesake or a clerical
    error); the truth marks it ``wrongful_record`` with no true owner. Each report draws by
    its record, whether it reports the filing or the end, and whether it is a wrongful copy.
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

    ending = events["ending"].to_numpy()
    draws = RowDraws(keyed, (truth_key, ending.astype(np.int64), np.zeros(len(src), np.int64)))
    wrongful = draws.uniform("wrongful_record") < defects.wrongful_record
    wrongful &= ~ending
    if wrongful.any():
        extra = src[wrongful].reset_index(drop=True)
        extra_events = events[wrongful].reset_index(drop=True)
        others = persons.index.to_numpy()[draws.take(wrongful).integers("other", 0, len(persons))]
        # A wrongful copy draws as its source record, marked as the copy by its third key.
        copies = draws.take(wrongful).keys
        marked = (copies[0], copies[1], np.ones(len(extra), np.int64))
        draws = RowDraws(
            keyed, tuple(np.concatenate([k, c]) for k, c in zip(draws.keys, marked, strict=True))
        )
        src = pd.concat([src, extra], ignore_index=True)
        events = pd.concat([events, extra_events.assign(ending=False)], ignore_index=True)
        person = np.concatenate([person, others])
        truth_key = np.concatenate([truth_key, np.full(len(extra), -1)])
        label = np.concatenate([label, np.full(len(extra), "wrongful_record", dtype=object)])

    event_month = events["event_month"].to_numpy().astype(np.int64)
    arrival, late = arrivals(draws, event_month, channel.lag, defects)
    # A wrongful copy needs a reference of its own: its source record's id, negated, is none
    # of the world's ids.
    ref_source = np.where(truth_key >= 0, truth_key, -1 - src["record_id"].to_numpy())
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
    return finish_batch(
        window, draws, channel, defects, records, truth, [], identity, with_phone=False
    )
