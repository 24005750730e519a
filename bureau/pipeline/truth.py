"""What the stages read of the truth: each table once per stage, only the columns it needs.

A stage that measures the bureaus against the truth reads the world's tables once, and each
bureau's furnished truth (``truth/furnished/<bureau>/``) once, here; then it hands
each bureau's job the rows that concern that bureau (:class:`TruthSlice`): the monthly
statuses of the accounts furnished to it, the wrongful public records among those furnished
to it, the outcomes of the persons whose identities it was furnished. A job is pickled to a
worker process, so what it carries is its bureau's share of the truth, never a whole table;
and a bureau's slice is made when a worker is about to take its job
(:func:`~bureau.parallel.map_built`), so that the stage holds only the slices of the jobs
running.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from bureau.errors import RunDirectoryError
from bureau.layout import RunLayout
from bureau.store.parquet import read_table

#: Columns of the furnished truth read as categories: a few distinct values over many rows,
#: so that a bureau's truth takes half the memory and goes to its job quickly.
_CATEGORIES = ("file", "record_type", "defect", "source")
#: The columns of the world's outcomes a measure reads, by ``person_id``.
OUTCOME_COLUMNS = ("default_12m", "in_default")


@dataclass(frozen=True)
class TruthSlice:
    """What a bureau's job is handed of the truth: the rows that concern that bureau.

    Each stage fills in what its jobs need; the rest stays None.

    Attributes
    ----------
    furnished
        The bureau's furnished truth, the columns its job traces with.
    account_months
        The world's status code per ``(account_id, month)`` of the accounts furnished to it
        (:func:`month_status`).
    wrongful
        The wrongful world public records among those furnished to it.
    outcomes
        True outcomes at the evaluation snapshot (:data:`OUTCOME_COLUMNS` by ``person_id``)
        of the persons behind its files, at least.
    owners
        The person behind each of its files, where the stage has traced them.
    persons
        The world's persons (``person_id``) whose identities were furnished to it.
    adults
        The number of persons in the world.
    """

    furnished: pd.DataFrame | None = None
    account_months: pd.Series | None = None
    wrongful: set[int] | None = None
    outcomes: pd.DataFrame | None = None
    owners: pd.Series | None = None
    persons: pd.DataFrame | None = None
    adults: int | None = None


def read_furnished(run: RunLayout, bureau: str, columns: Sequence[str]) -> pd.DataFrame:
    """Read a bureau's furnished truth: what each record furnished to it really was.

    Parameters
    ----------
    run
        The run.
    bureau
        The bureau.
    columns
        The columns to read (``file``, ``line``, ``identity_of``...).

    Returns
    -------
    pandas.DataFrame
        The columns asked for, the text ones (``file``, ``record_type``, ``defect``) as
        categories.

    Raises
    ------
    RunDirectoryError
        If the file is missing or damaged.
    """
    path = run.furnished_truth(bureau)
    wanted = list(columns)
    try:
        table = pq.read_table(
            path, columns=wanted, read_dictionary=[c for c in wanted if c in _CATEGORIES]
        )
    except (pa.ArrowException, OSError):
        raise RunDirectoryError(
            "missing or damaged truth of what was furnished: make the run again", path=path
        ) from None
    return table.to_pandas()


def furnished_keys(furnished: pd.DataFrame, record_type: str) -> np.ndarray:
    """The world keys of the records of one type furnished to a bureau.

    Parameters
    ----------
    furnished
        Its furnished truth (``record_type``, ``truth_key``).
    record_type
        ``tradeline`` (keys are account ids) or ``public_record`` (world record ids).

    Returns
    -------
    numpy.ndarray
        The distinct keys, sorted.
    """
    keys = furnished.loc[(furnished["record_type"] == record_type).to_numpy(), "truth_key"]
    return np.unique(keys.to_numpy(dtype=np.int64))


def furnished_persons(furnished: pd.DataFrame) -> np.ndarray:
    """The persons whose identities were furnished to a bureau: the owners its files can have.

    Parameters
    ----------
    furnished
        Its furnished truth (``identity_of``).

    Returns
    -------
    numpy.ndarray
        The distinct person ids, sorted.
    """
    persons = furnished["identity_of"].to_numpy(dtype=np.int64)
    return np.unique(persons[persons >= 0])


def read_account_months(run: RunLayout, accounts: np.ndarray | None = None) -> pd.DataFrame:
    """The world's status of accounts month by month.

    Parameters
    ----------
    run
        The run.
    accounts
        The accounts to read (every account when None).

    Returns
    -------
    pandas.DataFrame
        ``account_id``, ``month``, ``status`` (a code of ``STATUS_CODES``).
    """
    where = None if accounts is None else ds.field("account_id").isin(pa.array(accounts))
    return read_table(run.world_table("account_months"), ["account_id", "month", "status"], where)


def month_status(account_months: pd.DataFrame, accounts: np.ndarray | None = None) -> pd.Series:
    """The status code per ``(account_id, month)``, of some accounts.

    Parameters
    ----------
    account_months
        :func:`read_account_months`.
    accounts
        The accounts to keep (all when None).

    Returns
    -------
    pandas.Series
        ``status`` indexed by ``account_id`` and ``month``.
    """
    if accounts is not None:
        account_months = account_months[account_months["account_id"].isin(accounts).to_numpy()]
    return account_months.set_index(["account_id", "month"])["status"]


def read_wrongful_records(run: RunLayout) -> set[int]:
    """The world's public records filed against someone they are not about.

    Parameters
    ----------
    run
        The run.

    Returns
    -------
    set of int
        Their record ids.
    """
    records = read_table(run.world_table("public_records"), ["record_id", "wrongful"])
    return set(records.loc[records["wrongful"].to_numpy(dtype=bool), "record_id"].tolist())


def read_persons(run: RunLayout, columns: Sequence[str] = ("person_id",)) -> pd.DataFrame:
    """The world's persons, some of their columns.

    Parameters
    ----------
    run
        The run.
    columns
        The columns to read.

    Returns
    -------
    pandas.DataFrame
        One row per person.
    """
    return read_table(run.world_table("persons"), list(columns))


def read_outcomes(
    run: RunLayout, snapshots: Sequence[int], columns: Sequence[str] = OUTCOME_COLUMNS
) -> dict[int, pd.DataFrame]:
    """Every person's true outcome at some snapshots, the table read once for all of them.

    Parameters
    ----------
    run
        The run.
    snapshots
        The snapshot months.
    columns
        The columns of the outcomes read (``borrower`` besides :data:`OUTCOME_COLUMNS`).

    Returns
    -------
    dict of int to pandas.DataFrame
        By snapshot: the columns indexed by ``person_id``.
    """
    months = sorted(set(snapshots))
    table = read_table(
        run.world_table("outcomes"),
        ["person_id", "snapshot_month", *columns],
        ds.field("snapshot_month").isin(months),
    )
    month = table.pop("snapshot_month").to_numpy()
    return {s: table[month == s].set_index("person_id") for s in months}


def outcomes_of(outcomes: pd.DataFrame, persons: np.ndarray) -> pd.DataFrame:
    """The outcomes of some persons: a bureau's slice of the world's.

    Parameters
    ----------
    outcomes
        Outcomes indexed by ``person_id`` (:func:`read_outcomes`).
    persons
        The persons.

    Returns
    -------
    pandas.DataFrame
        The rows of those persons, in the world's order.
    """
    return outcomes[outcomes.index.isin(persons)]


def item_slicer(
    run: RunLayout, columns: Sequence[str], persons: bool = False
) -> Callable[[str], TruthSlice]:
    """Each bureau's slice of the truth for measuring its items (file accuracy, disputes).

    The world's account months and public records (and persons) are read here, once; a
    bureau's furnished truth when its slice is made, so that only the slices of the jobs
    running need be held at a time.

    Parameters
    ----------
    run
        The run.
    columns
        The columns of the furnished truth the jobs trace with.
    persons
        Also hand each bureau the world's persons furnished to it, and the number of adults.

    Returns
    -------
    callable
        A bureau's :class:`TruthSlice`: its furnished truth, the statuses of the accounts and
        the wrongful public records furnished to it (and its persons).
    """
    account_months = read_account_months(run)
    wrongful = read_wrongful_records(run)
    people = read_persons(run) if persons else None

    def slice_of(bureau: str) -> TruthSlice:
        furnished = read_furnished(run, bureau, sorted({*columns, "record_type", "truth_key"}))
        accounts = furnished_keys(furnished, "tradeline")
        records = set(furnished_keys(furnished, "public_record").tolist())
        piece = TruthSlice(
            furnished=furnished[list(columns)],
            account_months=month_status(account_months, accounts),
            wrongful=wrongful & records,
        )
        if people is None:
            return piece
        known = people["person_id"].isin(furnished_persons(furnished)).to_numpy()
        return replace(piece, persons=people[known], adults=len(people))

    return slice_of


def owner_slicer(
    run: RunLayout, columns: Sequence[str], evaluation: int
) -> Callable[[str], TruthSlice]:
    """Each bureau's slice of the truth for judging its scores (training).

    The world's outcomes at the evaluation snapshot are read here, once; a bureau's
    furnished truth when its slice is made.

    Parameters
    ----------
    run
        The run.
    columns
        The columns of the furnished truth its files' owners are traced with.
    evaluation
        The evaluation snapshot.

    Returns
    -------
    callable
        A bureau's :class:`TruthSlice`: its furnished truth, and the outcomes of the persons
        whose identities were furnished to it (the owners its files can have).
    """
    outcomes = read_outcomes(run, [evaluation])[evaluation]

    def slice_of(bureau: str) -> TruthSlice:
        furnished = read_furnished(run, bureau, columns)
        persons = furnished_persons(furnished)
        return TruthSlice(furnished=furnished, outcomes=outcomes_of(outcomes, persons))

    return slice_of
