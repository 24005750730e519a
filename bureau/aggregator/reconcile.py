"""Tradeline reconciliation: one consolidated view of every account and public record.

The same account reported to several bureaus has one furnisher and one account number (the
lender's own), so reports of it meet on ``(furnisher, account_ref)``; public records meet on
``(furnisher, record_ref)``. Where the bureaus disagree on a field (the account's owner, as a
person key of the linkage; its balance, status, dates), :func:`bureau.aggregator.rules.settle`
picks a value. Every field of a consolidated row names the bureau it came from and the rule
that chose it, and every disagreement is listed in the discrepancies with each bureau's value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from bureau.aggregator.rules import settle
from bureau.store.aggregator import RECORD_FIELDS, TRADELINE_FIELDS

#: Fields that change from month to month: bureaus that last heard of an item in different
#: months may differ on them without either being wrong (the disagreement is ``stale``).
CHANGING = frozenset(("balance", "status", "last_month", "history", "ended"))


@dataclass(frozen=True)
class Consolidated:
    """What reconciliation made of one snapshot's submissions.

    Attributes
    ----------
    tradelines
        One row per account: ``furnisher``, ``account_ref``, ``bureaus`` (who reported it,
        joined by ``+``), and for each field of
        :data:`~bureau.store.aggregator.TRADELINE_FIELDS` (the 24-month ``history`` among them)
        its value, ``<field>_bureau`` and ``<field>_rule``.
    public_records
        The same for public records (:data:`~bureau.store.aggregator.RECORD_FIELDS`).
    discrepancies
        ``item``, ``furnisher``, ``ref``, ``field``, ``kind``, ``values``
        (``bureau=value;...``), ``resolved``, ``bureau`` and ``rule``: one row per field of an
        item on which bureaus disagreed. ``kind`` is ``conflict`` where bureaus that last heard
        of the item in the same month differ, or where they differ on a field that does not
        change (owner, product, opening, amount, kind, filing); ``stale`` where the
        differences are only between bureaus that last heard of it in different months.
    """

    tradelines: pd.DataFrame
    public_records: pd.DataFrame
    discrepancies: pd.DataFrame


def _joined(parts: np.ndarray, group: np.ndarray, sep: str) -> tuple[np.ndarray, np.ndarray]:
    """Join the strings of each run of equal ``group`` values (``group`` sorted) in Arrow."""
    if not len(group):
        return group, np.array([], dtype=object)
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    offsets = pa.array(np.r_[starts, len(group)].astype(np.int32))
    lists = pa.ListArray.from_arrays(offsets, pa.array(parts, type=pa.string()))
    return group[starts], pc.binary_join(lists, sep).to_numpy(zero_copy_only=False)


def _consolidate(
    reports: pd.DataFrame,
    ref: str,
    fields: tuple[str, ...],
    rules: list[str],
    item: str,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Settle every field of items reported by one or more bureaus (reports sorted by item)."""
    group = reports.groupby(["furnisher", ref], sort=False).ngroup().to_numpy()
    first = np.flatnonzero(np.r_[True, group[1:] != group[:-1]]) if len(group) else group
    out = pd.DataFrame(
        {
            "furnisher": reports["furnisher"].to_numpy()[first],
            ref: reports[ref].to_numpy()[first],
            "bureaus": _joined(reports["bureau"].to_numpy(), group, "+")[1],
        }
    )
    conflicts = []
    for name in fields:
        # Rules compare values for equality only: integer codes do, and cost far less than
        # text; only the values of disputed items are written out as text.
        token = pd.factorize(reports[name], use_na_sentinel=True)[0]
        candidates = pd.DataFrame(
            {
                "group": group,
                "bureau": reports["bureau"].to_numpy(),
                "token": token,
                "direct": reports["direct"].to_numpy(dtype=bool),
                "last_month": reports["last_month"].to_numpy(),
            }
        )
        settled = settle(candidates, rules)
        rows = settled["row"].to_numpy()
        out[name] = reports[name].to_numpy()[rows]
        out[f"{name}_bureau"] = settled["bureau"].to_numpy()
        out[f"{name}_rule"] = settled["rule"].to_numpy()
        disputed = settled.loc[settled["conflict"], "group"].to_numpy()
        if disputed.size:
            mask = np.isin(group, disputed)
            text = reports[name][mask].astype(str).to_numpy()
            pairs = pc.binary_join_element_wise(
                pa.array(reports["bureau"].to_numpy()[mask], type=pa.string()),
                pa.array(text, type=pa.string()),
                "=",
            ).to_numpy(zero_copy_only=False)
            held, joined = _joined(pairs, group[mask], ";")
            values = pd.Series(joined, index=held)
            picked = settled.set_index("group").loc[values.index]
            if name in CHANGING:
                # Bureaus that heard of the account in the same month and still differ
                # conflict; otherwise one of them is only behind.
                heard = pd.DataFrame(
                    {
                        "group": group[mask],
                        "month": reports["last_month"].to_numpy()[mask],
                        "token": token[mask],
                    }
                )
                distinct = heard.drop_duplicates().groupby(["group", "month"]).size()
                same_month = distinct > 1
                clash = same_month.groupby(level=0).any().reindex(values.index).to_numpy()
                stale = ~clash
            else:
                stale = np.zeros(len(values), dtype=bool)
            conflicts.append(
                pd.DataFrame(
                    {
                        "item": item,
                        "furnisher": out["furnisher"].to_numpy()[values.index],
                        "ref": out[ref].to_numpy()[values.index],
                        "field": name,
                        "kind": np.where(stale, "stale", "conflict"),
                        "values": values.to_numpy(),
                        "resolved": (
                            reports[name].take(picked["row"].to_numpy()).astype(str).to_numpy()
                        ),
                        "bureau": picked["bureau"].to_numpy(),
                        "rule": picked["rule"].to_numpy(),
                    }
                )
            )
    discrepancies = (
        pd.concat(conflicts, ignore_index=True)
        if conflicts
        else pd.DataFrame(
            columns=[
                *("item", "furnisher", "ref", "field", "kind"),
                *("values", "resolved", "bureau", "rule"),
            ]
        )
    )
    return out, discrepancies


