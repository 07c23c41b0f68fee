"""Frechet distance between two feature sets, from streamed statistics.

Reference: SArena ``metrics/FID.py`` ``calculate_frechet_distance`` (pytorch-fid's): with
mu = mean and sigma = ``np.cov(act, rowvar=False)`` (ddof 1) of each set,
d^2 = |mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr(sqrtm(sigma1 sigma2)).

Deliberate differences, same quantity:
- the statistics are accumulated batch by batch (Chan's pairwise mean/covariance update in float64),
  so no set of features is ever held whole beyond the feature dimension;
- tr(sqrtm(sigma1 sigma2)) is computed from symmetric eigenvalues instead of ``scipy.linalg.sqrtm``
  of the non-symmetric product: the eigenvalues of sigma1 sigma2 are those of the symmetric
  A sigma2 A^T (A the centred features of the smaller set, while it has fewer rows than
  dimensions) or of R sigma2 R (R = sigma1^(1/2)), and the trace is the sum of their square
  roots. It agrees with the sqrtm computation to ~1e-7 relative (tested), needs no eps retry,
  and takes seconds, not minutes, at 2048 dimensions.
"""

from __future__ import annotations

import math

import numpy as np


class FeatureStats:
    """Running mean and scatter matrix of feature rows; keeps the rows themselves only while there are
    no more of them than dimensions (then they are the cheaper way to the trace term)."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.n = 0
        self.mean = np.zeros(dim, dtype=np.float64)
        self.scatter = np.zeros((dim, dim), dtype=np.float64)  # sum of (x - mean)(x - mean)^T
        self._rows: list[np.ndarray] | None = []

    def add(self, feats: np.ndarray) -> None:
        x = np.asarray(feats, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"expected (N, {self.dim}) features, got {x.shape}")
        m = len(x)
        if m == 0:
            return
        if not np.isfinite(x).all():
            raise ValueError("features contain NaN or infinity")
        mean_b = x.mean(axis=0)
        xc = x - mean_b
        scatter_b = xc.T @ xc
        n = self.n
        delta = mean_b - self.mean
        total = n + m
        self.mean = self.mean + delta * (m / total)
        self.scatter += scatter_b + np.outer(delta, delta) * (n * m / total)
        self.n = total
        if self._rows is not None:
            self._rows.append(x)
            if self.n > self.dim:
                self._rows = None

    def add_repeated(self, row: np.ndarray, count: int) -> None:
        """``count`` copies of one feature row (the black substitute), without materialising them."""
        if count <= 0:
            return
        r = np.asarray(row, dtype=np.float64).reshape(1, self.dim)
        if self._rows is not None and self.n + count <= self.dim:
            self.add(np.repeat(r, count, axis=0))
            return
        n = self.n
        delta = r[0] - self.mean
        total = n + count
        self.mean = self.mean + delta * (count / total)
        self.scatter += np.outer(delta, delta) * (n * count / total)
        self.n = total
        self._rows = None

    def cov(self) -> np.ndarray:
        if self.n < 2:
            raise ValueError(f"a covariance needs at least 2 samples, got {self.n}")
        return self.scatter / (self.n - 1)

    def rows(self) -> np.ndarray | None:
        return np.concatenate(self._rows) if self._rows else None

    def copy(self) -> "FeatureStats":
        out = FeatureStats(self.dim)
        out.n, out.mean, out.scatter = self.n, self.mean.copy(), self.scatter.copy()
        out._rows = None if self._rows is None else list(self._rows)
        return out


def _trace_sqrt_product(a: FeatureStats, b: FeatureStats) -> float:
    """tr(sqrtm(cov_a cov_b)) from symmetric eigenvalues."""
    sa, sb = a.cov(), b.cov()
    small = min((s for s in (a, b) if s.rows() is not None and s.n < s.dim), key=lambda s: s.n, default=None)
    if small is not None:
        other = sb if small is a else sa
        rows = small.rows()
        factor = (rows - small.mean) / math.sqrt(small.n - 1)  # cov_small = factor^T factor
        m = factor @ other @ factor.T
    else:
        w, v = np.linalg.eigh(sa)
        root = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
        m = root @ sb @ root
    ev = np.linalg.eigvalsh((m + m.T) / 2)
    return float(np.sqrt(np.clip(ev, 0.0, None)).sum())


def frechet_distance(a: FeatureStats, b: FeatureStats) -> float:
    """Frechet distance between the Gaussians fitted to two feature sets."""
    if a.dim != b.dim:
        raise ValueError(f"feature dimensions differ: {a.dim} and {b.dim}")
    diff = a.mean - b.mean
    value = float(diff @ diff + np.trace(a.cov()) + np.trace(b.cov()) - 2.0 * _trace_sqrt_product(a, b))
    if not math.isfinite(value):
        raise ValueError("the Frechet distance is not finite")
    return value


def frechet_from_features(x: np.ndarray, y: np.ndarray) -> float:
    """Convenience: the distance between two full feature matrices."""
    a, b = FeatureStats(x.shape[1]), FeatureStats(y.shape[1])
    a.add(x)
    b.add(y)
    return frechet_distance(a, b)
