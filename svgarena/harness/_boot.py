"""One bootstrap for many columns: resample the rows once, read every column's interval from it.

``column_intervals(V)`` takes an ``n x K`` matrix (rows: trajectories; columns: e.g. each
metric at each round; NaN where a row has no value) and draws the resample index matrix
once, as ``bootstrap_mean`` does (same generator, same draws for the same seed). The
resamples become a weight matrix ``W`` (``n_boot x n``: how often each row was drawn), so every
column's resampled means are one matrix product, ``W @ V / W @ present``. With no NaN in a
column its interval equals ``bootstrap_mean``'s over that column; a NaN row simply carries no
weight in the resamples that drew it. Clustered resampling (epochs > 1) draws sample ids and
gives each row its cluster's weight, as ``bootstrap_mean(clusters=...)`` does.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from svgarena.harness._stats import Interval


def resample_weights(n: int, *, n_boot: int, seed: int, clusters: Sequence[Hashable] | None = None) -> Any:
    """``n_boot x n`` float weights: how many times each row is in each resample (None for n < 2 clusters)."""
    import numpy as np

    if clusters is None:
        codes, k = np.arange(n), n
    else:
        ids: dict[Hashable, int] = {}
        codes = np.fromiter((ids.setdefault(c, len(ids)) for c in clusters), dtype=np.int64, count=n)
        k = len(ids)
    if k < 2 or n_boot < 1:
        return None
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, k, size=(n_boot, k))  # the same draws bootstrap_mean makes for this seed
    draws += (np.arange(n_boot) * k)[:, None]  # in place: resample b's draws index row b of the counts
    counts = np.bincount(draws.ravel(), minlength=n_boot * k).reshape(n_boot, k)
    del draws
    counts = counts.astype(np.float64)
    return counts if clusters is None else counts[:, codes]


def column_intervals(values: Any, *, weights: Any = None, level: float = 0.95) -> list[Interval]:
    """One ``Interval`` per column of ``values`` (NaN = no value), from precomputed resample ``weights``."""
    import numpy as np

    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 1:
        v = v[:, None]
    present = ~np.isnan(v)
    n = present.sum(axis=0)
    filled = np.where(present, v, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = filled.sum(axis=0) / n
    out: list[Interval] = []
    if weights is None or v.shape[0] == 0:
        return [Interval(float(m) if c else None, None, None, int(c)) for m, c in zip(means, n)]
    with np.errstate(invalid="ignore", divide="ignore"):
        boot = (weights @ filled) / (weights @ present.astype(np.float64))
    alpha = (1.0 - level) / 2
    for j in range(v.shape[1]):
        if n[j] == 0:
            out.append(Interval(None, None, None, 0))
            continue
        if n[j] < 2:
            out.append(Interval(float(means[j]), None, None, int(n[j])))
            continue
        col = boot[:, j]
        col = col[~np.isnan(col)]
        lo, hi = np.quantile(col, [alpha, 1.0 - alpha])
        out.append(Interval(float(means[j]), float(lo), float(hi), int(n[j])))
    return out
