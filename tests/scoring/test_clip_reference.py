"""CLIP-T2I / CLIP-I2I as SArena's CLIP_Score.py gets them from torchmetrics' _clip_score_update:
per-sample 100 * cos with no clamp, and long captions cut at 77 token ids (end-of-text dropped),
pooled at the highest token id. Random-weight OpenAI ViT-B/32 (the same text tower code as ViT-L/14)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from svgarena.scoring import _clip

from ._random_weights import write_clip
from .test_neural import images

pytestmark = pytest.mark.slow

LONG = "a red circle next to a blue square on a white background with a thin black outline " * 6


@pytest.fixture(scope="module")
def clip_b32(tmp_path_factory):
    return _clip.build_clip("ViT-B-32", write_clip(tmp_path_factory.mktemp("weights"), "ViT-B-32"))


def _reference_ids(text: str) -> torch.Tensor:
    """torchmetrics _get_features restated: [SOT] + BPE + [EOT] (padding, no truncation), then
    input_ids[..., :77]; BPE from the CLIP vocabulary (open_clip ships OpenAI's file)."""
    from open_clip.tokenizer import _tokenizer as tok

    ids = [tok.sot_token_id] + tok.encode(text) + [tok.eot_token_id]
    ids = ids[:77]
    return torch.tensor([ids + [0] * (77 - len(ids))])


def _reference_text_features(model, ids: torch.Tensor) -> np.ndarray:
    """The CLIP text tower with Hugging Face's legacy pooling (eos_token_id == 2): the hidden state at
    input_ids.argmax(-1), then the projection."""
    with torch.inference_mode():
        x = model.token_embedding(ids) + model.positional_embedding
        x = model.ln_final(model.transformer(x, attn_mask=model.attn_mask))
        pooled = x[torch.arange(x.shape[0]), ids.argmax(dim=-1)]
        return (pooled @ model.text_projection).numpy()


def test_long_caption_is_cut_like_torchmetrics(clip_b32) -> None:
    import open_clip

    ids = _reference_ids(LONG)
    assert ids.shape == (1, 77) and ids[0, -1].item() != 49407  # the end-of-text token is gone
    assert torch.equal(_clip.tokenize_like_reference([LONG]), ids)
    ours = _clip.encode_texts(clip_b32, [LONG])
    assert np.allclose(ours, _reference_text_features(clip_b32, ids), atol=1e-5)
    # open_clip's own truncation puts the end-of-text token back at 76: a different feature
    kept_eot = _reference_text_features(clip_b32, open_clip.tokenize([LONG]))
    assert not np.allclose(ours, kept_eot, atol=1e-3)


def test_short_caption_unchanged(clip_b32) -> None:
    import open_clip

    short = "a red circle"
    assert torch.equal(_clip.tokenize_like_reference([short]), open_clip.tokenize([short]))
    ids = _reference_ids(short)
    assert np.allclose(_clip.encode_texts(clip_b32, [short]), _reference_text_features(clip_b32, ids), atol=1e-5)


def test_per_sample_scores_are_unclamped(clip_b32) -> None:
    x = images(4, 64, seed=3)
    feats = _clip.encode_images(clip_b32, x)
    text = _clip.encode_texts(clip_b32, ["a red circle", LONG, "a blue square", "black"])
    ours = _clip.clip_score(feats, text)
    # _clip_score_update restated: normalise both, 100 * (s * t).sum(-1); CLIP_Score.py keeps [0] as is
    s = torch.from_numpy(feats).double()
    t = torch.from_numpy(text).double()
    s, t = s / s.norm(p=2, dim=-1, keepdim=True), t / t.norm(p=2, dim=-1, keepdim=True)
    ref = (100 * (s * t).sum(axis=-1)).numpy()
    assert np.allclose(ours, ref)
    # and a negative cosine stays negative (anti-parallel features)
    assert _clip.clip_score(feats[:1], -feats[:1])[0] == pytest.approx(-100.0)
