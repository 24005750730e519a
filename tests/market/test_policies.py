"""Lenders' policies, cut-offs and retro tests, as pure functions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bureau.market import (
    AGGREGATOR,
    OWN_JUDGMENT,
    PolicyError,
    choose,
    cutoff_for,
    decide,
    lender_pd,
    options_for,
    retro_values,
)

NAN = np.nan
# Four applicants, two bureaus: a has files on the first three, b on the last three.
PDS = np.array([[0.02, NAN], [0.10, 0.03], [0.04, 0.20], [NAN, 0.01]])
OWN = np.array([True, False, True, False])


def test_each_policy_reads_the_pd_it_names() -> None:
    pd_, by = lender_pd("waterfall", PDS, ["a", "b"])
    assert np.allclose(pd_, [0.02, 0.10, 0.04, 0.01]) and list(by) == ["a", "a", "a", "b"]
    pd_, by = lender_pd("waterfall", PDS[:, ::-1], ["b", "a"])
    assert np.allclose(pd_, [0.02, 0.03, 0.20, 0.01]) and list(by) == ["a", "b", "b", "b"]
    pd_, by = lender_pd("worst_of", PDS, ["a", "b"])
    assert np.allclose(pd_, [0.02, 0.10, 0.20, 0.01]) and list(by) == ["a", "a", "b", "b"]
    pd_, by = lender_pd("single", PDS[:, :1], ["a"])
    assert np.isnan(pd_[3]) and by[3] == ""
    pd_, by = lender_pd("consensus", PDS[:, 1:], [AGGREGATOR])
    assert list(by) == ["", AGGREGATOR, AGGREGATOR, AGGREGATOR]


@pytest.mark.parametrize(
    ("policy", "sources"),
    [("single", ["a", "b"]), ("consensus", ["a"]), ("single", [AGGREGATOR]), ("best_of", ["a"])],
)
def test_a_policy_refuses_sources_it_cannot_read(policy: str, sources: list[str]) -> None:
    with pytest.raises(PolicyError, match=policy):
        lender_pd(policy, PDS[:, : len(sources)], sources)


def test_the_cut_off_approves_and_the_thin_file_rule_covers_the_rest() -> None:
    made = decide("single", PDS[:, :1], ["a"], 0.05, OWN, thin_file="decline")
    assert list(made.approved) == [True, False, True, False]
    assert list(made.decided_by) == ["a"] * 4
    fallback = decide("single", PDS[:, :1], ["a"], 0.05, OWN, thin_file="own_judgment")
    assert fallback.approved[3] == OWN[3] and fallback.decided_by[3] == OWN_JUDGMENT
    assert np.isnan(fallback.pd[3]) and fallback.pd[0] == 0.02
    smaller = decide(
        "single", PDS[:, :1], ["a"], 0.05, OWN, thin_file="smaller_amount", thin_file_amount=0.3
    )
    assert smaller.approved[3] and list(smaller.amount_factor) == [1, 1, 1, 0.3]
    own = decide("own_judgment", np.empty((4, 0)), [], 0.05, OWN)
    assert list(own.approved) == list(OWN) and set(own.decided_by) == {OWN_JUDGMENT}
    with pytest.raises(PolicyError, match="thin-file"):
        decide("single", PDS[:, :1], ["a"], 0.05, OWN, thin_file="approve")
    frame = made.frame(np.array([10, 11, 12, 13]))
    assert list(frame.columns) == [
        "application_id",
        "approved",
        "decided_by",
        "pd",
        "amount_factor",
    ]


def test_the_appetite_sets_the_cut_off() -> None:
    pds = np.linspace(0.01, 0.2, 20)
    assert cutoff_for(max_pd=0.07, pds=pds) == 0.07
    cut = cutoff_for(target_approval=0.25, pds=pds)
    assert (pds <= cut).mean() == 0.25
    assert cutoff_for(target_approval=0.5, pds=np.array([NAN])) == 1.0
    with pytest.raises(PolicyError):
        cutoff_for(max_pd=0.1, target_approval=0.5, pds=pds)


def test_options_follow_the_policy_and_the_regime() -> None:
    assert options_for("single", ["b", "a"], 1, aggregator=False) == [("a",), ("b",)]
    assert ("b", "a") in options_for("waterfall", ["a", "b", "c"], 2, aggregator=False)
    assert ("b", "a") not in options_for("worst_of", ["a", "b", "c"], 2, aggregator=False)
    assert options_for("single", ["a"], 1, aggregator=True)[-1] == (AGGREGATOR,)


def test_the_retro_test_values_ranking_less_price_and_inertia_holds_a_lender() -> None:
    rng = np.random.default_rng(0)
    bad = rng.random(2000) < 0.1
    good_score = np.where(bad, 0.2, 0.05) + rng.normal(0, 0.05, bad.size)
    noise = rng.random(bad.size)
    thin = np.where(rng.random(bad.size) < 0.5, good_score, NAN)
    scores = {"sharp": good_score, "blind": noise, "thin": thin}
    options = options_for("single", list(scores), 1, aggregator=False)
    prices = {"sharp": 5.0, "blind": 1.0, "thin": 2.0}
    values = retro_values(bad, scores, options, "single", prices, ranking_value=40.0)
    by = values.set_index("option")
    assert by.loc["sharp", "gini"] > by.loc["thin", "gini"] > by.loc["blind", "gini"] - 0.05
    assert by.loc["thin", "coverage"] == pytest.approx(0.5, abs=0.03)
    assert by.loc["sharp", "value"] == pytest.approx(40 * by.loc["sharp", "gini"] - 5)
    assert choose(values, ("blind",), inertia=1.0) == ("sharp",)
    # A gain smaller than the inertia keeps the lender where it is.
    gain = by.loc["sharp", "value"] - by.loc["thin", "value"]
    assert choose(values, ("thin",), inertia=gain + 0.01) == ("thin",)
    assert choose(values, ("gone",), inertia=1e9) == ("sharp",)
    assert choose(pd.DataFrame(columns=values.columns), ("thin",), 0.0) == ("thin",)
