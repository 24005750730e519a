"""Identity linkage: which consumer files of the eight bureaus belong to one person.

Every bureau files people under its own ids. The aggregator links those files by the identity
attributes submitted with them, in one of two ways:

- ``splink``: probabilistic record linkage (Fellegi-Sunter) with Splink, on DuckDB in this
  process or, with the ``spark`` backend (:func:`use_linkage_backend`), on Spark. Pairs are
  blocked on the ID number, the phone, and the name with the birth month; the chance that two
  random records match, the u probabilities (by random sampling) and the m probabilities (by
  expectation maximisation) are estimated from the records themselves; pairs at or above the
  match threshold are joined into clusters (connected components).
- ``exact``: the deterministic baseline: files with the same ID number are one person; a file
  without one is a person of its own.

Clusters become person keys: numbered 1, 2, ... in the order of their first file (by bureau,
then consumer id), so the same records give the same keys.

Spark runs where ``BUREAU_SPARK_MASTER`` says (``local[2]`` by default; ``spark://host:7077``,
``yarn`` or ``k8s://...`` for a cluster), with its intermediate tables written under
``BUREAU_SPARK_CHECKPOINT_DIR`` (a temporary directory by default; on a cluster, a path every
executor reaches). A Spark session already active in the process (a notebook's) is used as it is.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bureau.errors import BureauError

logger = logging.getLogger(__name__)

METHODS = ("splink", "exact")
#: Where Splink computes: DuckDB in this process, or a Spark cluster (``bureau[spark]``).
BACKENDS = ("duckdb", "spark")
IDENTITY_COLUMNS = ["bureau", "consumer_id", "name", "national_id", "phone", "birth_month"]

_BACKEND: ContextVar[str] = ContextVar("linkage_backend", default="duckdb")


class LinkageError(BureauError):
    """Linkage asked for something it cannot do (an unknown method, no records)."""


@contextlib.contextmanager
def use_linkage_backend(backend: str | None) -> Iterator[None]:
    """Run Splink's linkage on one of :data:`BACKENDS` for the duration of a block.

    The links do not depend on it. Spark needs the ``spark`` extra
    (``pip install 'bureau[spark]'``) and Java.

    Parameters
    ----------
    backend
        ``duckdb`` or ``spark``; None keeps the backend in force (DuckDB by default).

    Yields
    ------
    None

    Raises
    ------
    LinkageError
        If the backend is unknown, or is Spark and PySpark is not installed.
    """
    if backend is None:
        yield
        return
    if backend not in BACKENDS:
        raise LinkageError(
            f"no linkage backend {backend!r} (backends: {', '.join(BACKENDS)})",
            field="linkage_backend",
        )
    if backend == "spark":
        try:
            import pyspark  # noqa: F401
        except ImportError:
            raise LinkageError(
                "the spark linkage backend needs PySpark: pip install 'bureau[spark]'",
                field="linkage_backend",
            ) from None
    token = _BACKEND.set(backend)
    try:
        yield
    finally:
        _BACKEND.reset(token)


def linkage_backend() -> str:
    """The backend Splink runs on here: ``duckdb`` unless :func:`use_linkage_backend` says.

    Returns
    -------
    str
        One of :data:`BACKENDS`.
    """
    return _BACKEND.get()


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


def _splink_settings(jaro_winkler: str = "jaro_winkler_similarity") -> Any:
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
                f"AND {jaro_winkler}(name_l, name_r) >= 0.6",
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
    records: pd.DataFrame,
    threads: int = 2,
    seed: int = 1,
    connection: Any = None,
    db_api: Any = None,
) -> Any:
    """A trained Splink linker over identity records (DuckDB in memory, or a Splink backend).

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
    db_api
        A Splink database API to work in instead of DuckDB (Splink's ``SparkAPI``).

    Returns
    -------
    splink.Linker
        With the prior, u and m probabilities estimated.
    """
    from splink import DuckDBAPI, Linker, block_on

    if db_api is None:
        import duckdb

        connection = connection if connection is not None else duckdb.connect()
        # Progress is ours to draw (the stage's bar), not DuckDB's. In a Jupyter kernel
        # without ipywidgets DuckDB draws none and refuses the setting: nothing to turn off.
        with contextlib.suppress(duckdb.InvalidInputException):
            connection.execute("SET enable_progress_bar = false")
        # Training sums over many pairs; with several threads DuckDB adds them in an order
        # that varies from run to run, and the estimates with it in their last bits. One
        # thread makes them the same every time; prediction's comparisons use all threads.
        connection.execute("SET threads = 1")
        db_api = DuckDBAPI(connection=connection)
    settings = _splink_settings(db_api.sql_dialect.jaro_winkler_function_name)
    linker = Linker(records, settings, db_api=db_api)
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
    if connection is not None:
        connection.execute(f"SET threads = {int(threads)}")
    return linker


@contextlib.contextmanager
def _spark_api(threads: int) -> Iterator[Any]:
    """Splink's Spark API on the session in force, or on one started for the block."""
    from pyspark.sql import SparkSession
    from splink.backends.spark import SparkAPI, similarity_jar_location

    session = SparkSession.getActiveSession()
    started = session is None
    if started:
        session = (
            SparkSession.builder.appName("bureau-linkage")
            .master(os.environ.get("BUREAU_SPARK_MASTER", f"local[{int(threads)}]"))
            # Splink's string similarities (Jaro-Winkler) are Scala functions in this jar.
            .config("spark.jars", similarity_jar_location())
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", str(int(threads)))
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
    checkpoints = os.environ.get("BUREAU_SPARK_CHECKPOINT_DIR")
    made = None if checkpoints else tempfile.mkdtemp(prefix="bureau-spark-")
    session.sparkContext.setCheckpointDir(checkpoints or made)
    try:
        yield SparkAPI(spark_session=session, break_lineage_method="parquet")
    finally:
        if started:
            session.stop()
        if made:
            shutil.rmtree(made, ignore_errors=True)


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
    from splink.internals.exceptions import EMTrainingException

    with contextlib.ExitStack() as stack:
        stack.callback(_restore_levels, quieted)
        if linkage_backend() == "spark":
            connection = None
            db_api = stack.enter_context(_spark_api(threads))
        else:
            # Closed at the end: DuckDB's worker threads and memory do not outlive the linkage
            # (a process that forks workers later should not carry them).
            connection = stack.enter_context(contextlib.closing(duckdb.connect()))
            db_api = None
        try:
            linker = splink_linker(
                records, threads=threads, seed=seed, connection=connection, db_api=db_api
            )
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
        counted = linker.misc.query_sql(f"SELECT count(*) AS n FROM {pairs.physical_name}")
        links = int(counted["n"].iloc[0])
        parameters = linker.misc.save_model_to_json()
        # A random id of the linker object: not part of the model.
        parameters.pop("linker_uid", None)
        parameters = json.loads(json.dumps(parameters))
    cluster = cluster.sort_values("record", ignore_index=True)
    keys = person_keys(cluster["cluster_id"].to_numpy())
    return LinkResult(
        "splink",
        frame[["bureau", "consumer_id"]].assign(person_key=keys),
        links=links,
        parameters={"threshold": threshold, "model": parameters},
    )


def _restore_levels(levels: dict[str, int]) -> None:
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


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
