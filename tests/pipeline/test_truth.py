"""What the stages read of the truth, once, and the slice of it each bureau's job is handed."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bureau.analysis.file_accuracy import ACCURACY_TRUTH_COLUMNS, assess_bureau, read_provenance
from bureau.analysis.file_errors import item_errors, read_items, trace_items
from bureau.analysis.provenance import TRUTH_COLUMNS, file_owners, read_consumers
from bureau.errors import RunDirectoryError
from bureau.layout import RunLayout
from bureau.pipeline import read_report_tables
from bureau.pipeline.truth import (
    furnished_keys,
    furnished_persons,
    item_slicer,
    month_status,
    outcomes_of,
    owner_slicer,
    read_account_months,
    read_furnished,
    read_outcomes,
    read_persons,
    read_wrongful_records,
)
from bureau.store.corrections import corrections_as_of
from bureau.store.parquet import chunk_file, write_table


def _world(root: Path) -> RunLayout:
    """A run of three persons, two accounts and one bureau's truth."""
    run = RunLayout(root)
    tables = {
        "persons": pd.DataFrame({"person_id": [0, 1, 2]}),
        "account_months": pd.DataFrame(
            {
                "account_id": [7, 7, 8, 9],
                "month": np.array([0, 1, 0, 0], dtype=np.int16),
                "status": np.array([0, 1, 0, 2], dtype=np.int8),
            }
        ),
        "public_records": pd.DataFrame({"record_id": [5, 6], "wrongful": [True, True]}),
        "outcomes": pd.DataFrame(
            {
                "person_id": [0, 1, 2, 0, 1, 2],
                "snapshot_month": np.array([3, 3, 3, 6, 6, 6], dtype=np.int16),
                "default_12m": [False, True, False, True, True, False],
                "borrower": True,
                "in_default": False,
            }
        ),
    }
    for name, frame in tables.items():
        write_table(frame, chunk_file(run.world_table(name), 0))
    furnished = pd.DataFrame(
        {
            "file": ["a.txt", "a.txt", "b.txt"],
            "line": [1, 2, 1],
            "record_type": ["tradeline", "public_record", "signal"],
            "person_id": [1, 1, 2],
            "truth_key": [7, 5, 8],
            "defect": ["", "", ""],
            "identity_of": [1, 1, 2],
        }
    )
    write_table(furnished, run.window_file(run.furnished_truth("sesame"), (0, 36)))
    return run


def test_the_world_is_read_once_and_sliced_by_what_was_furnished(tmp_path: Path) -> None:
    run = _world(tmp_path)
    furnished = read_furnished(run, "sesame", ACCURACY_TRUTH_COLUMNS)
    assert isinstance(furnished["file"].dtype, pd.CategoricalDtype)
    # Account 8 is a signal's key, not an account furnished: it is no tradeline's.
    assert furnished_keys(furnished, "tradeline").tolist() == [7]
    assert furnished_keys(furnished, "public_record").tolist() == [5]
    assert furnished_persons(furnished).tolist() == [1, 2]
    months = read_account_months(run)
    status = month_status(months, np.array([7]))
    assert status.to_dict() == {(7, 0): 0, (7, 1): 1}
    assert len(read_account_months(run, np.array([8, 9]))) == 2
    outcomes = read_outcomes(run, [6, 3])
    assert list(outcomes) == [3, 6]
    assert outcomes[6]["default_12m"].tolist() == [True, True, False]
    assert outcomes[3].index.name == "person_id"
    assert outcomes_of(outcomes[3], np.array([2])).index.tolist() == [2]
    assert read_wrongful_records(run) == {5, 6}
    assert len(read_persons(run)) == 3


def test_each_bureau_is_handed_its_slice_alone(tmp_path: Path) -> None:
    run = _world(tmp_path)
    piece = item_slicer(run, TRUTH_COLUMNS, persons=True)("sesame")
    assert list(piece.furnished.columns) == list(TRUTH_COLUMNS)
    assert piece.account_months.index.get_level_values("account_id").unique().tolist() == [7]
    assert piece.wrongful == {5}
    assert piece.persons["person_id"].tolist() == [1, 2] and piece.adults == 3
    owned = owner_slicer(run, ("file", "line", "identity_of"), 6)("sesame")
    assert owned.outcomes.index.tolist() == [1, 2]
    # What goes to a worker process is the slice, not the world's tables.
    assert len(pickle.dumps(piece)) < 10_000


def test_missing_truth_is_named(tmp_path: Path) -> None:
    with pytest.raises(RunDirectoryError) as caught:
        read_furnished(RunLayout(tmp_path), "kaola", TRUTH_COLUMNS)
    assert caught.value.path == RunLayout(tmp_path).furnished_truth("kaola")


def test_earlier_tables_are_read_back_in_one_place(tmp_path: Path) -> None:
    run = RunLayout(tmp_path)
    write_table(
        pd.DataFrame({"bureau": ["a"], "corrected_share": [0.5]}), run.report_file("disputes")
    )
    run.report_file("linkage").write_bytes(b"not parquet")
    assert list(read_report_tables(run, ["disputes", "consensus"])) == ["disputes"]
    with pytest.raises(RunDirectoryError) as caught:
        read_report_tables(run, ["linkage"])
    assert caught.value.path == run.report_file("linkage")
    assert read_report_tables(run, ["linkage"], unreadable_skipped=True) == {}


@pytest.mark.slow
def test_a_bureaus_slice_measures_it_as_the_whole_world_does(small_run) -> None:
    """Accuracy and file errors on a bureau's slice of the truth, and on the whole of it."""
    run = RunLayout(small_run.path)
    bureau = "chengxin"
    piece = item_slicer(run, ACCURACY_TRUTH_COLUMNS, persons=True)(bureau)
    whole = month_status(read_account_months(run))
    everyone = read_persons(run)
    wrongful = read_wrongful_records(run)
    assert len(piece.account_months) < len(whole) and piece.wrongful <= wrongful
    with run.bureau_database(bureau, create=False) as engine:
        held = read_provenance(engine)
        consumers = read_consumers(engine)
        raw = read_items(engine, small_run.scenario.snapshots)
        with engine.connect() as conn:
            fixes = corrections_as_of(conn, small_run.scenario.snapshots[-1])
    sliced = assess_bureau(
        bureau,
        held,
        piece.furnished,
        piece.persons,
        piece.adults,
        piece.account_months,
        piece.wrongful,
    )
    full = assess_bureau(bureau, held, piece.furnished, everyone, len(everyone), whole, wrongful)
    assert sliced[0] == full[0]
    pd.testing.assert_frame_equal(sliced[1], full[1])
    pd.testing.assert_frame_equal(sliced[2], full[2])
    # The stage's count of consumers is of the same owners.
    counted = pd.read_parquet(run.report_file("consumer_errors")).set_index("reports")
    owners = full[2]
    assert counted.loc[bureau, "consumers"] == len(owners) == owners["person_id"].nunique()
    assert counted.loc[bureau, "with_error"] == owners["material_error"].sum()
    assert (counted["with_error"] <= counted["consumers"]).all()
    items = trace_items(raw, piece.furnished, file_owners(consumers, piece.furnished))
    snapshot = small_run.scenario.snapshots[-1]
    pd.testing.assert_frame_equal(
        item_errors(items, fixes, piece.account_months, piece.wrongful, snapshot),
        item_errors(items, fixes, whole, wrongful, snapshot),
    )
