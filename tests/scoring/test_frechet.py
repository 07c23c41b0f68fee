"""The Frechet distance equals the published sqrtm computation on the same features."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.linalg

from svgarena.scoring import FeatureStats, frechet_distance, frechet_from_features


def published(x: np.ndarray, y: np.ndarray) -> float:
    """SArena metrics/FID.py calculate_frechet_distance on np.mean / np.cov of the features."""
    mu1, mu2 = x.mean(axis=0), y.mean(axis=0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        covmean, _ = scipy.linalg.sqrtm(s1.dot(s2), disp=False)
    covmean = covmean.real
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


@pytest.mark.parametrize("n1,n2,d", [(300, 250, 32), (40, 30, 64), (12, 400, 48), (5, 5, 64)])
def test_matches_scipy_sqrtm(n1, n2, d):
    rng = np.random.default_rng(n1 + n2 + d)
    x = rng.standard_normal((n1, d)) * 2 + 0.5
    y = rng.standard_normal((n2, d)) @ rng.standard_normal((d, d)) * 0.3
    assert frechet_from_features(x, y) == pytest.approx(published(x, y), rel=1e-6)


def test_streaming_equals_one_shot_and_black_rows():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((90, 16))
    black = rng.standard_normal(16)
    y = np.concatenate([rng.standard_normal((30, 16)), np.repeat(black[None], 25, axis=0)])
    a, b = FeatureStats(16), FeatureStats(16)
    for i in range(0, len(x), 7):
        a.add(x[i:i + 7])
    b.add(y[:30])
    b.add_repeated(black, 25)  # the black substitute, added without materialising 25 copies
    assert np.allclose(a.mean, x.mean(axis=0)) and np.allclose(a.cov(), np.cov(x, rowvar=False))
    assert np.allclose(b.cov(), np.cov(y, rowvar=False))
    assert frechet_distance(a, b) == pytest.approx(published(x, y), rel=1e-6)


def test_identical_sets_are_zero_and_errors_are_clear():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((50, 8))
    assert abs(frechet_from_features(x, x)) < 1e-8
    one = FeatureStats(8)
    one.add(x[:1])
    with pytest.raises(ValueError, match="at least 2"):
        frechet_distance(one, one)
    with pytest.raises(ValueError, match="NaN"):
        FeatureStats(8).add(np.full((2, 8), np.nan))
