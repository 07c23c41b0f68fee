"""FVD: the I3D network and its checkpoint layout, cd-fvd's preprocessing, clips, and the distance.

No I3D weights exist offline: the real architecture runs with random (He-initialised) weights.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import scipy.linalg
import torch
import torch.nn.functional as F

from svgarena.sandboxes import encode_mp4
from svgarena.scoring import _weights
from svgarena.scoring._fvd import (
    FVD_FRAMES,
    I3D_FILE,
    FVDSet,
    GaussianStats,
    I3DFeatures,
    build_i3d,
    clip_start,
    fvd,
    fvd_clip,
    fvd_from_stats,
    frechet_distance,
    i3d_checkpoint_path,
    preprocess_i3d,
    read_fvd_clip,
)
from svgarena.scoring._weights import CheckpointMissing

# sha256 over the sorted "name:shape" lines of cd-fvd 0.1.1's pytorch_i3d.InceptionI3d(400)
# state dict without num_batches_tracked: the tensors that i3d_pretrained_400.pt holds.
CDFVD_LAYOUT = "d80f40d5305a1b431f0c9f151813ae5a031e45777ac7d22ba5241532f2f7abf2"


def clips(n: int, seed: int = 0, size: int = 128, frames: int = FVD_FRAMES) -> np.ndarray:
    """Moving coloured bars, uint8 (n, frames, size, size, 3)."""
    rng = np.random.default_rng(seed)
    xx = np.arange(size)[None, :, None]
    out = np.zeros((n, frames, size, size, 3), np.uint8)
    for i in range(n):
        speed, width, colour = rng.integers(1, 6), rng.integers(8, 40), rng.integers(0, 256, 3)
        for t in range(frames):
            bar = ((xx + speed * t) % 64) < width
            out[i, t] = np.where(bar, colour, 255 - colour).astype(np.uint8)
    return out


@pytest.fixture(scope="module")
def i3d() -> I3DFeatures:
    torch.manual_seed(0)
    return I3DFeatures(build_i3d(), "cpu", batch_size=4)


@pytest.fixture(scope="module")
def video_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    return [encode_mp4(c, folder / f"{i}.mp4") for i, c in enumerate(clips(3, seed=1, frames=20))]


# -- network ------------------------------------------------------------------------------------


def test_state_dict_layout_is_cd_fvds(i3d):
    sd = i3d.model.state_dict()
    weights = sorted(f"{k}:{tuple(v.shape)}" for k, v in sd.items() if not k.endswith("num_batches_tracked"))
    assert len(weights) == 287
    assert hashlib.sha256("\n".join(weights).encode()).hexdigest() == CDFVD_LAYOUT
    assert sd["Mixed_5b.b2a.conv3d.weight"].shape == (32, 832, 1, 1, 1)
    assert sd["logits.conv3d.bias"].shape == (400,)


def test_checkpoint_format_loads_strict(i3d):
    """i3d_pretrained_400.pt is a bare state dict without num_batches_tracked (TF-converted)."""
    state = {k: v.clone() for k, v in i3d.model.state_dict().items() if not k.endswith("num_batches_tracked")}
    state["Conv3d_1a_7x7.bn.running_var"] += 0.5
    model = build_i3d(state)
    assert torch.equal(model.Conv3d_1a_7x7.bn.running_var, state["Conv3d_1a_7x7.bn.running_var"])
    with pytest.raises(RuntimeError, match="Missing key"):
        build_i3d({k: v for k, v in state.items() if k != "logits.conv3d.bias"})


def test_forward_shapes(i3d):
    x = clips(2)
    assert x.shape == (2, 16, 128, 128, 3)
    pre = preprocess_i3d(x)
    assert pre.shape == (2, 3, 16, 224, 224) and pre.min() >= -1 and pre.max() <= 1
    with torch.inference_mode():
        logits = i3d.model(pre)
    assert logits.shape == (2, 400) and torch.isfinite(logits).all()
    assert i3d(np.zeros((0, 16, 128, 128, 3), np.uint8)).shape == (0, 400)
    with torch.inference_mode(), pytest.raises(RuntimeError):
        i3d.model(pre[:, :, :, :128, :128])  # 128 px straight into I3D is too small: cd-fvd resizes to 224


def test_batch_invariance_and_determinism(i3d):
    x = clips(2, seed=2)
    together = i3d(x)
    assert together.shape == (2, 400) and together.dtype == np.float32
    i3d.batch_size = 1
    try:
        alone = i3d(x)
    finally:
        i3d.batch_size = 4
    scale = np.abs(together).max()
    assert np.allclose(together, alone, atol=1e-5 * scale)
    assert np.array_equal(i3d(x[:1]), alone[:1])
    assert not np.allclose(together[0], together[1], atol=1e-3 * scale)  # different clips, different features


def test_preprocess_matches_cd_fvd_on_128_and_other_sizes():
    x = clips(1, seed=3)
    # at 128 the antialiased resize, crop and byte() are the identity: cd-fvd resizes uint8 -> 224
    direct = F.interpolate(torch.from_numpy(x[0]).permute(0, 3, 1, 2).float(), size=(224, 224),
                           mode="bilinear", align_corners=False)
    assert torch.equal(preprocess_i3d(x)[0], (2.0 * direct / 255.0 - 1.0).transpose(0, 1))
    wide = clips(1, seed=4, size=160)[:, :, :120]  # 120x160: shorter side -> 128, centre crop
    assert preprocess_i3d(wide).shape == (1, 3, 16, 224, 224)
    with pytest.raises(ValueError, match="uint8 clips"):
        preprocess_i3d(x.astype(np.float32))


# -- clips --------------------------------------------------------------------------------------


def test_clip_start_is_uniform_seeded_and_per_key():
    starts = [clip_start(150, f"{i}") for i in range(400)]
    assert min(starts) >= 0 and max(starts) <= 134 and len(set(starts)) > 80
    assert starts == [clip_start(150, f"{i}") for i in range(400)]  # reproducible
    assert starts != [clip_start(150, f"{i}", seed=7) for i in range(400)]
    assert clip_start(16, "x") == 0 and clip_start(150, "x", start="first") == 0
    with pytest.raises(ValueError, match="needs 16 frames, the video has 15"):
        clip_start(15, "x")


def test_fvd_clip_takes_16_consecutive_frames():
    frames = np.arange(40)[:, None, None, None] * np.ones((1, 4, 4, 3), np.uint8)
    window = fvd_clip(frames, "k")
    first = clip_start(40, "k")
    assert window.shape == (16, 4, 4, 3) and window[:, 0, 0, 0].tolist() == list(range(first, first + 16))


def test_read_fvd_clip_decodes_the_window(video_files):
    clip = read_fvd_clip(video_files[0])
    assert clip.shape == (16, 128, 128, 3) and clip.dtype == np.uint8
    assert np.array_equal(clip, read_fvd_clip(video_files[0], key="0"))


# -- distance -----------------------------------------------------------------------------------


def scipy_fd(a: np.ndarray, b: np.ndarray) -> float:
    """cd-fvd's formula on biased covariances, straight from the features."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    s1, s2 = np.cov(a, rowvar=False, bias=True), np.cov(b, rowvar=False, bias=True)
    root = scipy.linalg.sqrtm(s1 @ s2)
    return float(np.real(np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(s1 + s2 - 2 * root)))


