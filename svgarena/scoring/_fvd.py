"""FVD: the Frechet distance between I3D features of predicted and reference animations.

Reference computation (SArena ``metrics/video/FVD.py`` -> ``cdfvd.fvd.cdfvd(model="i3d",
n_real="full", n_fake="full")``, cd-fvd 0.1.1), matched here:

1. Videos: every prediction's 128x128 MP4 (black substitutes for failures) against every
   reference in ``animation/overall/`` (the whole set, not paired with the predictions).
2. Clip: cd-fvd's ``video_folder`` loader (torchvision ``VideoClips``, 16-frame windows at a
   stride of 1) takes ONE window of 16 consecutive frames per video, its start drawn uniformly
   from all ``N - 15`` starts (``random.randint``; seeded with 42, but the draw also depends on
   DataLoader shuffling and worker seeding, so it cannot be replayed). Here the start is drawn
   from the same uniform distribution by a generator seeded with ``(seed, crc32(key))``, where
   the key is the video's file stem or the sample id: reproducible, independent of order and
   batching, and the same window for every model on the same sample. ``start="first"`` takes
   frames 0..15 instead. A video with fewer than 16 frames has no window (cd-fvd silently uses
   the next video's; here it is an error for that video).
3. ``preprocess``: frames / 255, shorter side resized to 128 (bilinear, antialiased) and centre
   cropped to 128x128 (a no-op for SArena's 128 videos), back to uint8 with ``(x * 255).byte()``
   (truncation); ``preprocess_i3d``: bilinear resize to 224x224 (``align_corners=False``, no
   antialias), scaled to [-1, 1].
4. Features: Inception-I3D Kinetics-400 logits averaged over time, 400-d (:mod:`._fvd_i3d`,
   weights ``i3d_pretrained_400.pt``), in eval mode, fp32 (fp16 autocast on CUDA as an option).
5. Statistics (cd-fvd's ``FeatureStats``): float64 running sums of x and x x^T; mean, and the
   biased covariance ``E[x x^T] - mu mu^T`` (divided by N, not N - 1).
6. ``FVD = |mu_p - mu_r|^2 + tr(S_p + S_r - 2 (S_r S_p)^(1/2))`` in float64.

Deliberate differences: the window choice (above); the trace of the matrix square root is
computed from the eigenvalues of the symmetric PSD matrix ``S_r^(1/2) S_p S_r^(1/2)`` instead of
``scipy.linalg.sqrtm(S_r @ S_p)``: the same number (tests compare to 1e-6 relative), always real,
and stable for the rank-deficient covariances of small sets (fewer videos than the 400 dimensions,
as in sarena-mini or a --limit run). Frames are decoded by the ffmpeg of imageio-ffmpeg (rgb24),
where torchvision uses PyAV; both go through ffmpeg's swscale. On CUDA, PyTorch's default TF32
convolutions move I3D features by ~3e-4 relative (between batch sizes, and against the CPU), as
they do for cd-fvd itself.

Checked against cd-fvd 0.1.1's own code: with the same random weights its ``InceptionI3d`` and
this one give identical features, and its preprocessing and this give identical tensors.
"""

from __future__ import annotations

import importlib.util
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from svgarena.scoring._batch import Batch
from svgarena.scoring._metrics import Metric, ScoringContext, SetScore, register_metric
from svgarena.scoring._weights import CHECKPOINTS, Checkpoint, CheckpointMissing, env_checkpoint, register_checkpoint, require

if TYPE_CHECKING:
    import torch

    from svgarena.scoring._fvd_i3d import InceptionI3d

FVD_FRAMES = 16
FVD_RESOLUTION = 128
I3D_INPUT = 224
FVD_SEED = 42  # cd-fvd's seed_everything(42)
I3D_FILE = "i3d_pretrained_400.pt"
I3D_URL = "https://github.com/songweige/TATS/raw/main/tats/fvd/i3d_pretrained_400.pt"  # cd-fvd's download URL
I3D_ENV = "SVGARENA_I3D"  # a path to the .pt file (or to a folder holding it)

I3D_CHECKPOINT = CHECKPOINTS.get("i3d-kinetics-400") or register_checkpoint(Checkpoint(
    name="i3d-kinetics-400",
    metrics=("fvd",),
    filename=I3D_FILE,
    description="Inception-I3D Kinetics-400 (DeepMind TF-Hub weights converted by TATS), cd-fvd's FVD network",
    cache="torch",
    url=I3D_URL,
    approx_mb=51,  # 287 float32 tensors, 12,711,824 values (TF weights converted by TATS)
    extra={"also_found_in": "cdfvd/third_party/i3d/ (where cd-fvd downloads it)",
           "tensors": "state dict of InceptionI3d(400): conv3d/bn per unit, logits.conv3d.{weight,bias}"},
))


