"""The analysis as functions of tables: each measure on small frames, nothing read or written."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bureau import load_scenario
from bureau.analysis.aggregator_gain import _bureau_performance
from bureau.analysis.compare import _column
from bureau.analysis.file_accuracy import EVERY_BUREAU, consumer_errors
from bureau.analysis.html_report import html_report
from bureau.analysis.model_performance import TRUTH_METRICS, truth_performance
from bureau.analysis.provenance import BureauTruth, bureau_truth, file_owners, item_truth, trace
from bureau.analysis.views import ComparisonError, checked_scores


def _truth() -> pd.DataFrame:
    """A bureau's furnished truth: four lines of two files, the text columns as categories."""
    return pd.DataFrame(
        {
            "file": pd.Categorical(["a.csv", "a.csv", "b.csv", "b.csv"]),
            "line": [1, 2, 1, 2],
            "person_id": [10, 11, 12, 13],
            "truth_key": [100, 101, 200, 201],
            "defect": pd.Categorical(["", "", "wrongful_record", ""]),
            "identity_of": [10, 11, 14, 13],
        }
    )


def test_file_owners_trace_each_file_to_the_identity_that_created_it() -> None:
    consumers = pd.DataFrame(
        {"consumer_id": [3, 1, 2], "source_file": ["b.csv", "a.csv", "c.csv"], "source_line": 1}
    )
    owners = file_owners(consumers, _truth())
    # The record that created file 3 was filed against person 14; file 2 traces to nothing.
    expected = pd.Series([14, 10, -1], index=[3, 1, 2], name="person_id", dtype=np.int64)
    pd.testing.assert_series_equal(owners, expected)


def test_items_are_traced_to_their_world_rows() -> None:
    lines = pd.DataFrame(
        {"furnisher": ["L"], "account_ref": ["x1"], "source_file": ["a.csv"], "source_line": [2]}
    )
    records = pd.DataFrame(
        {
            "furnisher": ["court", "court"],
            "record_ref": ["r1", "r2"],
            "source_file": ["b.csv", "z.csv"],
            "source_line": [1, 9],
        }
    )
    accounts, held = item_truth(lines, records, _truth())
    assert accounts.to_dict("records") == [
        {"furnisher": "L", "account_ref": "x1", "account_id": 101, "account_person": 11}
    ]
    assert held["record_id"].tolist() == [200, -1]
    assert held["record_person"].tolist() == [14, -1]
    assert held["wrongful"].tolist() == [True, False]
    owners = pd.Series([10], index=[1], name="person_id")
    traced = bureau_truth("sesame", owners, lines, records, _truth())
    assert isinstance(traced, BureauTruth)
    assert traced.owners.to_dict("records") == [
        {"bureau": "sesame", "consumer_id": 1, "person_id": 10}
    ]


def _scores() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "consumer_id": [4, 1, 2, 3],
            "pd": [0.9, 0.1, 0.2, 0.8],
            "bad": [True, False, False, True],
            "in_default": [False, False, False, False],
            "snapshot": 24,
        }
    )


def test_scores_are_checked_and_the_error_names_row_and_field() -> None:
    checked = checked_scores(_scores(), 24)
    assert checked["consumer_id"].tolist() == [1, 2, 3, 4]
    with pytest.raises(ComparisonError) as caught:
        checked_scores(_scores().assign(pd=[0.1, 1.5, 0.2, 0.3]), 24)
    assert (caught.value.row, caught.value.field, caught.value.path) == (2, "pd", None)
    with pytest.raises(ComparisonError, match="not of the evaluation snapshot"):
        checked_scores(_scores(), 12)
    with pytest.raises(ComparisonError) as missing:
        checked_scores(_scores().drop(columns="bad"), 24)
    assert missing.value.field == "bad"


def test_a_bureau_is_judged_on_the_outcomes_of_its_files_owners_only() -> None:
    owners = pd.Series([20, 21, 22, 23], index=[1, 2, 3, 4])
    world = pd.DataFrame(
        {"default_12m": [False, False, True, True, True], "in_default": False},
        index=pd.Index([20, 21, 22, 23, 99], name="person_id"),
    )
    # A bureau's slice of the outcomes (its files' owners) judges it as the whole table does.
    assert truth_performance(_scores(), owners, world.loc[[20, 21, 22, 23]]) == truth_performance(
        _scores(), owners, world
    )
    assert truth_performance(_scores(), owners, world)["auc"] == 1.0


