"""Keyed draws: a row's numbers depend on its keys alone, and look uniform."""

from __future__ import annotations

import numpy as np
from scipy import stats

from bureau.rng import KeyedDraws


def test_a_rows_draw_does_not_depend_on_the_other_rows() -> None:
    keyed = KeyedDraws(7, "world.repayment")
    keys = np.arange(1_000, dtype=np.int64)
    months = np.arange(-12, 36)
    grid = keyed.uniform("miss", keys[:, None], months[None, :])
    # The same rows asked for alone, in another order, or as scalars give the same numbers.
    picked = np.array([903, 4, 250])
    assert np.array_equal(keyed.uniform("miss", picked[:, None], months[None, :]), grid[picked])
    assert keyed.uniform("miss", 4, 0) == grid[4, 12]
    assert keyed.uniform("miss", np.array([4]), 0).shape == (1,)


def test_streams_purposes_seeds_and_key_order_give_independent_numbers() -> None:
    keys = np.arange(20_000, dtype=np.int64)
    base = KeyedDraws(7, "a").uniform("x", keys)
    others = [
        KeyedDraws(7, "b").uniform("x", keys),
        KeyedDraws(7, "a").uniform("y", keys),
        KeyedDraws(8, "a").uniform("x", keys),
        KeyedDraws(7, "a").uniform("x", keys, 0),
    ]
    for other in others:
        assert abs(np.corrcoef(base, other)[0, 1]) < 0.03
    # Keys are not interchangeable: (3, 5) and (5, 3) are different rows.
    a = KeyedDraws(7, "a").uniform("x", keys[:50, None], keys[None, :50])
    off_diagonal = ~np.eye(50, dtype=bool)
    assert not np.isclose(a, a.T)[off_diagonal].any()


def test_the_distributions_are_the_ones_named() -> None:
    keyed = KeyedDraws(11, "test")
    keys = np.arange(200_000, dtype=np.int64)
    u = keyed.uniform("u", keys)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert stats.kstest(u, "uniform").pvalue > 0.001
    assert stats.kstest(keyed.normal("n", keys), "norm").pvalue > 0.001
    ints = keyed.integers("i", 2, 5, keys)
    assert set(np.unique(ints)) == {2, 3, 4}
    assert np.allclose(np.bincount(ints)[2:] / keys.size, 1 / 3, atol=0.01)
    geo = keyed.geometric("g", 0.25, keys)
    assert geo.min() == 1 and abs(geo.mean() - 4.0) < 0.05
    assert np.all(keyed.geometric("g", 1.0, keys[:10]) == 1)
    # Per-row bounds broadcast with the keys.
    spans = keyed.integers("i", 0, np.array([1, 2, 3]), np.arange(3))
    assert np.all(spans < np.array([1, 2, 3]))
