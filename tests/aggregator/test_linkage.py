from __future__ import annotations

import pandas as pd
import pytest

from bureau.aggregator.linkage import (
    LinkageError,
    link,
    link_exact,
    linkage_backend,
    use_linkage_backend,
)


def identities() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "bureau": ["a", "b", "c", "a", "b"],
            "consumer_id": [1, 5, 2, 2, 9],
            "name": ["王伟", "王伟", "王伟", "李娜", "李娜"],
            "national_id": ["110101199001011237", "110101199001011237", None, None, None],
            "phone": ["13800000001", None, "13800000001", "13800000002", "13800000003"],
            "birth_month": ["199001", "199001", None, None, None],
        }
    )


def test_exact_links_the_same_id_only() -> None:
    result = link_exact(identities())
    keys = result.keys.set_index(["bureau", "consumer_id"])["person_key"]
    assert keys[("a", 1)] == keys[("b", 5)]
    assert len({keys[("c", 2)], keys[("a", 2)], keys[("b", 9)], keys[("a", 1)]}) == 4
    # Keys are numbered in the order of the files (bureau, then consumer id).
    assert result.keys["person_key"].tolist() == [1, 2, 1, 3, 4]
    assert result.links == 1


def test_unknown_method_and_nothing_to_link_are_errors() -> None:
    with pytest.raises(LinkageError, match="no linkage method"):
        link(identities(), "fuzzy")
    with pytest.raises(LinkageError, match="no bureau has submitted"):
        link_exact(identities().iloc[:0])


def test_splink_without_candidate_pairs_says_so() -> None:
    lonely = identities().iloc[[0, 3]].assign(phone=["13800000009", "13800000008"])
    with pytest.raises(LinkageError, match="too few candidate pairs"):
        link(lonely, "splink")


def test_an_unknown_linkage_backend_is_an_error_and_duckdb_the_default() -> None:
    assert linkage_backend() == "duckdb"
    with (
        pytest.raises(LinkageError, match="no linkage backend 'fuzzy'") as caught,
        use_linkage_backend("fuzzy"),
    ):
        pass
    assert caught.value.field == "linkage_backend"
    with use_linkage_backend(None):
        assert linkage_backend() == "duckdb"