def test_each_bureaus_truth_figures_come_from_its_scores() -> None:
    owners = pd.DataFrame(
        {"bureau": "a", "consumer_id": [1, 2, 3, 4], "person_id": [20, 21, 22, 23]}
    )
    traced = {
        name: BureauTruth(owners.assign(bureau=name), pd.DataFrame(), pd.DataFrame())
        for name in ("b", "a")
    }
    outcomes = pd.DataFrame(
        {"default_12m": [False, False, True, True], "in_default": False},
        index=pd.Index([20, 21, 22, 23], name="person_id"),
    )
    rows = _bureau_performance(traced, {"a": _scores()}, outcomes)
    # In bureau order; a bureau without scores (no model) has no figures.
    assert [row["view"] for row in rows] == ["a", "b"]
    assert rows[0]["rows"] == 4 and rows[0]["auc"] == 1.0
    assert all(math.isnan(rows[1][m]) for m in TRUTH_METRICS)


def test_an_earlier_table_lacking_a_column_is_named() -> None:
    earlier = {"disputes": pd.DataFrame({"bureau": ["a"]})}
    assert _column(earlier, "coverage_accuracy", "view", "person_error_rate").empty
    with pytest.raises(ComparisonError, match="disputes table") as caught:
        _column(earlier, "disputes", "bureau", "corrected_share")
    assert caught.value.field == "corrected_share"


def test_the_page_is_drawn_from_the_tables_given_alone() -> None:
    comparison = pd.DataFrame(
        {
            "bureau": ["sesame", "aggregator"],
            "model": ["lightgbm", "consensus"],
            "coverage": [0.5, 0.8],
            "thin_file": [0.1, 0.1],
            "invisible": [0.5, 0.2],
        }
    )
    files = ["comparison.parquet", "comparison.csv"]
    page = html_report({"comparison": comparison}, load_scenario("small"), files, "run")
    assert "lacks the roc table (report/roc.parquet)" in page.text
    assert '<a href="comparison.csv">CSV</a>' in page.text
    # Only the coverage figure has its table: it is the one figure, as PNG bytes to write.
    assert list(page.figures) == ["coverage.png"]
    assert page.figures["coverage.png"].startswith(b"\x89PNG")
    bare = html_report({}, "Not shown: the run has no scenario.resolved.toml.", [], "my-run")
    assert "scenario my-run" in bare.text and "No report tables in this run." in bare.text
    assert bare.figures == {}


def test_tracing_joins_as_on_names_whatever_the_truths_text_type() -> None:
    rows = pd.DataFrame(
        {"row": [0, 1, 2, 3], "source_file": ["b.csv", "nowhere", "a.csv", "a.csv"]}
    ).assign(source_line=[1, 1, 2, 9])
    categorical = _truth()
    text = categorical.astype({"file": str, "defect": str})
    expected = rows.merge(
        text, left_on=["source_file", "source_line"], right_on=["file", "line"], how="left"
    ).drop(columns=["file", "line"])
    for truth in (categorical, text):
        traced = trace(rows, truth).astype({"defect": object})
        pd.testing.assert_frame_equal(traced, expected.astype({"defect": object}))
    # A line furnished twice traces to both records, in the truth's order.
    twice = pd.concat([text, text.iloc[[1]].assign(person_id=99)], ignore_index=True)
    assert trace(rows, twice)["person_id"].tolist()[2:4] == [11, 99]


def test_consumers_with_an_error_are_counted_once_over_every_bureau() -> None:
    owners = {
        "b": pd.DataFrame({"person_id": [1, 2, 3], "material_error": [True, False, False]}),
        "a": pd.DataFrame({"person_id": [1, 2, 4], "material_error": [False, False, True]}),
    }
    table = consumer_errors(owners).set_index("reports")
    assert list(table.index) == ["a", "b", EVERY_BUREAU]
    assert table.loc["a", "with_error"] == 1 and table.loc["a", "error_rate"] == pytest.approx(
        1 / 3
    )
    # Persons 1 and 2 have a file at both; 1 has an error at one of them, 3 and 4 do not count.
    assert table.loc[EVERY_BUREAU].to_dict() == {"consumers": 2, "with_error": 1, "error_rate": 0.5}
    assert consumer_errors({}).empty