@pytest.mark.parametrize(("n", "d"), [(500, 16), (40, 64)])  # full rank, and rank-deficient like 128 x 400
def test_frechet_distance_equals_scipys(n, d):
    rng = np.random.default_rng(n)
    a = rng.normal(size=(n, d)).astype(np.float32) * 3
    b = (rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) * 0.5 + 1).astype(np.float32)
    sa, sb = GaussianStats(), GaussianStats()
    for chunk in np.array_split(a, 3):  # streamed in uneven batches
        sa.add(chunk)
    sb.add(b)
    got = fvd_from_stats(sb, sa)
    assert got == pytest.approx(scipy_fd(a, b), rel=1e-6)
    mu1, s1 = sa.mean_cov()
    mu2, s2 = sb.mean_cov()
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(got, rel=1e-9)
    assert np.allclose(s1, np.cov(a.astype(np.float64), rowvar=False, bias=True), atol=1e-9)


def test_frechet_distance_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shape mismatch"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(ValueError, match="no features"):
        GaussianStats().mean_cov()


def test_stats_round_trip(tmp_path):
    s = GaussianStats()
    s.add(np.random.default_rng(0).normal(size=(10, 5)))
    s.save(tmp_path / "ref.npz")
    t = GaussianStats.load(tmp_path / "ref.npz")
    assert t.n == 10 and all(np.array_equal(x, y) for x, y in zip(s.mean_cov(), t.mean_cov()))


# -- the whole metric through I3D ---------------------------------------------------------------


def test_fvd_of_a_set_against_itself_is_zero(i3d, video_files):
    same = fvd(video_files, video_files, i3d)
    assert same.n_pred == same.n_ref == 3 and not same.errors
    other = fvd(video_files[:2], video_files[1:], i3d)
    assert other.n_pred == other.n_ref == 2
    # 3 videos in 400 dimensions: the square roots of round-off in the null space leave ~1e-6 of
    # the features' spread (scipy.linalg.sqrtm leaves the same), so "zero" is judged against a
    # distance between different sets.
    assert other.value > 0 and abs(same.value) <= 1e-4 * other.value