# -- checkpoint ---------------------------------------------------------------------------------


def _cdfvd_copy() -> Path | None:
    """Where cd-fvd keeps the file after its own first download, if cd-fvd is installed."""
    spec = importlib.util.find_spec("cdfvd")
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        return Path(folder) / "third_party" / "i3d" / I3D_FILE
    return None


def i3d_checkpoint_path(weights: str | Path | None = None, metrics: Sequence[str] | None = None) -> Path:
    """``$SVGARENA_I3D`` (file or folder), ``weights`` / ``$SVGARENA_WEIGHTS``, torch hub's checkpoint
    folder, then cd-fvd's package folder; ``CheckpointMissing`` when none has it."""
    found, looked = env_checkpoint(I3D_ENV, I3D_FILE)
    if found is not None:
        return found
    try:
        return require(I3D_CHECKPOINT, weights)
    except CheckpointMissing as exc:
        looked += [Path(p) for p in exc.looked]
    cdfvd = _cdfvd_copy()
    if cdfvd is not None:
        if cdfvd.is_file():
            return cdfvd
        looked.append(cdfvd)
    raise CheckpointMissing(I3D_CHECKPOINT, looked, metrics)


def build_i3d(state_dict: dict | None = None) -> InceptionI3d:
    """InceptionI3d(400) in eval mode: He-initialised, or ``state_dict`` loaded with strict key matching."""
    from svgarena.scoring._fvd_i3d import InceptionI3d

    model = InceptionI3d()
    if state_dict is not None:
        model.load_state_dict(state_dict, strict=True)
    return model.eval()


def load_i3d(weights: str | Path | None = None, checkpoint: str | Path | None = None) -> InceptionI3d:
    """The real I3D (CPU, fp32, eval mode) from ``checkpoint`` or :func:`i3d_checkpoint_path`."""
    import torch

    path = Path(checkpoint) if checkpoint is not None else i3d_checkpoint_path(weights)
    if not path.is_file():
        raise CheckpointMissing(I3D_CHECKPOINT, [path])
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        return build_i3d(state)
    except Exception as exc:  # noqa: BLE001 - unreadable file or wrong tensors: one line naming it
        raise ValueError(f"{path}: not an {I3D_FILE} state dict ({type(exc).__name__}: {str(exc)[:300]})") from None


# -- clips and preprocessing --------------------------------------------------------------------


def clip_start(n_frames: int, key: str, seed: int = FVD_SEED, length: int = FVD_FRAMES,
               start: Literal["random", "first"] = "random") -> int:
    """First frame of the ``length``-frame window FVD reads from a video of ``n_frames`` frames."""
    if n_frames < length:
        raise ValueError(f"FVD needs {length} frames, the video has {n_frames}")
    if start == "first":
        return 0
    if start != "random":
        raise ValueError(f"start must be 'random' or 'first', got {start!r}")
    rng = np.random.default_rng([seed, zlib.crc32(key.encode("utf-8"))])
    return int(rng.integers(0, n_frames - length + 1))


def fvd_clip(frames: np.ndarray, key: str, seed: int = FVD_SEED,
             start: Literal["random", "first"] = "random") -> np.ndarray:
    """The 16 consecutive frames (16, H, W, 3) of a decoded video that FVD reads."""
    arr = np.asarray(frames)
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(f"expected video frames (N, H, W, 3), got shape {arr.shape}")
    first = clip_start(len(arr), key, seed, FVD_FRAMES, start)
    return arr[first:first + FVD_FRAMES]


def read_fvd_clip(path: str | Path, key: str | None = None, seed: int = FVD_SEED,
                  start: Literal["random", "first"] = "random") -> np.ndarray:
    """Decode a video and return its FVD window; the key defaults to the file stem."""
    from svgarena.sandboxes import read_frames

    p = Path(path)
    return fvd_clip(read_frames(p), key if key is not None else p.stem, seed, start)


