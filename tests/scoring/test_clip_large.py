"""CLIP ViT-L/14 (CLIP-T2I / CLIP-I2I) through its real code path with random weights.

ViT-L/14 is ~0.4 billion parameters: the network is built once and fed 3 small images."""

from __future__ import annotations

import numpy as np
import pytest

from svgarena.scoring import _clip

from ._random_weights import write_clip
from .test_neural import images

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clip_l(tmp_path_factory):
    wdir = tmp_path_factory.mktemp("weights")
    return _clip.build_clip("ViT-L-14", write_clip(wdir, "ViT-L-14"))


def test_vit_l14_image_and_text_features(clip_l):
    x = images(3, 32, seed=11)
    full = _clip.encode_images(clip_l, x)
    assert full.shape == (3, 768)
    single = _clip.encode_images(clip_l, x[:1])
    assert np.allclose(full[:1], single, atol=1e-4, rtol=1e-4)
    assert np.array_equal(_clip.encode_images(clip_l, x[:1]), single)
    text = _clip.encode_texts(clip_l, ["a red circle", "a very long caption " * 40])  # truncated to 77 tokens
    assert text.shape == (2, 768) and np.isfinite(text).all()
    scores = _clip.clip_score(full, np.repeat(text[:1], 3, axis=0))
    assert scores.shape == (3,) and np.all(np.abs(scores) <= 100)
