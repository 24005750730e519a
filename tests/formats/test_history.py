"""Payment history strings and the delinquency levels of status codes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bureau.formats.history import (
    HISTORY_MONTHS,
    STATUS_LEVELS,
    history_defaulted,
    history_strings,
    status_levels,
)


@pytest.mark.parametrize(
    "status",
    [
        np.array(["N", "1", "2", "3", "4", "W", "C", "-", "nan", "x"]),
        pd.Series(["N", "1", "2", "3", "4", "W", "C", "-", None, "x"], dtype="string[pyarrow]"),
        pd.Series(["N", "1", "2", "3", "4", "W", "C", "-", np.nan, "x"], dtype=object),
        pd.Series(
            ["N", "1", "2", "3", "4", "W", "C", "-", None, "x"],
            index=range(100, 110),
            dtype="category",
        ),
    ],
    ids=["numpy", "arrow", "object", "category"],
)
def test_status_levels_of_every_code_and_anything_else(status) -> None:
    levels = status_levels(status)
    assert levels.dtype == np.float64
    assert levels.tolist() == [0, 1, 2, 3, 4, 5, 0, 0, 0, 0]
    expected = pd.Series(status, dtype=object).map(STATUS_LEVELS).fillna(0).to_numpy(float)
    assert np.array_equal(levels, expected)


def test_histories_place_each_report_in_its_month_and_show_defaults() -> None:
    row = np.array([0, 0, 1, 1])
    month = np.array([23, 22, 23, 5])
    status = np.array(["4", "N", "1", "W"])
    strings = history_strings(row, month, status, rows=2, last=23)
    assert [len(s) for s in strings] == [HISTORY_MONTHS] * 2
    assert strings[0] == "-" * 22 + "N4"
    assert strings[1] == "-" * 5 + "W" + "-" * 17 + "1"
    defaulted = history_defaulted(pd.Series(strings), first=20, last=23, end=23)
    assert defaulted.tolist() == [True, False]
