"""ViCLIP: the checkpoint layout, the tokenizer, SArena's preprocessing, and T2V/V2V scoring.

No ViCLIP weights exist offline. The full ViT-L/14 network is built once per module with random
weights to prove the checkpoint layout (names, shapes, strict loading) and that it runs; the
scoring behaviour (shapes, determinism, batch invariance, truncation) is checked on a narrow,
shallow ViCLIP of the same code and geometry (224 px, 14 px patches, 8 frames, CLIP's
vocabulary, 32-token context), which runs in milliseconds.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from svgarena.scoring import _weights
from svgarena.scoring._viclip import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    VICLIP_FILE,
    ViCLIPCheckpointError,
    ViCLIPScorer,
    _load_strict,
    build_viclip,
    load_viclip,
    load_viclip_state_dict,
    prepare_video,
    resize_bilinear_cv2,
    viclip_checkpoint_path,
)
from svgarena.scoring._viclip_model import ViCLIP, ViCLIPConfig, _DropPath
from svgarena.scoring._viclip_tokenizer import ClipBPETokenizer, clip_vocab_path
from svgarena.scoring._weights import CheckpointMissing

MANIFEST = Path(__file__).parent / "data" / "viclip_state_dict.json"  # copy of shared/reference/
TINY = ViCLIPConfig(vision_width=64, vision_layers=2, vision_heads=4, embed_dim=32,
                    text_width=64, text_layers=2, text_heads=4)


def manifest() -> dict[str, list[int]]:
    data = json.loads(MANIFEST.read_text())
    assert data["checkpoint"] == VICLIP_FILE and data["container_key"] == "model"
    return data["tensors"]


def video(seed: int, n: int = 8, size: int = 448) -> np.ndarray:
    """Smooth random RGB frames (a moving gradient plus noise), uint8 (n, size, size, 3)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    frames = []
    for t in range(n):
        base = np.stack([np.sin(6 * xx + t / 3 + seed), np.cos(5 * yy - t / 4), np.sin(4 * (xx + yy) + seed)], -1)
        frames.append(np.clip(127 + 100 * base + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8))
    return np.stack(frames)


@pytest.fixture(scope="module")
def full() -> ViCLIP:
    torch.manual_seed(0)
    return build_viclip()


@pytest.fixture(scope="module")
def tiny() -> ViCLIPScorer:
    torch.manual_seed(0)
    return ViCLIPScorer(ViCLIP(TINY), "cpu", batch_size=4)


@pytest.fixture(scope="module")
def videos() -> list[np.ndarray]:
    return [video(s) for s in range(4)]


# -- the real architecture and the checkpoint layout --------------------------------------------


def test_manifest_copy_is_the_reference():
    shared = Path("/work/shared/reference/viclip_state_dict.json")
    if shared.is_file():
        assert hashlib.sha256(shared.read_bytes()).digest() == hashlib.sha256(MANIFEST.read_bytes()).digest()
    assert len(manifest()) == 447


def test_state_dict_has_exactly_the_checkpoint_names_and_shapes(full):
    ours = {k: list(v.shape) for k, v in full.state_dict().items()}
    assert ours == manifest()
    assert not full.training and all(not m.training for m in full.modules())


@pytest.mark.slow
def test_manifest_shaped_random_state_dict_loads_strict_and_runs(full, videos):
    gen = torch.Generator().manual_seed(1)
    state = {k: torch.randn(shape, generator=gen) * 0.02 for k, shape in manifest().items()}
    state["temp"] = torch.tensor(0.01)
    result = full.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    key = "vision_encoder.temporal_positional_embedding"
    assert torch.equal(full.state_dict()[key], state[key])
    del state

    scorer = ViCLIPScorer(full, "cpu", batch_size=2)
    both = scorer.video_features(videos[:2])  # one forward pass over a batch of 2
    alone = scorer.video_features(videos[:1])
    assert both.shape == (2, 768) and both.dtype == torch.float32
    assert torch.allclose(both.norm(dim=-1), torch.ones(2), atol=1e-5)
    assert torch.allclose(both[:1], alone, atol=1e-5)  # batch of 2 == batch of 1
    text = scorer.text_features(["a blue square spins once", "a red ball bounces"])
    assert text.shape == (2, 768)
    t2v = scorer.similarity(both, text)
    assert len(t2v) == 2 and all(-100.0 <= s <= 100.0 for s in t2v)


def test_strict_loading_names_what_is_wrong(full):
    state = {k: v for k, v in full.state_dict().items() if k != "vision_encoder.proj"}
    with pytest.raises(ViCLIPCheckpointError, match=r"missing 1 \(vision_encoder\.proj\)"):
        _load_strict(full, state)
    state = dict(full.state_dict())
    state["text_encoder.positional_embedding"] = torch.zeros(77, 768)  # CLIP's 77-token context
    state["extra.weight"] = torch.zeros(1)
    with pytest.raises(ViCLIPCheckpointError, match=r"unexpected 1 \(extra\.weight\); wrong shape 1"):
        _load_strict(full, state)


