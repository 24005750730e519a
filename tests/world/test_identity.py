from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from bureau.formats.national_id import (
    check_characters,
    format_national_ids,
    gender_of,
    validate_national_ids,
)
from bureau.reference import reference
from bureau.world.identity import UniqueRegistry, national_id_body

REGIONS = sorted(reference().regions["region_code"])


def test_check_character_of_the_standards_example() -> None:
    # The worked example of GB 11643-1999: 11010519491231002 closes with X.
    assert check_characters(np.array([11010519491231002]))[0] == "X"
    assert validate_national_ids(["11010519491231002X"]).tolist() == [True]


@given(
    region=st.sampled_from(REGIONS),
    birth=st.dates(
        min_value=np.datetime64("1930-01-01").item(), max_value=np.datetime64("2008-12-31").item()
    ),
    sequence=st.integers(0, 999),
)
def test_built_numbers_validate_and_carry_their_parts(region, birth, sequence) -> None:
    body = national_id_body(
        np.array([region]), np.array([birth], dtype="datetime64[D]"), np.array([sequence])
    )
    number = format_national_ids(body)[0]
    assert len(number) == 18
    assert number[:6] == region
    assert number[6:14] == birth.strftime("%Y%m%d")
    assert validate_national_ids([number])[0]
    assert gender_of([number])[0] == ("M" if sequence % 2 else "F")


@given(position=st.integers(0, 16), delta=st.integers(1, 9))
def test_a_changed_digit_breaks_the_check(position: int, delta: int) -> None:
    number = "11010519491231002X"
    digit = (int(number[position]) + delta) % 10
    changed = number[:position] + str(digit) + number[position + 1 :]
    assert not validate_national_ids([changed])[0]


def test_invalid_shapes_and_regions_and_dates() -> None:
    body = 99999919900101123  # region 999999 does not exist
    bad_region = format_national_ids(np.array([body]))[0]
    bad_date = format_national_ids(np.array([11010519901301123]))[0]  # month 13
    result = validate_national_ids([bad_region, bad_date, "123", "", "11010519491231002x"])
    assert result.tolist() == [False] * 5


def test_registry_keeps_numbers_unique_across_chunks() -> None:
    rng = np.random.default_rng(0)
    registry = UniqueRegistry()
    stem = 110105_19900101_000
    first = np.array([stem + 1, stem + 3, stem + 5])
    male = np.ones(3, dtype=bool)
    a, _ = registry.settle(rng, first, male, np.array([13800000000, 13800000001]))
    b, phones = registry.settle(rng, first.copy(), male, np.array([13800000000, 13800000000]))
    assert np.array_equal(a, first)
    assert not set(a) & set(b)
    assert np.all(b % 2 == 1)  # redrawn sequences keep the gender parity
    assert np.all(b // 1000 == stem // 1000)  # and the region and birth date
    assert len(set(phones)) == 2 and not set(phones) & {13800000000, 13800000001}
