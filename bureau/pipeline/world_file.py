"""The credit file the world itself would give: every source, on time, without a defect.

The signal audit asks how much each feature group's information says about risk before any
bureau has touched it. This module answers with the bureaus' own feature definitions
(:func:`~bureau.bureaus.feature_groups.group_features`) applied to a file made from the truth:
every adult, every account and monthly status, every application, public record, platform
signal and close tie, as they stood at the snapshot. The world's tables are read one chunk
at a time (households and ties stay inside a chunk); only the features are held for every
adult.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bureau.bureaus.feature_catalog import FEATURE_GROUPS
from bureau.bureaus.feature_groups import group_features
from bureau.bureaus.load import SIGNAL_FIELDS
from bureau.config.scenario import Scenario
from bureau.furnish.feeds import STATUS_TEXT
from bureau.layout import RunLayout
from bureau.store.parquet import chunk_files, read_table

#: The world's columns each table of the file is made from.
_COLUMNS = {
    "persons": ["person_id", "national_id"],
    "accounts": ["account_id", "person_id", "product", "open_month", "amount"],
    "account_months": ["account_id", "month", "status", "balance"],
    "applications": ["person_id", "month", "approved"],
    "public_records": ["record_id", "person_id", "kind", "month", "end_month"],
    "ties": ["person_id", "other_id", "kind", "strength"],
}
#: The platform signals furnished in fen.
_MONEY = ("ecommerce_spend", "payment_volume")


def world_features(
    scn: Scenario, run: RunLayout, snapshots: list[int], groups: tuple[str, ...] = FEATURE_GROUPS
) -> dict[int, pd.DataFrame]:
    """Every adult's features at each snapshot, from the truth.

    Parameters
    ----------
    scn
        The scenario (its start, and who counts as a close contact).
    run
        The run, whose world is read.
    snapshots
        The months (0-based) of the snapshots.
    groups
        The feature groups wanted.

    Returns
    -------
    dict of int to pandas.DataFrame
        By snapshot: one row per person (``person_id`` as the index, in order), one column per
        feature of the groups.
    """
    parts: dict[int, list[pd.DataFrame]] = {s: [] for s in snapshots}
    for chunk in range(len(chunk_files(run.world_table("persons")))):
        tables = {
            name: read_table(run.world_table(name), columns, chunk=chunk)
            for name, columns in _COLUMNS.items()
        }
        tables["signals"] = read_table(
            run.world_table("signals"), ["person_id", "month", *SIGNAL_FIELDS], chunk=chunk
        )
        for snapshot in snapshots:
            data = file_at(scn, tables, snapshot)
            index = pd.Index(data["consumers"]["consumer_id"].to_numpy(), name="person_id")
            features = group_features(data, snapshot, groups, scn.start_date, index)
            parts[snapshot].append(pd.DataFrame(features, index=index))
    return {s: pd.concat(frames) for s, frames in parts.items()}


def file_at(
    scn: Scenario, tables: dict[str, pd.DataFrame], snapshot: int
) -> dict[str, pd.DataFrame]:
    """The parts of a file (as :func:`~bureau.bureaus.features.read_file` gives) at a snapshot.

    Parameters
    ----------
    scn
        The scenario (who counts as a close contact).
    tables
        One chunk of the world's tables (:data:`_COLUMNS`, and ``signals``).
    snapshot
        The month of the snapshot.

    Returns
    -------
    dict of str to pandas.DataFrame
        What a bureau that received everything on time would hold at the snapshot, with
        the person as the consumer and the person's id as the phone that ties point to.
    """
    persons = tables["persons"]
    accounts = tables["accounts"]
    accounts = accounts[accounts["open_month"] <= snapshot]
    months = tables["account_months"]
    months = months[
        (months["month"] <= snapshot) & months["account_id"].isin(accounts["account_id"])
    ]
    months = months.sort_values(["account_id", "month"], kind="stable")
    apps = tables["applications"]
    apps = apps[(apps["month"] <= snapshot) & (apps["month"] > snapshot - 12)]
    records = tables["public_records"]
    records = records[records["month"] <= snapshot]
    ended = records["end_month"].to_numpy(dtype=float)
    signals = tables["signals"]
    signals = signals[(signals["month"] <= snapshot) & (signals["month"] > snapshot - 12)]
    ties = tables["ties"]
    close = ties[(ties["kind"] == "household") | (ties["strength"] >= scn.social.contact_strength)]
    # A tie runs both ways: each side has the other in their contacts.
    contacts = pd.DataFrame(
        {
            "consumer_id": np.concatenate([close["person_id"], close["other_id"]]),
            "contact_phone": np.concatenate([close["other_id"], close["person_id"]]).astype(str),
        }
    )
    file_signals = signals.rename(columns={"person_id": "consumer_id"})
    for column in _MONEY:
        file_signals[column] = file_signals[column] * 100.0
    return {
        "consumers": pd.DataFrame(
            {
                "consumer_id": persons["person_id"].to_numpy(),
                "national_id": persons["national_id"].to_numpy(),
                "phone": persons["person_id"].to_numpy().astype(str),
                "first_seen": 0,
            }
        ),
        "tradelines": pd.DataFrame(
            {
                "tradeline_id": accounts["account_id"].to_numpy(),
                "consumer_id": accounts["person_id"].to_numpy(),
                "product": accounts["product"].astype(str).to_numpy(),
                "opened": accounts["open_month"].to_numpy(dtype=np.int64),
                "amount": accounts["amount"].to_numpy(dtype=np.float64) * 100.0,
            }
        ),
        "months": pd.DataFrame(
            {
                "tradeline_id": months["account_id"].to_numpy(),
                "month": months["month"].to_numpy(dtype=np.int64),
                "status": STATUS_TEXT[months["status"].to_numpy(dtype=np.int64)],
                "balance": months["balance"].to_numpy(dtype=np.float64) * 100.0,
            }
        ),
        "inquiries": pd.DataFrame(
            {
                "consumer_id": apps["person_id"].to_numpy(),
                "month": apps["month"].to_numpy(dtype=np.int64),
                "approved": apps["approved"].to_numpy(dtype=bool),
            }
        ),
        "public_records": pd.DataFrame(
            {
                "public_record_id": records["record_id"].to_numpy(),
                "consumer_id": records["person_id"].to_numpy(),
                "kind": records["kind"].astype(str).to_numpy(),
                "filed": records["month"].to_numpy(dtype=np.int64),
                # Not removed by the snapshot: still on record then.
                "ended": np.where((ended >= 0) & (ended <= snapshot), ended, np.nan),
            }
        ),
        "contacts": contacts,
        "signals": file_signals,
    }
