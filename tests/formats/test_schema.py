"""Month labels and numbers: only real months convert."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from bureau import load_scenario
from bureau.errors import BureauError
from bureau.formats.schema import label_months, month_labels, month_numbers
from bureau.pipeline.scoring import month_of

START = dt.date(2017, 7, 1)


def test_month_numbers_round_trip_labels() -> None:
    labels = month_labels(START, np.array([-7, 0, 5, 6, 35]))
    assert labels.tolist() == ["2016-12", "2017-07", "2017-12", "2018-01", "2020-06"]
    numbers = month_numbers(START, pd.Series([*labels, None], dtype="string"))
    assert numbers.tolist() == [-7, 0, 5, 6, 35, pd.NA]
    assert label_months(START, pd.Series(labels)).tolist() == [-7, 0, 5, 6, 35]


@pytest.mark.parametrize("label", ["2019-13", "2019-00", "2019-1", "2019-011", "19-01", "2019/01"])
def test_labels_that_are_not_months_are_refused(label: str) -> None:
    with pytest.raises(BureauError, match=f"'{label}' is not a month"):
        month_numbers(START, pd.Series(["2018-01", label], dtype="string"))
    with pytest.raises(BureauError, match=f"'{label}' is not a month"):
        label_months(START, pd.Series([label]))


@pytest.mark.parametrize("label", ["2019-13", "2019-00", "2019-1"])
def test_as_of_a_month_that_does_not_exist_is_refused(label: str) -> None:
    with pytest.raises(BureauError, match="is not a month"):
        month_of(load_scenario("small"), label)
