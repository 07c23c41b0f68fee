"""Bootstrap intervals, paired tests and Holm against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from svgarena.harness import bootstrap_mean, holm, mcnemar_exact, paired_bootstrap, wilcoxon_test


def test_bootstrap_interval_reproduces_with_seed_and_matches_hand_resampling() -> None:
    values = [0.1, 0.4, 0.35, 0.8, 0.9, 0.2, 0.55, 0.6]
    ci = bootstrap_mean(values, n_boot=500, seed=7)
    assert ci == bootstrap_mean(values, n_boot=500, seed=7)
    assert ci != bootstrap_mean(values, n_boot=500, seed=8)
    # by hand: the same generator, one index row per resample, percentile 2.5 / 97.5
    rng = np.random.default_rng(7)
    idx = rng.integers(0, len(values), size=(500, len(values)))
    means = np.asarray(values)[idx].mean(axis=1)
    assert ci.mean == pytest.approx(sum(values) / len(values))
    assert (ci.lo, ci.hi) == pytest.approx(tuple(np.quantile(means, [0.025, 0.975])))
    assert ci.lo < ci.mean < ci.hi and ci.n == 8


def test_cluster_bootstrap_moves_epochs_of_a_sample_together() -> None:
    # two samples (a: 0 and 1, b: 10 and 11 over two epochs); resampling whole samples gives
    # means 0.5, 5.5 or 10.5 only; by hand with the same generator and one cluster index per draw
    values, clusters = [0.0, 1.0, 10.0, 11.0], ["a", "a", "b", "b"]
    ci = bootstrap_mean(values, n_boot=2000, seed=1, clusters=clusters)
    draws = np.random.default_rng(1).integers(0, 2, size=(2000, 2))
    means = np.array([0.5, 10.5])[draws].mean(axis=1)
    assert set(np.unique(means)) == {0.5, 5.5, 10.5}
    assert (ci.lo, ci.hi) == pytest.approx(tuple(np.quantile(means, [0.025, 0.975])))
    assert (ci.lo, ci.hi) == (0.5, 10.5) and ci.n == 4


def test_small_or_empty_samples_give_no_interval() -> None:
    assert bootstrap_mean([]).mean is None
    one = bootstrap_mean([3.0])
    assert one.mean == 3.0 and one.lo is None and one.n == 1
    with pytest.raises(ValueError):
        bootstrap_mean([1.0, 2.0], clusters=["a"])


def test_paired_bootstrap_is_the_bootstrap_of_differences() -> None:
    a, b = [1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 2.5, 3.5, 6.0, 5.0]
    d = bootstrap_mean([y - x for x, y in zip(a, b)], n_boot=300, seed=3)
    assert paired_bootstrap(a, b, n_boot=300, seed=3) == d
    assert d.mean == pytest.approx(0.8)


def test_mcnemar_exact_on_constructed_table() -> None:
    # 2x2 table: both right 5, only a right 1, only b right 7, both wrong 2
    a = [True] * 5 + [True] * 1 + [False] * 7 + [False] * 2
    b = [True] * 5 + [False] * 1 + [True] * 7 + [False] * 2
    a_only, b_only, p = mcnemar_exact(a, b)
    assert (a_only, b_only) == (1, 7)
    n = 8  # discordant pairs; two-sided: 2 * P(X <= 1), X ~ Bin(8, 1/2)
    by_hand = 2 * (math.comb(n, 0) + math.comb(n, 1)) / 2 ** n
    assert p == pytest.approx(by_hand) and p == pytest.approx(0.0703125)
    assert mcnemar_exact([True, False], [True, False])[2] == 1.0


def test_wilcoxon_known_statistic() -> None:
    # differences 1, 2, -3, 4, 5 (no ties): ranks 1..5, W- = 3, W+ = 12; statistic = min = 3
    a = [0.0] * 5
    b = [1.0, 2.0, -3.0, 4.0, 5.0]
    stat, p = wilcoxon_test(a, b)
    assert stat == 3.0
    # exact two-sided p: P(W <= 3) * 2 over the 32 equally likely sign patterns
    subsets = [s for s in range(32) if sum(r for i, r in enumerate(range(1, 6)) if s >> i & 1) <= 3]
    assert p == pytest.approx(2 * len(subsets) / 32)
    assert wilcoxon_test([1.0, 2.0], [1.0, 2.0]) == (None, 1.0)


def test_holm_on_known_pvalues() -> None:
    # sorted 0.01, 0.02, 0.03, 0.04 -> x4, x3, x2, x1 -> 0.04, 0.06, 0.06 (monotone), 0.06
    assert holm([0.03, 0.01, 0.04, 0.02]) == pytest.approx([0.06, 0.04, 0.06, 0.06])
    assert holm([0.5, None, 0.9]) == [pytest.approx(1.0), None, pytest.approx(1.0)]
    assert holm([]) == []
