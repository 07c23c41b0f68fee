"""Uncertainty for reports and comparisons: seeded bootstrap intervals, paired tests, Holm.

Bootstraps draw all resamples at once as an index matrix (``n_boot x n``) so 1,000 resamples
of 10,000 samples is one numpy gather. When a sample was run for several epochs, resampling
is by sample (cluster bootstrap): the epochs of one sample move together.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Interval:
    """A point estimate with its percentile bootstrap interval and the n behind it."""

    mean: float | None
    lo: float | None
    hi: float | None
    n: int

    def as_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "lo": self.lo, "hi": self.hi, "n": self.n}


def _cluster_index(clusters: Sequence[Hashable] | None, n: int) -> tuple[Any, int]:
    """Cluster id (0..k-1) per value and k; every value its own cluster when none given."""
    import numpy as np

    if clusters is None:
        return np.arange(n), n
    ids: dict[Hashable, int] = {}
    codes = np.fromiter((ids.setdefault(c, len(ids)) for c in clusters), dtype=np.int64, count=n)
    return codes, len(ids)


def _resampled_means(values: Any, clusters: Sequence[Hashable] | None, n_boot: int, seed: int) -> Any:
    """Means of ``n_boot`` bootstrap resamples (by cluster when clusters are given)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    codes, k = _cluster_index(clusters, len(values))
    draws = rng.integers(0, k, size=(n_boot, k))
    if clusters is None:
        return values[draws].mean(axis=1)
    sums = np.bincount(codes, weights=values, minlength=k)
    counts = np.bincount(codes, minlength=k).astype(float)
    return sums[draws].sum(axis=1) / counts[draws].sum(axis=1)


def bootstrap_mean(values: Sequence[float], *, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                   clusters: Sequence[Hashable] | None = None) -> Interval:
    """Mean of ``values`` with a seeded percentile bootstrap interval.

    ``clusters`` (one key per value, e.g. the sample id) resamples whole clusters, for runs
    with several epochs per sample. Fewer than two values (or clusters) give no interval.
    """
    import numpy as np

    arr = np.asarray(values, dtype=float)
    if clusters is not None and len(clusters) != len(arr):
        raise ValueError("bootstrap_mean: one cluster key per value")
    n = len(arr)
    if n == 0:
        return Interval(None, None, None, 0)
    mean = float(arr.mean())
    k = len(set(clusters)) if clusters is not None else n
    if k < 2 or n_boot < 1:
        return Interval(mean, None, None, n)
    means = _resampled_means(arr, clusters, n_boot, seed)
    alpha = (1.0 - level) / 2
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return Interval(mean, float(lo), float(hi), n)


def paired_bootstrap(a: Sequence[float], b: Sequence[float], *, n_boot: int = 1000, seed: int = 0,
                     level: float = 0.95, clusters: Sequence[Hashable] | None = None) -> Interval:
    """Mean of ``b - a`` over paired values, with a bootstrap interval that resamples pairs."""
    import numpy as np

    a_arr, b_arr = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a_arr.shape != b_arr.shape:
        raise ValueError("paired_bootstrap: a and b must have the same length")
    return bootstrap_mean(b_arr - a_arr, n_boot=n_boot, seed=seed, level=level, clusters=clusters)


def wilcoxon_test(a: Sequence[float], b: Sequence[float]) -> tuple[float | None, float | None]:
    """Wilcoxon signed-rank test of paired values: ``(statistic, p)``; ``(None, 1.0)`` when every pair ties."""
    import numpy as np
    from scipy.stats import wilcoxon

    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    if len(d) == 0:
        return None, None
    if not np.any(d != 0):
        return None, 1.0
    res = wilcoxon(d)
    return float(res.statistic), float(res.pvalue)


def mcnemar_exact(a: Sequence[bool], b: Sequence[bool]) -> tuple[int, int, float]:
    """Exact McNemar test of paired binary outcomes: ``(a only, b only, two-sided p)``.

    Only discordant pairs count; under the null each is equally likely to favour a or b,
    so the p-value is a two-sided binomial test of ``b only`` out of the discordant pairs.
    """
    from scipy.stats import binomtest

    if len(a) != len(b):
        raise ValueError("mcnemar_exact: a and b must have the same length")
    a_only = sum(1 for x, y in zip(a, b) if x and not y)
    b_only = sum(1 for x, y in zip(a, b) if y and not x)
    n = a_only + b_only
    p = 1.0 if n == 0 else float(binomtest(b_only, n, 0.5).pvalue)
    return a_only, b_only, p


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm-Bonferroni adjusted p-values (same order as given; ``None`` stays ``None``)."""
    present = [(p, i) for i, p in enumerate(pvalues) if p is not None and not math.isnan(p)]
    m = len(present)
    out: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(present)):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out