def preprocess_i3d(clips: np.ndarray, resolution: int = FVD_RESOLUTION) -> torch.Tensor:
    """uint8 clips (B, T, H, W, 3) -> (B, 3, T, 224, 224) float32 in [-1, 1], as cd-fvd feeds I3D."""
    import math

    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(clips))
    if x.ndim != 5 or x.shape[-1] != 3 or x.dtype != torch.uint8:
        raise ValueError(f"expected uint8 clips (B, T, H, W, 3), got {x.dtype} {tuple(x.shape)}")
    b, t, h, w, _ = x.shape
    # cd-fvd data_utils.preprocess: [0, 1], shorter side -> resolution (antialiased), centre crop
    v = x.permute(0, 1, 4, 2, 3).reshape(b * t, 3, h, w).float() / 255.0
    scale = resolution / min(h, w)
    size = (resolution, math.ceil(w * scale)) if h < w else (math.ceil(h * scale), resolution)
    v = F.interpolate(v, size=size, mode="bilinear", align_corners=False, antialias=True)
    top, left = (v.shape[2] - resolution) // 2, (v.shape[3] - resolution) // 2
    v = v[:, :, top:top + resolution, left:left + resolution]
    # fvd.compute_*_stats: (video * 255).byte(), then third_party/i3d/utils.preprocess_i3d
    v = (v * 255).to(torch.uint8).float()
    v = F.interpolate(v, size=(I3D_INPUT, I3D_INPUT), mode="bilinear", align_corners=False)
    v = 2.0 * v / 255.0 - 1.0
    return v.reshape(b, t, 3, I3D_INPUT, I3D_INPUT).transpose(1, 2).contiguous()


class I3DFeatures:
    """I3D logits of 16-frame clips, in batches on one device (the network is loaded once per pass)."""

    def __init__(self, model: InceptionI3d, device: str = "cpu", *, half: bool = False, batch_size: int = 16) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        from svgarena.scoring._torch import autocast

        self.model = model.to(device).eval()
        self.device = device
        self.batch_size = batch_size
        self._autocast = lambda: autocast(device, half)

    @classmethod
    def load(cls, weights: str | Path | None = None, *, checkpoint: str | Path | None = None,
             device: str | None = None, half: bool = False, batch_size: int = 16) -> I3DFeatures:
        """Load the real checkpoint (``CheckpointMissing`` if absent) onto ``device`` (auto: CUDA, else CPU)."""
        from svgarena.scoring._torch import resolve_device

        return cls(load_i3d(weights, checkpoint), resolve_device(device), half=half, batch_size=batch_size)

    def __call__(self, clips: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """(B, 16, H, W, 3) uint8 clips -> (B, 400) float32 features."""
        import torch

        out = []
        for first in range(0, len(clips), self.batch_size):
            batch = preprocess_i3d(np.stack(clips[first:first + self.batch_size])).to(self.device)
            with torch.inference_mode(), self._autocast():
                out.append(self.model(batch).float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 400), dtype=np.float32)


# -- statistics and distance --------------------------------------------------------------------