def test_fvd_set_streams_and_records_unusable_videos(i3d, video_files, tmp_path):
    short = encode_mp4(clips(1, frames=10)[0], tmp_path / "short.mp4")
    fs = FVDSet(i3d)
    assert fs.add(video_files[0]) and not fs.add(short) and not fs.add(tmp_path / "absent.mp4")
    assert fs.add(clips(1, frames=20)[0], key="sample-3")
    stats = fs.finish()
    assert stats.n == 2 and len(fs.errors) == 2
    assert fs.errors[0] == "short: FVD needs 16 frames, the video has 10"
    assert fs.errors[1].startswith("absent: ")
    with pytest.raises(ValueError, match="need a key"):
        fs.add(clips(1)[0])
    with pytest.raises(ValueError, match="at least 2 videos"):
        fvd(video_files[:1], video_files, i3d)


def test_missing_checkpoint_is_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv("SVGARENA_I3D", raising=False)
    monkeypatch.setenv("SVGARENA_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(CheckpointMissing) as info:
        i3d_checkpoint_path()
    line = str(info.value)
    assert "\n" not in line and I3D_FILE in line and "fvd" in line and "svgarena weights fetch i3d-kinetics-400" in line
    (tmp_path / I3D_FILE).write_bytes(b"x")
    assert i3d_checkpoint_path() == tmp_path / I3D_FILE
    monkeypatch.setenv("SVGARENA_I3D", str(tmp_path))
    assert i3d_checkpoint_path(weights=tmp_path / "nowhere") == tmp_path / I3D_FILE
    assert _weights.CHECKPOINTS["i3d-kinetics-400"].url.endswith("/" + I3D_FILE)


# -- the scoring-pass metric --------------------------------------------------------------------


def test_pass_metric_scores_both_views(i3d, video_files, tmp_path):
    from svgarena.scoring._batch import Batch, ScoringItem
    from svgarena.scoring._metrics import METRICS, ScoringContext
    from svgarena.tasks._registry import get_task
    from svgarena.tasks._types import Sample

    task = get_task("animation/text2sani")
    overall = tmp_path / "animation" / "overall"
    overall.mkdir(parents=True)
    for f in video_files:
        (overall / f.name).write_bytes(f.read_bytes())

    def item(tid: int, ok: bool, video_128=None) -> ScoringItem:
        return ScoringItem(tid, Sample(id=str(tid), task=task.id, prompt="p", target="<svg/>"), ok, video_128=video_128)

    ctx = ScoringContext(device="cpu", batch_size=2, suite_root=tmp_path)
    ctx._nets["i3d"] = i3d  # the network a pass would load from the checkpoint
    metric = METRICS["fvd"]()
    metric.prepare(ctx)
    metric.begin("g", ctx)
    metric.add(Batch(task, [item(0, True, overall / "0.mp4"), item(1, False)]), ctx)
    metric.add(Batch(task, [item(2, True, overall / "2.mp4"), item(3, True)]), ctx)
    sarena, ok_only = metric.finish(ctx)
    assert (sarena.view, sarena.n_ref, sarena.n_pred) == ("sarena", 3, 3)
    assert (ok_only.view, ok_only.n_ref, ok_only.n_pred) == ("ok_only", 3, 2)
    assert sarena.value > 0 and ok_only.value > 0 and sarena.value != ok_only.value
    assert "1 predictions left out (3: no video was stored" in sarena.error

    ref, ref_errors, folder = ctx._nets[("i3d", "fvd-ref", str(overall))]  # kept for the pass's other groups
    assert ref.n == 3 and not ref_errors and folder == overall
    preds = GaussianStats()
    preds.add(i3d(np.stack([read_fvd_clip(overall / "0.mp4", "0"), read_fvd_clip(overall / "2.mp4", "2")])))
    assert ok_only.value == pytest.approx(fvd_from_stats(preds, ref), rel=1e-6)
    preds.add(ctx._cache[("i3d", "black")][None])  # the black substitute's features, computed once
    assert sarena.value == pytest.approx(fvd_from_stats(preds, ref), rel=1e-6)


def test_pass_metric_without_reference_set(i3d, tmp_path):
    from svgarena.scoring._batch import Batch, ScoringItem
    from svgarena.scoring._metrics import METRICS, ScoringContext
    from svgarena.tasks._registry import get_task
    from svgarena.tasks._types import Sample

    task = get_task("animation/text2sani")
    ctx = ScoringContext(device="cpu", suite_root=tmp_path)
    ctx._nets["i3d"] = i3d
    metric = METRICS["fvd"]()
    metric.prepare(ctx)
    metric.begin("g", ctx)
    metric.add(Batch(task, [ScoringItem(i, Sample(id=str(i), task=task.id, prompt="p", target=""), False)
                            for i in range(3)]), ctx)
    for score in metric.finish(ctx):
        assert score.value is None and "no usable reference videos" in score.error
