"""The measures of what the aggregator gains over any single bureau, against the truth.

Every submitted consumer file traces back to the person whose identity created it, and every
submitted account and public record to its world row (through the provenance each bureau keeps,
see :mod:`bureau.analysis.provenance`). From there (each measure here, put together by
:func:`bureau.analysis.aggregator_gain.assess_aggregation`):

- linkage quality: pairwise precision, recall and F1 of the person keys against the true
  persons, and persons split over several keys or keys merging several persons;
- coverage: adults visible to the aggregator (to at least one bureau) and to each bureau;
- accuracy: the share of visible persons whose view holds a material error (a wrong status in
  an account's last reported month, another person's account, a wrongful public record), and the
  share of accounts with an error, for the consolidated view and for each bureau alone;
- defaults seen: of the persons who truly defaulted in the year after the development snapshot,
  the share whose view at the evaluation snapshot shows it;
- the consensus score's out-of-time AUC against the truth.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bureau.analysis.file_accuracy import STATUS_CODES
from bureau.analysis.metrics import discrimination
from bureau.formats.history import history_defaulted


def pair_counts(sizes: np.ndarray) -> int:
    """Pairs within groups of the given sizes.

    Parameters
    ----------
    sizes
        The size of each group.

    Returns
    -------
    int
        The sum of ``n (n - 1) / 2`` over the groups.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    return int((sizes * (sizes - 1) // 2).sum())


def linkage_quality(keys: pd.DataFrame, owners: pd.DataFrame) -> dict[str, float]:
    """Person keys against the true persons behind the files.

    Parameters
    ----------
    keys
        ``bureau``, ``consumer_id``, ``person_key``.
    owners
        ``bureau``, ``consumer_id``, ``person_id`` (the true person of each file; -1 unknown).

    Returns
    -------
    dict
        ``files``, ``persons`` (true), ``keys``, ``true_pairs``, ``linked_pairs``,
        ``correct_pairs``, ``precision``, ``recall``, ``f1``, ``persons_split`` (true persons
        spread over several keys) and ``keys_merged`` (keys holding several true persons).
    """
    both = keys.merge(owners, on=["bureau", "consumer_id"], how="inner")
    both = both[both["person_id"] >= 0]
    correct = pair_counts(both.groupby(["person_key", "person_id"]).size().to_numpy())
    linked = pair_counts(both.groupby("person_key").size().to_numpy())
    true = pair_counts(both.groupby("person_id").size().to_numpy())
    distinct = both[["person_key", "person_id"]].drop_duplicates()
    precision = correct / linked if linked else 1.0
    recall = correct / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "files": len(both),
        "persons": int(both["person_id"].nunique()),
        "keys": int(both["person_key"].nunique()),
        "true_pairs": true,
        "linked_pairs": linked,
        "correct_pairs": correct,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "persons_split": int((distinct.groupby("person_id").size() > 1).sum()),
        "keys_merged": int((distinct.groupby("person_key").size() > 1).sum()),
    }


def key_owners(keys: pd.DataFrame, owners: pd.DataFrame) -> pd.Series:
    """The true person behind each person key: the person most of its files belong to.

    Parameters
    ----------
    keys
        ``bureau``, ``consumer_id``, ``person_key``.
    owners
        ``bureau``, ``consumer_id``, ``person_id``.

    Returns
    -------
    pandas.Series
        ``person_id`` indexed by ``person_key`` (ties go to the smaller person id).
    """
    both = keys.merge(owners, on=["bureau", "consumer_id"], how="left")
    both["person_id"] = both["person_id"].fillna(-1).astype(np.int64)
    counts = both.groupby(["person_key", "person_id"]).size().rename("n").reset_index()
    counts = counts.sort_values(["person_key", "n", "person_id"], ascending=[True, False, True])
    return counts.drop_duplicates("person_key").set_index("person_key")["person_id"]


def _view_errors(
    tradelines: pd.DataFrame,
    records: pd.DataFrame,
    accounts: pd.DataFrame,
    record_truth: pd.DataFrame,
    account_months: pd.Series,
    wrongful_world: set[int],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Flag each account and record of a view (``owner`` = the person the file is about)."""
    lines = tradelines.merge(accounts, on=["furnisher", "account_ref"], how="left")
    lines["account_id"] = lines["account_id"].fillna(-1).astype(np.int64)
    true_code = account_months.reindex(
        pd.MultiIndex.from_arrays(
            [lines["account_id"].to_numpy(), lines["last_month"].to_numpy(dtype=np.int64)]
        )
    ).to_numpy()
    known = ~np.isnan(true_code)
    wrong_status = np.zeros(len(lines), dtype=bool)
    wrong_status[known] = (
        STATUS_CODES[true_code[known].astype(int)] != lines["status"].to_numpy()[known]
    )
    lines["wrong_status"] = wrong_status
    lines["other_person"] = (lines["account_person"].fillna(-1) >= 0).to_numpy() & (
        lines["account_person"].fillna(-1).to_numpy() != lines["owner"].to_numpy()
    )
    held = records.merge(record_truth, on=["furnisher", "record_ref"], how="left")
    held["wrongful"] = (
        held["wrongful"].fillna(False).to_numpy(dtype=bool)
        | held["record_id"].isin(wrongful_world).to_numpy()
        | (held["record_person"].fillna(-1).to_numpy() != held["owner"].to_numpy())
    )
    return lines, held


def view_accuracy(
    name: str,
    tradelines: pd.DataFrame,
    records: pd.DataFrame,
    visible: np.ndarray,
    accounts: pd.DataFrame,
    record_truth: pd.DataFrame,
    account_months: pd.Series,
    wrongful_world: set[int],
    defaulters: np.ndarray,
    development: int,
    evaluation: int,
    adults: int,
) -> dict[str, object]:
    """Coverage, errors and defaults seen, for one view of the persons (a bureau, or all).

    Parameters
    ----------
    name
        The view's name (a bureau, or ``aggregator``).
    tradelines
        The view's accounts: ``owner`` (the person the file is about), ``furnisher``,
        ``account_ref``, ``status``, ``last_month``, ``history``.
    records
        The view's public records: ``owner``, ``furnisher``, ``record_ref``.
    visible
        The persons the view has a file about.
    accounts, record_truth
        :func:`~bureau.analysis.provenance.item_truth`, over all bureaus.
    account_months
        The world's status code per ``(account_id, month)``.
    wrongful_world
        World record ids that are wrongful.
    defaulters
        Persons who truly defaulted in the year after the development snapshot.
    development, evaluation
        The snapshots.
    adults
        Persons in the world.

    Returns
    -------
    dict
        ``view``, ``persons_visible``, ``coverage``, ``accounts``, ``account_error_rate``,
        ``persons_with_error``, ``person_error_rate``, ``wrong_status``, ``other_persons_account``,
        ``wrongful_public_record``, ``true_defaults``, ``defaults_seen``, ``defaults_seen_share``.
    """
    lines, held = _view_errors(
        tradelines, records, accounts, record_truth, account_months, wrongful_world
    )
    persons = np.unique(np.asarray(visible, dtype=np.int64))
    persons = persons[persons >= 0]
    flagged = {
        "wrong_status": lines.loc[lines["wrong_status"], "owner"],
        "other_persons_account": lines.loc[lines["other_person"], "owner"],
        "wrongful_public_record": held.loc[held["wrongful"], "owner"],
    }
    with_error = np.unique(np.concatenate([v.to_numpy(dtype=np.int64) for v in flagged.values()]))
    with_error = with_error[np.isin(with_error, persons)]
    seen = lines.loc[
        history_defaulted(lines["history"], development + 1, development + 12, evaluation),
        "owner",
    ].to_numpy(dtype=np.int64)
    defaulted = np.unique(np.asarray(defaulters, dtype=np.int64))
    seen_defaults = int(np.isin(defaulted, seen).sum())
    account_errors = int((lines["wrong_status"] | lines["other_person"]).sum())
    return {
        "view": name,
        "persons_visible": len(persons),
        "coverage": len(persons) / adults if adults else float("nan"),
        "accounts": len(lines),
        "account_error_rate": account_errors / len(lines) if len(lines) else float("nan"),
        "persons_with_error": len(with_error),
        "person_error_rate": len(with_error) / len(persons) if len(persons) else float("nan"),
        **{key: int(np.isin(persons, v.to_numpy()).sum()) for key, v in flagged.items()},
        "true_defaults": len(defaulted),
        "defaults_seen": seen_defaults,
        "defaults_seen_share": seen_defaults / len(defaulted) if len(defaulted) else float("nan"),
    }


def consensus_performance(
    scores: pd.DataFrame, owners_of_keys: pd.Series, outcomes: pd.DataFrame
) -> dict[str, float]:
    """Discrimination of the consensus PDs against the true outcomes.

    Parameters
    ----------
    scores
        ``person_key``, ``pd``, ``in_default`` at the evaluation snapshot.
    owners_of_keys
        :func:`key_owners`.
    outcomes
        True outcomes at the snapshot (``default_12m``, ``in_default``), by ``person_id``.

    Returns
    -------
    dict
        :func:`~bureau.analysis.metrics.discrimination` over persons not in default in the
        aggregator's view nor truly.
    """
    person = owners_of_keys.reindex(scores["person_key"].to_numpy()).fillna(-1).to_numpy(np.int64)
    truth = outcomes.reindex(person)
    keep = (
        (person >= 0)
        & ~scores["in_default"].to_numpy(dtype=bool)
        & ~truth["in_default"].fillna(True).to_numpy(dtype=bool)
    )
    return discrimination(
        truth["default_12m"].to_numpy()[keep].astype(bool), scores["pd"].to_numpy()[keep]
    )