class GaussianStats:
    """Running float64 sums of features and their outer products (cd-fvd's ``FeatureStats``)."""

    def __init__(self, dim: int | None = None) -> None:
        self.n = 0
        self.dim = dim
        self._sum: np.ndarray | None = None
        self._outer: np.ndarray | None = None

    def add(self, features: np.ndarray) -> None:
        x = np.asarray(features, dtype=np.float32)  # cd-fvd rounds features to float32 first
        if x.ndim != 2:
            raise ValueError(f"features must be (N, D), got shape {x.shape}")
        if self.dim is None:
            self.dim = x.shape[1]
        if x.shape[1] != self.dim:
            raise ValueError(f"features have {x.shape[1]} dimensions, expected {self.dim}")
        if self._sum is None:
            self._sum = np.zeros(self.dim, dtype=np.float64)
            self._outer = np.zeros((self.dim, self.dim), dtype=np.float64)
        x64 = x.astype(np.float64)
        self._sum += x64.sum(axis=0)
        self._outer += x64.T @ x64
        self.n += len(x)

    def add_repeated(self, row: np.ndarray, count: int) -> None:
        """``count`` copies of one feature row (the black substitute's), without repeating the network."""
        if count > 0:
            r = np.asarray(row, dtype=np.float32).reshape(1, -1)
            self.add(r)
            r64 = r[0].astype(np.float64)
            self._sum += (count - 1) * r64
            self._outer += (count - 1) * np.outer(r64, r64)
            self.n += count - 1

    def mean_cov(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and biased covariance (divided by N)."""
        if self.n == 0 or self._sum is None or self._outer is None:
            raise ValueError("no features were added")
        mean = self._sum / self.n
        return mean, self._outer / self.n - np.outer(mean, mean)

    def save(self, path: str | Path) -> None:
        """Write the sums to an .npz file (for example the reference set's, to reuse across runs)."""
        if self._sum is None:
            raise ValueError("no features were added")
        np.savez(path, n=self.n, sum=self._sum, outer=self._outer)

    @classmethod
    def load(cls, path: str | Path) -> GaussianStats:
        with np.load(path) as data:
            stats = cls(int(data["sum"].shape[0]))
            stats.n, stats._sum, stats._outer = int(data["n"]), data["sum"].copy(), data["outer"].copy()
        return stats


def _psd_sqrt(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((a + a.T) / 2.0)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """``|mu1 - mu2|^2 + tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2))`` in float64."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ValueError(f"shape mismatch: means {mu1.shape} {mu2.shape}, covariances {s1.shape} {s2.shape}")
    root = _psd_sqrt(s1)
    eig = np.linalg.eigvalsh(root @ s2 @ root)  # same spectrum as sigma1 @ sigma2
    tr_sqrt = float(np.sqrt(np.clip(eig, 0.0, None)).sum())
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_sqrt)


def fvd_from_stats(pred: GaussianStats, ref: GaussianStats) -> float:
    """FVD between two feature sets (cd-fvd's ``compute_fvd_from_stats``)."""
    mu_p, s_p = pred.mean_cov()
    mu_r, s_r = ref.mean_cov()
    return frechet_distance(mu_r, s_r, mu_p, s_p)


# -- streaming a set ----------------------------------------------------------------------------


@dataclass
class FVDSet:
    """Streams one side of FVD (the predictions, or the reference set) into I3D statistics.

    ``add`` takes a video path (or decoded frames with a key) and runs I3D each time a batch is
    full, so memory stays flat whatever the number of videos. Videos that cannot be used (no
    16-frame window, unreadable) are listed in ``errors`` as "key: reason" and left out.
    """

    features: I3DFeatures
    seed: int = FVD_SEED
    start: Literal["random", "first"] = "random"

    def __post_init__(self) -> None:
        self.stats = GaussianStats()
        self.errors: list[str] = []
        self._pending: list[np.ndarray] = []

    def add(self, video: str | Path | np.ndarray, key: str | None = None) -> bool:
        """Queue one video's window; returns False (and records why) when it cannot be used."""
        if isinstance(video, np.ndarray):
            if key is None:
                raise ValueError("decoded frames need a key (the sample id) to pick their window")
            name = key
        else:
            name = key if key is not None else Path(video).stem
        try:
            clip = (fvd_clip(video, name, self.seed, self.start) if isinstance(video, np.ndarray)
                    else read_fvd_clip(video, name, self.seed, self.start))
        except (ValueError, OSError, RuntimeError) as exc:
            self.errors.append(f"{name}: {exc}")
            return False
        self._pending.append(clip)
        if len(self._pending) >= self.features.batch_size:
            self._flush()
        return True

    def add_all(self, videos: Iterable[str | Path]) -> None:
        for video in videos:
            self.add(video)

    def _flush(self) -> None:
        if self._pending:
            clips, self._pending = self._pending, []
            self.stats.add(self.features(clips))

    def finish(self) -> GaussianStats:
        """Run I3D on what is still queued and return the statistics."""
        self._flush()
        return self.stats


def fvd(pred_videos: Iterable[str | Path], ref_videos: Iterable[str | Path], features: I3DFeatures,
        *, seed: int = FVD_SEED, start: Literal["random", "first"] = "random") -> FVDResult:
    """FVD of prediction videos (keys: file stems) against a reference set, SArena's way."""
    pred = FVDSet(features, seed, start)
    pred.add_all(pred_videos)
    ref = FVDSet(features, seed, start)
    ref.add_all(ref_videos)
    p, r = pred.finish(), ref.finish()
    if p.n < 2 or r.n < 2:
        raise ValueError(f"FVD needs at least 2 videos on each side (predictions {p.n}, references {r.n})")
    return FVDResult(fvd_from_stats(p, r), p.n, r.n, pred.errors + ref.errors)


@dataclass(frozen=True)
class FVDResult:
    value: float
    n_pred: int
    n_ref: int
    errors: list[str]


# -- the scoring-pass metric --------------------------------------------------------------------

VIDEO_SUFFIXES = (".avi", ".mp4", ".webm", ".mov", ".mkv", ".m4v")  # cd-fvd's VID_EXTENSIONS
BLACK_FRAMES = 149  # SArena's pure_black_128.mp4


def reference_videos(folder: Path) -> list[Path]:
    """Every video under ``folder`` (recursively, as cd-fvd's ``video_folder`` loader globs)."""
    return sorted(p for p in folder.rglob("*") if p.suffix in VIDEO_SUFFIXES and p.is_file())


class FVD(Metric):
    """FVD of a task's predictions (black substitutes included in the SArena view; successful ones
    only in the other) against the suite's whole reference set ``<task folder>/overall/``; see the
    module doc for the computation. A prediction is read from its 128x128 MP4, else from its
    448 MP4 (cd-fvd's own preprocessing then scales it to 128, antialiased; SArena renders a
    separate 128 capture, so such a run says so in the note)."""

    name = "fvd"
    checkpoints = (I3D_CHECKPOINT.name,)
    set_level = True
    neural = True

    def prepare(self, ctx: ScoringContext) -> None:
        def build() -> I3DFeatures:
            path = i3d_checkpoint_path(ctx.weights_dir, [self.name])
            return I3DFeatures(load_i3d(checkpoint=path), ctx.device, half=ctx.half, batch_size=ctx.batch_size)

        self.features = ctx.net("i3d", build)

    def begin(self, group_key: str, ctx: ScoringContext) -> None:
        self.all, self.ok = GaussianStats(), GaussianStats()
        self.ref: GaussianStats | None = None
        self.ref_note: str | None = None
        self.pending: list[tuple[np.ndarray, bool]] = []
        self.errors: list[str] = []
        self.from_448 = 0

    def _reference(self, batch: Batch, ctx: ScoringContext) -> None:
        if ctx.suite_root is None or batch.task.reference_dir is None:
            self.ref_note = "no suite folder is known, so there is no reference set"
            return
        folder = Path(ctx.suite_root) / batch.task.reference_dir / "overall"
        key = ("i3d", "fvd-ref", str(folder))
        if key not in ctx._nets:
            videos = reference_videos(folder) if folder.is_dir() else []
            ref = FVDSet(self.features)
            ref.add_all(videos)
            ctx._nets[key] = (ref.finish(), ref.errors, folder)
        self.ref, errors, _ = ctx._nets[key]
        if self.ref.n == 0:
            self.ref, self.ref_note = None, f"no usable reference videos in {folder}"
        elif errors:
            self.ref_note = f"{len(errors)} reference videos left out ({errors[0]})"

    def add(self, batch: Batch, ctx: ScoringContext) -> None:
        if self.ref is None and self.ref_note is None:
            self._reference(batch, ctx)
        black = 0
        for item in batch.items:
            if not item.ok:
                black += 1  # SArena scores a failed answer as its black 128 video
                continue
            path = item.video_128 or item.video
            if path is None:
                self.errors.append(f"{item.sample.id}: no video was stored for this answer")
                continue
            try:
                self.pending.append((read_fvd_clip(path, item.sample.id), True))
                self.from_448 += item.video_128 is None
            except (ValueError, OSError, RuntimeError) as exc:
                self.errors.append(f"{item.sample.id}: {exc}")
        if black:
            feat = ctx.cached(("i3d", "black"), lambda: self.features(
                np.zeros((1, FVD_FRAMES, FVD_RESOLUTION, FVD_RESOLUTION, 3), np.uint8))[0])
            self.all.add_repeated(feat, black)
        while len(self.pending) >= self.features.batch_size:
            self._flush(self.features.batch_size)

    def _flush(self, size: int | None = None) -> None:
        chunk, self.pending = self.pending[:size], self.pending[len(self.pending[:size]):]
        if chunk:
            feats = self.features([c for c, _ in chunk])
            self.all.add(feats)
            self.ok.add(feats)

    def finish(self, ctx: ScoringContext) -> list[SetScore]:
        self._flush()
        notes = [n for n in (self.ref_note,) if n]
        if self.errors:
            notes.append(f"{len(self.errors)} predictions left out ({self.errors[0]})")
        if self.from_448:
            notes.append(f"{self.from_448} predictions read from their 448 video (no 128 render stored)")
        note = "; ".join(notes) or None
        out = []
        n_ref = self.ref.n if self.ref is not None else 0
        for view, preds in (("sarena", self.all), ("ok_only", self.ok)):
            if self.ref is None or n_ref < 2 or preds.n < 2:
                why = note or f"FVD needs at least 2 videos on each side (references {n_ref}, predictions {preds.n})"
                out.append(SetScore(self.name, view, None, n_ref, preds.n, why))
                continue
            out.append(SetScore(self.name, view, fvd_from_stats(preds, self.ref), n_ref, preds.n, note))
        return out


register_metric(FVD.name, FVD)