# -- checkpoint files ---------------------------------------------------------------------------


def test_state_dict_is_read_from_the_model_key(tmp_path):
    inner = {"a": torch.ones(2), "b": torch.zeros(3, 1)}
    torch.save({"model": inner, "epoch": 7}, tmp_path / "wrapped.pth")
    torch.save(inner, tmp_path / "bare.pth")
    for name in ("wrapped.pth", "bare.pth"):
        got = load_viclip_state_dict(tmp_path / name)
        assert set(got) == {"a", "b"} and torch.equal(got["a"], inner["a"])


def test_unreadable_file_is_one_clear_error(tmp_path):
    bad = tmp_path / VICLIP_FILE
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ViCLIPCheckpointError, match="cannot be read as a torch checkpoint"):
        load_viclip(checkpoint=bad)


@pytest.fixture
def no_checkpoints(tmp_path, monkeypatch) -> Path:
    monkeypatch.delenv("SVGARENA_VICLIP", raising=False)
    monkeypatch.setenv("SVGARENA_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.setattr(_weights, "_hf_cached", lambda ck: None)
    return tmp_path


def test_missing_checkpoint_says_what_and_how(no_checkpoints, monkeypatch):
    monkeypatch.setenv("SVGARENA_VICLIP", str(no_checkpoints / "elsewhere"))
    with pytest.raises(CheckpointMissing) as info:
        viclip_checkpoint_path()
    line = str(info.value)
    assert "\n" not in line
    for part in (VICLIP_FILE, "viclip_t2v", "viclip_v2v", "gated on Hugging Face", "svgarena weights fetch viclip",
                 str(no_checkpoints / "elsewhere"), str(no_checkpoints / "weights" / VICLIP_FILE)):
        assert part in line
    assert info.value.checkpoint.hf_repo == "OpenGVLab/ViCLIP"


def test_checkpoint_found_by_env_file_env_folder_and_weights_dir(no_checkpoints, monkeypatch):
    wdir = no_checkpoints / "weights"
    wdir.mkdir()
    (wdir / VICLIP_FILE).write_bytes(b"x")
    assert viclip_checkpoint_path() == wdir / VICLIP_FILE  # $SVGARENA_WEIGHTS
    assert viclip_checkpoint_path(weights=wdir) == wdir / VICLIP_FILE  # --weights-dir
    other = no_checkpoints / "other.pth"
    other.write_bytes(b"y")
    monkeypatch.setenv("SVGARENA_VICLIP", str(other))
    assert viclip_checkpoint_path() == other
    monkeypatch.setenv("SVGARENA_VICLIP", str(wdir))
    assert viclip_checkpoint_path() == wdir / VICLIP_FILE


# -- tokenizer ----------------------------------------------------------------------------------

# Ids from SArena's own metrics/video/viclip/simple_tokenizer.py (OpenAI CLIP's tokenizer).
GOLDEN = {
    "A red circle slides from left to right, then fades out.":
        [320, 736, 7117, 15939, 633, 1823, 531, 1155, 267, 1594, 40441, 620, 269],
    "Café &amp; ünïcödé 🙂": [15304, 261, 6522, 77, 35689, 66, 7255, 67, 4166, 14860],
}
LONG = ("The heart icon pulses: it scales up to 1.2x and back every 0.8 s, forever, while its colour "
        "cycles red -> orange -> yellow -> green -> blue -> purple.")
LONG_IDS = [518, 1936, 5646, 42177, 281, 585, 22891, 705, 531, 272, 269, 273, 343, 537, 893, 1505, 271, 269,
            279, 338, 267, 3225, 267, 1519, 902, 4769, 14605, 736, 5081, 4287, 5081, 4481, 5081, 1901, 5081,
            1746, 5081, 5496, 269]


@pytest.fixture(scope="module")
def tokenizer() -> ClipBPETokenizer:
    return ClipBPETokenizer()


def test_tokenizer_matches_clip_ids(tokenizer):
    for text, ids in GOLDEN.items():
        assert tokenizer.encode(text) == ids
    assert tokenizer.encode(LONG) == LONG_IDS
    assert tokenizer.encode("") == []


def test_long_text_is_truncated_to_32_tokens_ending_in_eot(tokenizer):
    rows = tokenizer([LONG, "a red ball"])
    assert rows.shape == (2, 32) and rows.dtype == torch.long
    assert rows[0].tolist() == [49406, *LONG_IDS[:30], 49407]
    assert rows[1, :5].tolist() == [49406, 320, 736, 1069, 49407] and not rows[1, 5:].any()


def test_tokenizer_equals_open_clips(tokenizer):
    """open_clip's tokenizer.py (loaded as a file: importing open_clip would pull in torchvision)."""
    path = clip_vocab_path().parent / "tokenizer.py"
    spec = importlib.util.spec_from_file_location("_open_clip_tokenizer", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    theirs = module.SimpleTokenizer()
    texts = [LONG, *GOLDEN, "  Tabs\tand\nnew lines  ", "don't it's we're I'll", "x" * 200, "12345 67.8%"]
    assert torch.equal(theirs(texts, context_length=32), tokenizer(texts))


# -- preprocessing ------------------------------------------------------------------------------


def _pattern(h: int, w: int) -> np.ndarray:
    i = np.arange(h * w * 3, dtype=np.int64)
    return ((i * 7919 + (i // 3) ** 2) % 256).astype(np.uint8).reshape(h, w, 3)


# sha256 of cv2.resize(_pattern(H, W), (w, h)) with OpenCV 5.0.0 (INTER_LINEAR, the default).
CV2_RESIZE = {
    ((7, 9), (12, 5)): "33bd1ad96b761192dc189ace37b3f38b49f32e82d55fc93d23ea6f0515d594e0",
    ((30, 50), (224, 224)): "a831aa8f2651a7aef6492e5dff5cbb3f17943a62024a295dc7bd8596b0bf513a",
    ((128, 128), (224, 224)): "48876ab5e1552e999d526ee6a8edb4d11d058747bd3d957323660b5c5c520409",
    ((448, 448), (224, 224)): "b247892188d64e7db75a8b5f6e4792b36803fafa60be7e7474f21f1beadb3ed7",
    ((333, 260), (224, 224)): "fcba06f54f8db09978fbc340eb583c9655867a7de80f81b3077d44f8d8dac36d",
}


@pytest.mark.parametrize(("src", "dst"), list(CV2_RESIZE))
def test_resize_is_opencvs_bit_for_bit(src, dst):
    out = resize_bilinear_cv2(_pattern(*src), (dst[1], dst[0]))
    assert out.shape == (*dst, 3)
    assert hashlib.sha256(out.tobytes()).hexdigest() == CV2_RESIZE[(src, dst)]


def test_halving_is_a_rounded_2x2_mean():
    img = _pattern(448, 448)
    blocks = img.reshape(224, 2, 224, 2, 3).astype(int).sum(axis=(1, 3))
    assert np.array_equal(resize_bilinear_cv2(img, 224), ((blocks + 2) // 4).astype(np.uint8))


def test_prepare_video_is_sarenas_frames2tensor():
    frames = np.zeros((17, 448, 448, 3), dtype=np.uint8)
    for i in range(17):
        frames[i, :, :, 0] = 10 * i  # red channel carries the frame index
    x = prepare_video(frames)
    assert x.shape == (8, 3, 224, 224) and x.dtype == torch.float32
    red = x[:, 0, 0, 0].double() * IMAGENET_STD[0] + IMAGENET_MEAN[0]
    assert np.allclose(red.numpy() * 255, [0, 20, 40, 60, 80, 100, 120, 140], atol=1e-3)  # frames[::2][:8]
    expected_black = torch.tensor((0 - IMAGENET_MEAN) / IMAGENET_STD, dtype=torch.float32)
    assert torch.equal(x[0, 1:, 5, 7], expected_black[1:])  # RGB in, no channel flip


def test_prepare_video_rejects_what_sarena_cannot_score():
    with pytest.raises(ValueError, match="needs 8 frames, the video gave 5"):
        prepare_video(np.zeros((5, 448, 448, 3), np.uint8))
    with pytest.raises(ValueError, match="RGB uint8"):
        prepare_video(np.zeros((8, 448, 448, 3), np.float32))


# -- scoring (narrow network, same code) --------------------------------------------------------


def test_scores_have_the_right_shapes(tiny, videos):
    feats = tiny.video_features(videos)
    assert feats.shape == (4, 32) and torch.allclose(feats.norm(dim=-1), torch.ones(4), atol=1e-5)
    t2v = tiny.t2v(videos, ["a", "b", "c", "d"])
    v2v = tiny.v2v(videos, videos[::-1])
    assert len(t2v) == len(v2v) == 4 and all(isinstance(s, float) and -100 <= s <= 100 for s in t2v + v2v)
    assert tiny.v2v(videos[:2], videos[:2]) == pytest.approx([100.0, 100.0], abs=1e-4)
    assert tiny.video_features([]).shape == (0, 32)
    with pytest.raises(ValueError, match="2 videos but 1 texts"):
        tiny.t2v(videos[:2], ["a"])


def test_batch_of_one_equals_a_batch_of_several(tiny, videos):
    together = tiny.video_features(videos)
    tiny.batch_size = 1
    try:
        one_by_one = tiny.video_features(videos)
    finally:
        tiny.batch_size = 4
    assert torch.allclose(together, one_by_one, atol=1e-5)
    texts = ["a spinning star", LONG, "x"]
    assert torch.allclose(tiny.text_features(texts), torch.cat([tiny.text_features([t]) for t in texts]), atol=1e-5)


def test_eval_mode_is_deterministic_and_drop_path_only_acts_in_training(tiny, videos):
    assert torch.equal(tiny.video_features(videos[:2]), tiny.video_features(videos[:2]))
    assert all(not m.training for m in tiny.model.modules())
    torch.manual_seed(3)
    x = torch.ones(256, 4)
    dp = _DropPath(0.5)
    assert torch.equal(dp.eval()(x), x)
    trained = dp.train()(x)
    assert set(trained[:, 0].tolist()) == {0.0, 2.0}  # rows dropped or rescaled by 1 / keep


def test_text_beyond_32_tokens_does_not_change_t2v(tiny, videos):
    a = tiny.t2v(videos[:1], [LONG])
    b = tiny.t2v(videos[:1], [LONG + " And then it rests for a second before starting again."])
    c = tiny.t2v(videos[:1], ["a red ball"])
    assert a == b and a != c


def test_black_substitute_frames_score(tiny):
    black = np.zeros((8, 448, 448, 3), np.uint8)
    (score,) = tiny.t2v([black], ["a red ball"])
    assert np.isfinite(score)


# -- the scoring-pass metrics (viclip_t2v, viclip_v2v) ------------------------------------------


def test_pass_metrics_score_text2sani_items(tiny, tmp_path):
    from svgarena.sandboxes import encode_mp4
    from svgarena.scoring._batch import Batch, ScoringItem
    from svgarena.scoring._metrics import METRICS, ScoringContext
    from svgarena.tasks._registry import get_task
    from svgarena.tasks._types import Sample

    task = get_task("animation/text2sani")
    ref = encode_mp4(video(0, n=12), tmp_path / "ref.mp4")
    other = encode_mp4(video(1, n=12), tmp_path / "other.mp4")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")

    def item(tid: int, ok: bool, pred: Path | None, caption: str | None = "a red ball") -> ScoringItem:
        sample = Sample(id=str(tid), task=task.id, prompt="p", target="<svg/>", reference_video=ref, caption=caption)
        return ScoringItem(tid, sample, ok, video=pred)

    items = [item(1, True, ref), item(2, True, other), item(3, False, None), item(4, True, broken),
             item(5, True, other, None)]
    ctx = ScoringContext(device="cpu", batch_size=2)
    ctx._nets["viclip"] = tiny  # the network a pass would load from the checkpoint
    batch = Batch(task, items)
    t2v, v2v = METRICS["viclip_t2v"](), METRICS["viclip_v2v"]()
    t2v.prepare(ctx)
    v2v.prepare(ctx)
    st, sv = t2v.score(batch, ctx), v2v.score(batch, ctx)

    assert [s.ok for s in st] == [True, True, False, True, True]
    assert sv[0].value == pytest.approx(100.0, abs=1e-3)  # the reference against itself
    frames = [batch.pred_frames(i) for i in range(3)]
    assert sv[1].value == pytest.approx(tiny.v2v([frames[1]], [frames[0]])[0], abs=1e-4)
    black = np.zeros((8, 448, 448, 3), np.uint8)
    assert sv[2].value == pytest.approx(tiny.v2v([black], [frames[0]])[0], abs=1e-4)  # failure scored as black
    assert st[2].value == pytest.approx(tiny.t2v([black], ["a red ball"])[0], abs=1e-4)
    assert st[1].value == pytest.approx(tiny.t2v([frames[1]], ["a red ball"])[0], abs=1e-4)
    assert st[3].value is None and st[3].error and sv[3].value is None and sv[3].ok  # unreadable: left out
    assert st[4].value is None and "no caption" in st[4].error and sv[4].value is not None
    assert ("viclip", "text", "a red ball") in ctx._cache and ("viclip", "ref", str(ref)) in ctx._cache


def test_pass_metric_without_checkpoint_raises_checkpoint_missing(no_checkpoints):
    from svgarena.scoring._metrics import METRICS, ScoringContext

    with pytest.raises(CheckpointMissing) as info:
        METRICS["viclip_v2v"]().prepare(ScoringContext(weights_dir=no_checkpoints / "weights"))
    assert info.value.line().startswith("skipped viclip_v2v: checkpoint viclip (ViClip-InternVid-10M-FLT.pth)")
