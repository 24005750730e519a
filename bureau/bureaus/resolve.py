"""Identity resolution: attach incoming records to the bureau's own consumer ids.

Records are resolved a batch at a time (a bureau resolves each month's files together).

A bureau never sees the world's keys. It matches a record to a consumer by the identity values
it carries, trying its profile's rules in order:

- ``national_id``: the identity number, exactly;
- ``phone_name``: the mobile number and the name together;
- ``name_birth``: the name and the birth date within the identity number (which survives an
  error in the sequence digits, and also joins namesakes born the same day).

A record no rule matches starts a new consumer, shared with every other unmatched record of
the batch it is linked to by a common key value. Mistakes are the bureau's own, as at real
bureaus: a record whose number was mistyped starts a second file for the same person
(fragmentation); two people sharing a name, a birthday or a recycled phone can end up in one
file (mixing).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from bureau.bureaus.keymap import KeyMap, hash_columns

KEY_KINDS = ("national_id", "phone_name", "name_birth")
#: The identity values each matching rule joins, with "|", into its key (``birth``: YYYYMMDD).
KEY_PARTS = {
    "national_id": ("national_id",),
    "phone_name": ("phone", "name"),
    "name_birth": ("name", "birth"),
}


def identity_keys(
    records: pd.DataFrame, rules: list[str], birth: pd.Series | None = None
) -> pd.DataFrame:
    """Compute each record's matching key under each rule (``<NA>`` where it has none).

    Parameters
    ----------
    records
        Records with ``name``, ``national_id`` and ``phone`` (strings, ``<NA>`` when absent).
    rules
        The bureau's matching rules, in order.
    birth
        Birth dates as ``YYYYMMDD`` for ``name_birth``; by default the identity number's.

    Returns
    -------
    pandas.DataFrame
        One string column per rule.
    """
    values = {name: records[name].astype("string") for name in ("name", "national_id", "phone")}
    values["birth"] = (
        values["national_id"].str.slice(6, 14) if birth is None else birth.astype("string")
    )
    keys = {}
    for rule in rules:
        first, *rest = KEY_PARTS[rule]
        key = values[first]
        for part in rest:
            key = key + "|" + values[part]
        keys[rule] = key
    return pd.DataFrame(keys, index=records.index)


def identity_key_arrays(values: dict[str, pa.Array], rules: list[str]) -> dict[str, pa.Array]:
    """The keys of :func:`identity_keys`, from Arrow string arrays (null where none).

    Parameters
    ----------
    values
        ``name``, ``national_id``, ``phone`` and ``birth`` (YYYYMMDD) arrays.
    rules
        The matching rules wanted.

    Returns
    -------
    dict
        One Arrow string array per rule.
    """
    keys = {}
    for rule in rules:
        parts = [values[p] for p in KEY_PARTS[rule]]
        keys[rule] = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, "|")
    return keys


def key_hashes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Hash key values to 64-bit numbers (see :mod:`bureau.bureaus.keymap`).

    Parameters
    ----------
    values
        Key values (``<NA>`` where a record has none).

    Returns
    -------
    hashes : numpy.ndarray
        uint64 hashes (meaningless where the value is missing).
    present : numpy.ndarray
        True where the value is present.
    """
    return hash_columns([values]), values.notna().to_numpy()


class IdentityIndex:
    """The bureau's identifiers: which consumer each key value points to.

    Held in memory while a bureau ingests, mirrored in the ``identifiers`` table. Where a key
    points to several consumers, the oldest wins (the bureau cannot tell them apart). One
    :class:`~bureau.bureaus.keymap.KeyMap` per rule.

    Parameters
    ----------
    keys
        Known key values: ``kind``, ``value``, ``consumer_id``.
    next_id
        The next consumer id to issue.
    """

    def __init__(self, keys: pd.DataFrame | None = None, next_id: int = 1) -> None:
        self.next_id = next_id
        self._maps: dict[str, KeyMap] = {}
        if keys is not None and len(keys):
            self.add(keys)

    def add(self, keys: pd.DataFrame) -> None:
        """Learn key values (``kind``, ``value``, ``consumer_id``); known values keep their owner.

        Parameters
        ----------
        keys
            The key values.
        """
        # Oldest consumer first, so that of several owners of a new value the oldest is kept.
        keys = keys.sort_values("consumer_id", kind="stable")
        for kind, group in keys.groupby("kind", sort=False):
            held = self._maps.setdefault(str(kind), KeyMap())
            held.add(hash_columns([group["value"]]), group["consumer_id"].to_numpy())

    def find(self, kind: str, hashes: np.ndarray, present: np.ndarray) -> np.ndarray:
        """Return the consumer each hashed key points to, or -1 (see :func:`key_hashes`).

        Parameters
        ----------
        kind
            The rule whose keys to search.
        hashes, present
            The keys, as :func:`key_hashes` returns them.

        Returns
        -------
        numpy.ndarray
            int64 consumer ids.
        """
        held = self._maps.get(kind)
        if held is None:
            return np.full(len(hashes), -1, dtype=np.int64)
        return np.where(present, held.find(hashes), -1)

    def lookup(self, kind: str, values: pd.Series) -> np.ndarray:
        """Return the consumer each value points to (the oldest if several), or -1.

        Parameters
        ----------
        kind
            The rule whose keys to search.
        values
            Key values (``<NA>`` never matches).

        Returns
        -------
        numpy.ndarray
            int64 consumer ids.
        """
        return self.find(kind, *key_hashes(values))


