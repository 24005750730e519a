"""Identity linkage: which consumer files of the eight bureaus belong to one person.

Every bureau files people under its own ids. The aggregator links those files by the identity
attributes submitted with them, in one of two ways:

- ``splink``: probabilistic record linkage (Fellegi-Sunter) with Splink on DuckDB. Pairs are
  blocked on the ID number, the phone, and the name with the birth month; the chance that two
  random records match, the u probabilities (by random sampling) and the m probabilities (by
  expectation maximisation) are estimated from the records themselves; pairs at or above the
  match threshold are joined into clusters (connected components).
- ``exact``: the deterministic baseline: files with the same ID number are one person; a file
  without one is a person of its own.

Clusters become person keys: numbered 1, 2, ... in the order of their first file (by bureau,
then consumer id), so the same records give the same keys.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bureau.errors import BureauError

logger = logging.getLogger(__name__)

METHODS = ("splink", "exact")
IDENTITY_COLUMNS = ["bureau", "consumer_id", "name", "national_id", "phone", "birth_month"]


class LinkageError(BureauError):
    """Linkage asked for something it cannot do (an unknown method, no records)."""


@dataclass(frozen=True)
class LinkResult:
    """The person key of every file, and how the linkage went.

    Attributes
    ----------
    method
        ``splink`` or ``exact``.
    keys
        ``bureau``, ``consumer_id``, ``person_key`` (sorted by bureau and consumer id).
    links
        Pairs of files linked directly (for Splink, pairs at or above the threshold).
    parameters
        The linkage model: for Splink its trained settings (m and u of every comparison
        level, the prior), for the exact baseline the rule.
    """

    method: str
    keys: pd.DataFrame
    links: int
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def persons(self) -> int:
        """How many persons the files were linked into."""
        return int(self.keys["person_key"].nunique())


def prepared_identities(identities: pd.DataFrame) -> pd.DataFrame:
    """Identity records in their canonical order, empty values as missing.

    Parameters
    ----------
    identities
        ``bureau``, ``consumer_id``, ``name``, ``national_id``, ``phone``, ``birth_month``.

    Returns
    -------
    pandas.DataFrame
        Those columns, sorted by bureau and consumer id.

    Raises
    ------
    LinkageError
        If a column is missing or there are no records.
    """
    missing = [c for c in IDENTITY_COLUMNS if c not in identities.columns]
    if missing:
        raise LinkageError(f"identities have no column {missing[0]}", field=missing[0])
    if identities.empty:
        raise LinkageError("no identities to link: no bureau has submitted")
    frame = identities[IDENTITY_COLUMNS].sort_values(["bureau", "consumer_id"], ignore_index=True)
    for column in ("name", "national_id", "phone", "birth_month"):
        # Splink treats NULL as unknown; an empty string would be a value that matches.
        values = frame[column].astype(object)
        frame[column] = values.where(values.notna() & (values != ""), None)
    return frame


def person_keys(cluster: np.ndarray) -> np.ndarray:
    """Number clusters 1, 2, ... in the order of their first member.

    Parameters
    ----------
    cluster
        Any cluster label per record, records in their canonical order.

    Returns
    -------
    numpy.ndarray
        The person key of each record (int64).
    """
    codes, _ = pd.factorize(pd.Series(cluster), sort=False)
    return codes.astype(np.int64) + 1


def link_exact(identities: pd.DataFrame) -> LinkResult:
    """Link files that carry the same ID number (the deterministic baseline).

    Parameters
    ----------
    identities
        ``bureau``, ``consumer_id``, ``name``, ``national_id``, ``phone``, ``birth_month``.

    Returns
    -------
    LinkResult
        Person keys; a file without an ID number is a person of its own.
    """
    frame = prepared_identities(identities)
    ids = frame["national_id"]
    label = np.where(
        ids.notna(), "id:" + ids.fillna("").astype(str), "row:" + frame.index.astype(str)
    )
    keys = person_keys(label)
    sizes = pd.Series(keys).value_counts().to_numpy()
    return LinkResult(
        "exact",
        frame[["bureau", "consumer_id"]].assign(person_key=keys),
        links=int((sizes - 1).sum()),
        parameters={"rule": "same national_id"},
    )


def _splink_settings() -> Any:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    # DuckDB's levenshtein counts bytes, and a Chinese character is three: names are compared
    # exactly (weighted by how common the name is), or as one character apart.
    name = cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.NullLevel("name"),
            cll.ExactMatchLevel("name", term_frequency_adjustments=True),
            cll.CustomLevel(
                "substr(name_l, 1, 1) = substr(name_r, 1, 1) "
                "AND length(name_l) = length(name_r) "
                "AND jaro_winkler_similarity(name_l, name_r) >= 0.6",
                "same surname and length, one character apart",
            ),
            cll.ElseLevel(),
        ],
    )
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="record",
        comparisons=[
            cl.ExactMatch("national_id"),
            name,
            cl.ExactMatch("phone"),
            cl.ExactMatch("birth_month"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("national_id"),
            block_on("phone"),
            block_on("name", "birth_month"),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def splink_linker(
    records: pd.DataFrame, threads: int = 2, seed: int = 1, connection: Any = None
) -> Any:
    """A trained Splink linker over identity records (DuckDB in memory).

    Parameters
    ----------
    records
        One row per file: ``record`` (a unique integer), ``name``, ``national_id``, ``phone``,
        ``birth_month``.
    threads
        DuckDB threads.
    seed
        The seed of the random sampling of u probabilities.
    connection
        The DuckDB connection to work in (a new in-memory one when None; the caller closes
        it).

    Returns
    -------
    splink.Linker
        With the prior, u and m probabilities estimated.
    """
    import duckdb
    from splink import DuckDBAPI, Linker, block_on

    connection = connection if connection is not None else duckdb.connect()
    # Progress is ours to draw (the stage's bar), not DuckDB's. In a Jupyter kernel without
    # ipywidgets DuckDB draws none and refuses the setting: there is nothing to turn off.
    with contextlib.suppress(duckdb.InvalidInputException):
        connection.execute("SET enable_progress_bar = false")
    # Training sums over many pairs; with several threads DuckDB adds them in an order that
    # varies from run to run, and the estimates with it in their last bits. One thread makes
    # them the same every time; the comparisons of prediction use all the threads.
    connection.execute("SET threads = 1")
    linker = Linker(records, _splink_settings(), db_api=DuckDBAPI(connection=connection))
    training = linker.training
    # Same ID number can find a match only where both records carry one: its recall is at
    # most the share of pairs with both IDs present.
    present = float(records["national_id"].notna().mean())
    training.estimate_probability_two_random_records_match(
        [block_on("national_id")], recall=max(present**2, 0.01)
    )
    training.estimate_u_using_random_sampling(max_pairs=1e7, seed=seed)
    training.estimate_parameters_using_expectation_maximisation(block_on("national_id"))
    training.estimate_parameters_using_expectation_maximisation(block_on("phone"))
    connection.execute(f"SET threads = {int(threads)}")
    return linker


def link_splink(
    identities: pd.DataFrame, threshold: float = 0.3, threads: int = 2, seed: int = 1
) -> LinkResult:
    """Link files by probabilistic record linkage with Splink.

    Parameters
    ----------
    identities
        ``bureau``, ``consumer_id``, ``name``, ``national_id``, ``phone``, ``birth_month``.
    threshold
        Match probability at or above which two files are linked.
    threads
        DuckDB threads.
    seed
        The seed of the random sampling of u probabilities.

    Returns
    -------
    LinkResult
        Person keys, the number of linked pairs, and the trained model.
    """
    frame = prepared_identities(identities)
    records = frame[["name", "national_id", "phone", "birth_month"]].assign(
        record=np.arange(len(frame), dtype=np.int64)
    )
    # Splink reports each training step at INFO and WARNING, on loggers it sets up when
    # imported; the linkage summary says what matters.
    import splink.internals.linker  # noqa: F401

    quieted = {
        name: logging.getLogger(name).level
        for name in ["splink", *logging.root.manager.loggerDict]
        if name.startswith("splink")
    }
    for name in quieted:
        logging.getLogger(name).setLevel(logging.ERROR)
    import duckdb

    # Closed at the end: DuckDB's worker threads and memory do not outlive the linkage (a
    # process that forks workers later should not carry them).
    connection = duckdb.connect()
    from splink.internals.exceptions import EMTrainingException

    try:
        try:
            linker = splink_linker(records, threads=threads, seed=seed, connection=connection)
        except EMTrainingException:
            # Too few records sharing an ID number or a phone to estimate the model from.
            raise LinkageError(
                f"the {len(records):,} identity records hold too few candidate pairs to "
                "estimate a Splink model; link them by ID number instead: the method exact "
                "(bureau reconcile --method exact, or aggregator.linkage = 'exact')"
            ) from None
        pairs = linker.inference.predict(threshold_match_probability=threshold)
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
            pairs, threshold_match_probability=threshold
        )
        cluster = clusters.as_pandas_dataframe()[["record", "cluster_id"]]
        links = int(pairs.as_duckdbpyrelation().count("*").fetchall()[0][0])
        parameters = linker.misc.save_model_to_json()
        # A random id of the linker object: not part of the model.
        parameters.pop("linker_uid", None)
        parameters = json.loads(json.dumps(parameters))
    finally:
        connection.close()
        for name, level in quieted.items():
            logging.getLogger(name).setLevel(level)
    cluster = cluster.sort_values("record", ignore_index=True)
    keys = person_keys(cluster["cluster_id"].to_numpy())
    return LinkResult(
        "splink",
        frame[["bureau", "consumer_id"]].assign(person_key=keys),
        links=links,
        parameters={"threshold": threshold, "model": parameters},
    )


def link(
    identities: pd.DataFrame, method: str, threshold: float = 0.3, threads: int = 2
) -> LinkResult:
    """Link identity records with one of :data:`METHODS`.

    Parameters
    ----------
    identities
        ``bureau``, ``consumer_id``, ``name``, ``national_id``, ``phone``, ``birth_month``.
    method
        ``splink`` or ``exact``.
    threshold
        Splink's match threshold.
    threads
        DuckDB threads for Splink.

    Returns
    -------
    LinkResult
        Person keys and how the linkage went.

    Raises
    ------
    LinkageError
        If the method is unknown or there is nothing to link.
    """
    if method == "exact":
        return link_exact(identities)
    if method == "splink":
        return link_splink(identities, threshold=threshold, threads=threads)
    raise LinkageError(
        f"no linkage method {method!r} (methods: {', '.join(METHODS)})", field="method"
    )