def _with_keys(reports: pd.DataFrame, keys: pd.DataFrame, ref: str) -> pd.DataFrame:
    """Attach the person key of each report's consumer file; sort by item, then bureau."""
    keyed = reports.merge(keys, on=["bureau", "consumer_id"], how="left", validate="many_to_one")
    # A file the linkage never saw (its identity was set aside) has no person: key 0.
    keyed["person_key"] = keyed["person_key"].fillna(0).astype(np.int64)
    return keyed.sort_values(["furnisher", ref, "bureau"], ignore_index=True)


def reconcile(
    tradelines: pd.DataFrame,
    public_records: pd.DataFrame,
    keys: pd.DataFrame,
    rules: list[str],
) -> Consolidated:
    """Consolidate one snapshot's submitted tradelines and public records.

    Parameters
    ----------
    tradelines
        Every bureau's submitted tradelines of the snapshot, with a ``bureau`` column.
    public_records
        The same for public records.
    keys
        The linkage: ``bureau``, ``consumer_id``, ``person_key``.
    rules
        The rule order (names of :data:`bureau.aggregator.rules.RULES`).

    Returns
    -------
    Consolidated
        Consolidated tradelines and public records, and the discrepancies.
    """
    lines = _with_keys(tradelines, keys, "account_ref")
    consolidated, tl_conflicts = _consolidate(
        lines, "account_ref", TRADELINE_FIELDS, rules, "tradeline"
    )
    records = _with_keys(public_records, keys, "record_ref")
    consolidated_records, pr_conflicts = _consolidate(
        records, "record_ref", RECORD_FIELDS, rules, "public_record"
    )
    discrepancies = pd.concat([tl_conflicts, pr_conflicts], ignore_index=True)
    return Consolidated(consolidated, consolidated_records, discrepancies)
