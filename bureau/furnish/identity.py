"""Identities as furnished: what a source knows of a person, with the channel's identity errors.

Sources report the name, the identity number and the phone they hold. Channels get them wrong
at the rates of the bureau's profile: a wrong character in the name, two adjacent digits of the
number swapped, the number missing, or the person's previous phone instead of the current one.
Every change is returned as a defect so the truth keeps what the value should have been.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bureau.config.bureaus import Defects
from bureau.reference import reference
from bureau.rng import RowDraws

DEFECT_COLUMNS = ("position", "field", "defect", "true_value", "reported_value")


def true_phone(persons: pd.DataFrame, months: np.ndarray) -> np.ndarray:
    """The number each person used in the given month (before a switch, the previous one)."""
    current = persons["phone"].to_numpy(dtype=object)
    previous = persons["previous_phone"].to_numpy(dtype=object, na_value=None)
    before_switch = (months < persons["phone_since"].to_numpy()) & pd.notna(previous)
    return np.where(before_switch, previous, current)


def _defects(position: np.ndarray, field: str, defect: str, true, reported) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "position": position,
            "field": field,
            "defect": defect,
            "true_value": np.asarray(true, dtype=object),
            "reported_value": np.asarray(reported, dtype=object),
        }
    )


def swap_adjacent(ids: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Swap characters ``at`` and ``at + 1`` of equal-length strings, vectorised."""
    chars = ids.astype("U18").view("U1").reshape(len(ids), 18).copy()
    rows = np.arange(len(ids))
    left = chars[rows, at].copy()
    chars[rows, at] = chars[rows, at + 1]
    chars[rows, at + 1] = left
    return chars.view("U18").ravel()


def furnished_identity(
    draws: RowDraws,
    persons: pd.DataFrame,
    months: np.ndarray,
    defects: Defects,
    *,
    with_phone: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Render the identity fields of records, injecting the channel's identity errors.

    Parameters
    ----------
    draws
        The records' keyed draws.
    persons
        One row per record: the person's ``name``, ``national_id``, ``phone``,
        ``previous_phone`` and ``phone_since``.
    months
        The month each record describes (the phone in use depends on it).
    defects
        The channel's defect rates.
    with_phone
        Whether the source knows phones at all (courts do not).

    Returns
    -------
    tuple of pandas.DataFrame
        The reported ``name``, ``national_id`` and ``phone`` (strings, ``<NA>`` when absent),
        and the defects injected (columns :data:`DEFECT_COLUMNS`, ``position`` being the
        record's position in ``persons``).
    """
    n = len(persons)
    found = []
    names = persons["name"].to_numpy(dtype=object).astype(str)
    typo = np.flatnonzero(draws.uniform("name_typo") < defects.name_typo)
    if typo.size:
        ref = reference()
        pool = np.concatenate([ref.male_chars, ref.female_chars])
        replacement = pool[draws.take(typo).integers("name_typo_char", 0, pool.size)]
        old = names[typo]
        new = np.char.add(np.array([s[:-1] for s in old], dtype=object).astype(str), replacement)
        changed = new != old
        names = names.astype(object)
        names[typo[changed]] = new[changed]
        found.append(_defects(typo[changed], "name", "name_typo", old[changed], new[changed]))

    ids = persons["national_id"].to_numpy(dtype=object).astype("U18")
    true_ids = ids.copy()
    swap = np.flatnonzero(draws.uniform("id_transposed") < defects.id_transposed)
    if swap.size:
        # Within the birth date and the sequence, never the check character.
        at = draws.take(swap).integers("id_transposed_at", 6, 16)
        swapped = swap_adjacent(ids[swap], at)
        changed = swapped != ids[swap]
        ids[swap[changed]] = swapped[changed]
        found.append(
            _defects(
                swap[changed],
                "national_id",
                "id_transposed",
                true_ids[swap[changed]],
                swapped[changed],
            )
        )
    id_out = pd.array(ids, dtype="string")
    # A number that went missing cannot also be mistyped: one defect per field.
    missing = draws.uniform("id_missing") < defects.id_missing
    missing = np.flatnonzero(missing & ~np.isin(np.arange(n), swap))
    if missing.size:
        id_out[missing] = pd.NA
        found.append(
            _defects(missing, "national_id", "id_missing", true_ids[missing], [None] * missing.size)
        )

    if with_phone:
        truth = true_phone(persons, months)
        previous = persons["previous_phone"].to_numpy(dtype=object, na_value=None)
        can_be_old = pd.notna(previous) & (truth != previous)
        old = np.flatnonzero(can_be_old & (draws.uniform("old_phone") < defects.old_phone))
        phones = truth.copy()
        phones[old] = previous[old]
        if old.size:
            found.append(_defects(old, "phone", "old_phone", truth[old], previous[old]))
        phone_out = pd.array(phones, dtype="string")
    else:
        phone_out = pd.Series(index=range(n), dtype="string").array

    reported = pd.DataFrame(
        {"name": pd.array(names, dtype="string"), "national_id": id_out, "phone": phone_out}
    )
    injected = (
        pd.concat(found, ignore_index=True) if found else _defects(np.empty(0, int), "", "", [], [])
    )
    return reported, injected