@dataclass
class Resolution:
    """The outcome of resolving one file's records.

    Attributes
    ----------
    consumer_id
        One consumer id per record.
    new_consumers
        Consumers created: ``consumer_id`` and the identity of the record that created them.
    new_keys
        Key values to add to the index: ``kind``, ``value``, ``consumer_id``, and ``row``, the
        first record (position in the batch) that carries it.
    """

    consumer_id: np.ndarray
    new_consumers: pd.DataFrame
    new_keys: pd.DataFrame


def _components(hashed: dict[str, tuple[np.ndarray, np.ndarray]], n: int) -> np.ndarray:
    """Connected components of records linked by shared key values."""
    rows, nodes = [], []
    offset = n
    for hashes, present in hashed.values():
        rows_with = np.flatnonzero(present)
        codes, uniques = pd.factorize(hashes[rows_with])
        rows.append(rows_with)
        nodes.append(offset + codes)
        offset += len(uniques)
    row = np.concatenate(rows) if rows else np.empty(0, dtype=np.int64)
    col = np.concatenate(nodes) if nodes else np.empty(0, dtype=np.int64)
    graph = coo_matrix((np.ones(row.size, dtype=np.int8), (row, col)), shape=(offset, offset))
    _, labels = connected_components(graph, directed=False)
    return labels[:n]


def resolve(records: pd.DataFrame, rules: list[str], index: IdentityIndex) -> Resolution:
    """Match records to consumers, creating consumers for the unmatched.

    The index is not modified; apply :meth:`Resolution` results once the load commits.

    Parameters
    ----------
    records
        Validated records with ``name``, ``national_id`` and ``phone``.
    rules
        The bureau's matching rules, in order.
    index
        The bureau's identifiers so far.

    Returns
    -------
    Resolution
        The consumer of each record, the consumers created and the keys learnt.
    """
    keys = identity_keys(records, rules)
    hashed = {rule: key_hashes(keys[rule]) for rule in rules}
    n = len(records)
    consumer = np.full(n, -1, dtype=np.int64)
    for rule in rules:
        todo = np.flatnonzero(consumer < 0)
        if not todo.size:
            break
        hashes, present = hashed[rule]
        consumer[todo] = index.find(rule, hashes[todo], present[todo])

    # Records that share any key value (under any rule) belong together: the connected
    # components of the graph joining records to their key values. An unmatched record joins
    # the oldest consumer matched in its component; a component with no match is a new
    # consumer. So the outcome does not depend on how records are split into batches.
    component = _components(hashed, n)
    matched = consumer >= 0
    oldest = pd.Series(consumer[matched]).groupby(component[matched]).min()
    inherited = oldest.reindex(component).to_numpy()
    joins = (consumer < 0) & ~np.isnan(inherited)
    consumer[joins] = inherited[joins].astype(np.int64)

    unmatched = np.flatnonzero(consumer < 0)
    new_consumers = pd.DataFrame(
        {"consumer_id": pd.Series(dtype="int64"), "row": pd.Series(dtype="int64")}
    )
    if unmatched.size:
        labels = component[unmatched]
        # Number new consumers in the order their first record appears.
        order, firsts = np.unique(labels, return_index=True)
        rank = np.empty(order.size, dtype=np.int64)
        rank[np.argsort(firsts, kind="stable")] = np.arange(order.size)
        consumer[unmatched] = index.next_id + rank[np.searchsorted(order, labels)]
        leaders = unmatched[np.sort(firsts)]
        new_consumers = pd.DataFrame(
            {"consumer_id": index.next_id + np.arange(order.size), "row": leaders}
        )

    # A key value is new to the index unless it already points to this record's consumer.
    learnt = []
    for rule in rules:
        values = keys[rule]
        hashes, present = hashed[rule]
        known = index.find(rule, hashes, present)
        fresh = present & (known != consumer)
        learnt.append(
            pd.DataFrame(
                {
                    "kind": rule,
                    "value": values[fresh].to_numpy(),
                    "consumer_id": consumer[fresh],
                    "row": np.flatnonzero(fresh),
                }
            )
        )
    pairs = (
        pd.concat(learnt, ignore_index=True)
        .drop_duplicates(["kind", "value", "consumer_id"], keep="first")
        .reset_index(drop=True)
    )
    return Resolution(
        consumer_id=consumer,
        new_consumers=new_consumers,
        new_keys=pairs.astype({"kind": "string", "value": "string"}),
    )


def commit(index: IdentityIndex, resolution: Resolution) -> None:
    """Apply a committed batch's resolution to the in-memory index.

    Parameters
    ----------
    index
        The bureau's index, updated in place.
    resolution
        What :func:`resolve` returned for the batch.
    """
    if len(resolution.new_keys):
        index.add(resolution.new_keys[["kind", "value", "consumer_id"]])
    if len(resolution.new_consumers):
        index.next_id = int(resolution.new_consumers["consumer_id"].max()) + 1
