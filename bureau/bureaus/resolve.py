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
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

KEY_KINDS = ("national_id", "phone_name", "name_birth")


def identity_keys(records: pd.DataFrame, rules: list[str]) -> pd.DataFrame:
    """Compute each record's matching key under each rule (``<NA>`` where it has none).

    Parameters
    ----------
    records
        Records with ``name``, ``national_id`` and ``phone`` (strings, ``<NA>`` when absent).
    rules
        The bureau's matching rules, in order.

    Returns
    -------
    pandas.DataFrame
        One string column per rule.
    """
    name = records["name"].astype("string")
    national_id = records["national_id"].astype("string")
    phone = records["phone"].astype("string")
    keys = {}
    for rule in rules:
        if rule == "national_id":
            keys[rule] = national_id
        elif rule == "phone_name":
            keys[rule] = phone + "|" + name
        else:
            keys[rule] = name + "|" + national_id.str.slice(6, 14)
    return pd.DataFrame(keys, index=records.index)


class IdentityIndex:
    """The bureau's identifiers: which consumer each key value points to.

    Held in memory while a bureau ingests, mirrored in the ``identifiers`` table. Where a key
    points to several consumers, the oldest wins (the bureau cannot tell them apart). Each
    rule's values are a pandas Index, whose hash table is built once and reused for every
    lookup until the index grows.

    Parameters
    ----------
    keys
        Known key values: ``kind``, ``value``, ``consumer_id``.
    next_id
        The next consumer id to issue.
    """

    def __init__(self, keys: pd.DataFrame | None = None, next_id: int = 1) -> None:
        self.next_id = next_id
        self._values: dict[str, pd.Index] = {}
        self._owners: dict[str, np.ndarray] = {}
        if keys is not None and len(keys):
            self.add(keys)

    def add(self, keys: pd.DataFrame) -> None:
        """Learn key values (``kind``, ``value``, ``consumer_id``); known values keep their owner.

        Parameters
        ----------
        keys
            The key values.
        """
        for kind, group in keys.groupby("kind", sort=False):
            oldest = group.groupby("value", sort=False)["consumer_id"].min()
            held = self._values.get(kind)
            if held is not None:
                fresh = held.get_indexer(oldest.index) < 0
                oldest = oldest[fresh]
                values = held.append(pd.Index(oldest.index))
                owners = np.concatenate([self._owners[kind], oldest.to_numpy(dtype=np.int64)])
            else:
                values = pd.Index(oldest.index)
                owners = oldest.to_numpy(dtype=np.int64)
            self._values[str(kind)] = values
            self._owners[str(kind)] = owners

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
        held = self._values.get(kind)
        if held is None or not len(values):
            return np.full(len(values), -1, dtype=np.int64)
        position = held.get_indexer(values.fillna("\x00").to_numpy(dtype=object))
        found = self._owners[kind][np.maximum(position, 0)]
        return np.where(position >= 0, found, -1)


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


def _components(keys: pd.DataFrame, rules: list[str]) -> np.ndarray:
    """Connected components of records linked by shared key values."""
    n = len(keys)
    rows, nodes = [], []
    offset = n
    for rule in rules:
        values = keys[rule]
        present = np.flatnonzero(values.notna().to_numpy())
        codes, uniques = pd.factorize(values.iloc[present])
        rows.append(present)
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
    n = len(records)
    consumer = np.full(n, -1, dtype=np.int64)
    for rule in rules:
        todo = consumer < 0
        if not todo.any():
            break
        found = index.lookup(rule, keys[rule][todo])
        consumer[np.flatnonzero(todo)] = found

    # Records that share any key value (under any rule) belong together: the connected
    # components of the graph joining records to their key values. An unmatched record joins
    # the oldest consumer matched in its component; a component with no match is a new
    # consumer. So the outcome does not depend on how records are split into batches.
    component = _components(keys, rules)
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
        present = values.notna().to_numpy()
        known = index.lookup(rule, values)
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
