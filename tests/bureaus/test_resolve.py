"""Identity resolution on hand-made records."""

from __future__ import annotations

import pandas as pd

from bureau.bureaus.resolve import IdentityIndex, commit, resolve

ID_A = "110105199001011234"
ID_B = "110105199001015678"


def records(*rows: tuple[str | None, str | None, str | None]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["name", "national_id", "phone"]).astype("string")


def test_new_records_sharing_any_key_become_one_consumer() -> None:
    index = IdentityIndex()
    batch = records(
        ("王伟", ID_A, "13800000001"),
        ("王伟", None, "13800000001"),  # same person, number missing: linked by phone and name
        ("李娜", ID_B, "13900000002"),
    )
    result = resolve(batch, ["national_id", "phone_name"], index)
    assert result.consumer_id.tolist() == [1, 1, 2]
    assert result.new_consumers["row"].tolist() == [0, 2]
    commit(index, result)
    again = resolve(
        records(("王伟", ID_A, None), ("李娜", None, "13900000002")),
        ["national_id", "phone_name"],
        index,
    )
    assert again.consumer_id.tolist() == [1, 2]
    assert again.new_consumers.empty and again.new_keys.empty
    assert index.next_id == 3


def test_a_mistyped_number_without_a_fallback_rule_fragments_the_file() -> None:
    typo = ID_A[:8] + ID_A[9] + ID_A[8] + ID_A[10:]
    for rules, expected in ((["national_id"], 2), (["national_id", "phone_name"], 1)):
        index = IdentityIndex()
        commit(index, resolve(records(("王伟", ID_A, "13800000001")), rules, index))
        result = resolve(records(("王伟", typo, "13800000001")), rules, index)
        # Without a phone rule, a second file for the same person; with it, the same file.
        assert result.consumer_id.tolist() == [expected]


def test_name_and_birth_date_merge_namesakes() -> None:
    index = IdentityIndex()
    commit(index, resolve(records(("张敏", ID_A, None)), ["name_birth"], index))
    # Another 张敏 born the same day in the same city: the bureau cannot tell them apart.
    result = resolve(records(("张敏", ID_B, None)), ["name_birth"], index)
    assert result.consumer_id.tolist() == [1]
    assert result.new_consumers.empty


def test_oldest_consumer_wins_a_shared_key() -> None:
    index = IdentityIndex(
        pd.DataFrame(
            {"kind": ["national_id", "national_id"], "value": [ID_A, ID_A], "consumer_id": [7, 3]}
        ),
        next_id=8,
    )
    assert index.lookup("national_id", pd.Series([ID_A, ID_B, None], dtype="string")).tolist() == [
        3,
        -1,
        -1,
    ]


def test_resolution_does_not_depend_on_batching() -> None:
    rules = ["national_id", "phone_name"]
    known = records(("王伟", ID_A, None))
    first = records(("王伟", ID_A, "13800000001"))  # matched by number; the phone is new
    second = records(("王伟", None, "13800000001"))  # no number: linked by phone and name
    together = IdentityIndex()
    commit(together, resolve(known, rules, together))
    both = resolve(pd.concat([first, second], ignore_index=True), rules, together)
    apart = IdentityIndex()
    commit(apart, resolve(known, rules, apart))
    commit(apart, resolve(first, rules, apart))
    one = resolve(second, rules, apart)
    assert both.consumer_id.tolist() == [1, 1]  # not a second file for the same person
    assert one.consumer_id.tolist() == [1]
    assert both.new_consumers.empty and one.new_consumers.empty
