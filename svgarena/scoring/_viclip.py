"""ViCLIP-T2V and ViCLIP-V2V: SArena's text-to-video and video-to-video similarity for text2sani.

Reference computation (SArena ``metrics/video/CLIP_video.py``, ``ViCLIPCalculator``), matched here:

1. Frames: 8 frames at ``np.linspace(0, N - 1, 8, dtype=int)`` of the 448x448 MP4
   (:func:`svgarena.sandboxes.sample_frames`). OpenCV decodes BGR and SArena flips to RGB
   (``x[:, :, ::-1]``) before resizing; ``sample_frames`` already returns RGB, so
   :func:`prepare_video` takes RGB frames and does not flip them.
2. ``frames2tensor``: keep ``frames[::len // 8][:8]`` (fewer than 8 frames is an error there
   and here), ``cv2.resize`` each to 224x224 (bilinear; reproduced bit-exactly by
   :func:`resize_bilinear_cv2`, so OpenCV is not needed), then ``(x / 255 - mean) / std`` with
   ImageNet mean/std in float64, cast to float32: a (8, 3, 224, 224) tensor per video.
3. Features: the vision encoder's (or the text encoder's) output in float32, divided by its L2
   norm. Text: CLIP BPE with a 32-token context (longer texts are cut to 32 tokens, the last one
   replaced by EOT; :mod:`._viclip_tokenizer`).
4. Score: ``100 * cosine``. T2V compares a prediction with its text (for text2sani the part of
   the prompt after ``Instruction: ``, ``Sample.caption``); V2V with the reference video.
   A failed sample is scored on SArena's black substitute video (pass black frames).

Deliberate differences:

* Eval mode. SARENA.md notes that the published scorer never calls ``eval()`` and would keep
  drop-path (0.1) active; svgarena evaluates in eval mode, so scores are deterministic. (As
  published, ``clip_joint_l14`` and ``clip_text_l14`` return their encoders already in eval mode
  and ``ViCLIP.__init__`` never switches them back, so its drop-path is in fact inactive too:
  run with the same random weights, SArena's own ViCLIP code and this one gave identical
  features, and repeated calls of SArena's gave identical features.)
* Batching: several videos per forward pass (the reference does one at a time); results equal a
  batch of one up to float summation order (~1e-7 on a feature).
* Half precision (fp16 autocast on CUDA) is an option; fp32 is the default, for parity (fp16
  moved T2V by ~0.02 points in a check on an H200).

Checkpoint: ``ViClip-InternVid-10M-FLT.pth`` (state dict under ``"model"``), found through
:func:`viclip_checkpoint_path`; the Hugging Face repo ``OpenGVLab/ViCLIP`` is gated (accept the
licence, log in, then ``svgarena weights fetch viclip``).
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from svgarena.scoring._batch import Batch
from svgarena.scoring._metrics import Metric, ScoringContext, register_metric
from svgarena.scoring._scorer import SampleScore
from svgarena.scoring._weights import CHECKPOINTS, Checkpoint, CheckpointMissing, env_checkpoint, register_checkpoint, require

if TYPE_CHECKING:
    import torch

    from svgarena.scoring._viclip_model import ViCLIP
    from svgarena.scoring._viclip_tokenizer import ClipBPETokenizer

log = logging.getLogger(__name__)

VICLIP_FILE = "ViClip-InternVid-10M-FLT.pth"
VICLIP_REPO = "OpenGVLab/ViCLIP"
VICLIP_ENV = "SVGARENA_VICLIP"  # a path to the .pth file (or to a folder holding it)
VICLIP_CONTAINER_KEY = "model"  # the state dict lies under this key of the saved dict
VICLIP_FRAMES = 8
VICLIP_SIZE = 224
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float64)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float64)

VICLIP_CHECKPOINT = CHECKPOINTS.get("viclip") or register_checkpoint(Checkpoint(
    name="viclip",
    metrics=("viclip_t2v", "viclip_v2v"),
    filename=VICLIP_FILE,
    description="ViCLIP ViT-L/14 trained on InternVid-10M-FLT (OpenGVLab/ViCLIP), SArena's ViCLIP-T2V/V2V network",
    cache="hf",
    hf_repo=VICLIP_REPO,
    hf_file=VICLIP_FILE,
    gated=True,
    extra={"tensors": "447 tensors, 427,590,145 values (1.71 GB as float32)", "container_key": VICLIP_CONTAINER_KEY},
))


class ViCLIPCheckpointError(ValueError):
    """The ViCLIP file exists but is not the expected checkpoint (unreadable, or other tensor names/shapes)."""


# -- checkpoint ---------------------------------------------------------------------------------


def viclip_checkpoint_path(weights: str | Path | None = None, metrics: Sequence[str] | None = None) -> Path:
    """Where ``ViClip-InternVid-10M-FLT.pth`` is: ``$SVGARENA_VICLIP`` (a file, or a folder holding it),
    then ``weights`` / ``$SVGARENA_WEIGHTS``, then the Hugging Face cache of ``OpenGVLab/ViCLIP``.

    Raises ``CheckpointMissing`` (one line: where it looked, that the repo is gated, the fetch command).
    """
    found, looked = env_checkpoint(VICLIP_ENV, VICLIP_FILE)
    if found is not None:
        return found
    try:
        return require(VICLIP_CHECKPOINT, weights)
    except CheckpointMissing as exc:
        raise CheckpointMissing(VICLIP_CHECKPOINT, [*looked, *map(Path, exc.looked)], metrics) from None


def _torch_load(path: Path) -> Any:
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # The published file may pickle more than tensors (training config objects). It comes from
        # the gated OpenGVLab repo and `svgarena weights verify` checks its hash.
        log.warning("%s holds non-tensor objects; loading it with full unpickling", path)
        return torch.load(path, map_location="cpu", weights_only=False)


def load_viclip_state_dict(source: str | Path | Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The ViCLIP tensors of a checkpoint file (or of an already loaded dict): ``obj["model"]`` if present."""
    obj = source if isinstance(source, Mapping) else _torch_load(Path(source))
    if not isinstance(obj, Mapping):
        raise ViCLIPCheckpointError(f"{source}: expected a dict, found {type(obj).__name__}")
    if VICLIP_CONTAINER_KEY in obj and isinstance(obj[VICLIP_CONTAINER_KEY], Mapping):
        obj = obj[VICLIP_CONTAINER_KEY]
    return dict(obj)


def build_viclip(state_dict: Mapping[str, Any] | None = None) -> ViCLIP:
    """ViCLIP-L/14 in eval mode: random CLIP-style weights, or ``state_dict`` loaded with strict key matching."""
    from svgarena.scoring._viclip_model import ViCLIP

    model = ViCLIP()
    if state_dict is not None:
        _load_strict(model, state_dict)
    return model.eval()


def _load_strict(model: torch.nn.Module, state_dict: Mapping[str, Any]) -> None:
    own = model.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    wrong = sorted(k for k in set(own) & set(state_dict)
                   if tuple(getattr(state_dict[k], "shape", ())) != tuple(own[k].shape))
    if missing or unexpected or wrong:
        parts = [f"{label} {len(keys)} ({', '.join(keys[:3])}{', ...' if len(keys) > 3 else ''})"
                 for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)) if keys]
        raise ViCLIPCheckpointError(f"not a {VICLIP_FILE} state dict: " + "; ".join(parts))
    model.load_state_dict(state_dict, strict=True)


def load_viclip(weights: str | Path | None = None, checkpoint: str | Path | None = None) -> ViCLIP:
    """The real ViCLIP (CPU, fp32, eval mode) from ``checkpoint`` or :func:`viclip_checkpoint_path`."""
    path = Path(checkpoint) if checkpoint is not None else viclip_checkpoint_path(weights)
    if not path.is_file():
        raise CheckpointMissing(VICLIP_CHECKPOINT, [path])
    try:
        state = load_viclip_state_dict(path)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as exc:
        why = f"{type(exc).__name__}: {exc}"
        raise ViCLIPCheckpointError(f"{path}: cannot be read as a torch checkpoint ({why})") from None
    try:
        return build_viclip(state)
    except ViCLIPCheckpointError as exc:
        raise ViCLIPCheckpointError(f"{path}: {exc}") from None


# -- preprocessing ------------------------------------------------------------------------------


def _bilinear_taps(src: int, dst: int, clamp: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """OpenCV's INTER_LINEAR source index and 11-bit fixed-point weights for each output pixel."""
    scale = 1.0 / (dst / src)
    f = ((np.arange(dst, dtype=np.float64) + 0.5) * scale - 0.5).astype(np.float32)
    s = np.floor(f).astype(np.int64)
    f = (f - s.astype(np.float32)).astype(np.float32)
    if clamp:  # columns are clamped when the weights are made; rows only when they are fetched
        low, high = s < 0, s >= src - 1
        f[low], s[low] = 0, 0
        f[high], s[high] = 0, src - 1
    w1 = np.rint(f * np.float32(2048)).astype(np.int64)
    w0 = np.rint((np.float32(1) - f) * np.float32(2048)).astype(np.int64)
    return s, w0, w1


def resize_bilinear_cv2(image: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """``cv2.resize(image, (w, h))`` (INTER_LINEAR) on uint8 (H, W[, C]), bit for bit, without OpenCV.

    OpenCV turns an exact 2x downscale (448 -> 224, SArena's case) into a 2x2 area mean rounded
    half up; other sizes use its 11-bit fixed-point bilinear weights and rounding.
    """
    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim not in (2, 3):
        raise ValueError(f"expected a uint8 (H, W[, C]) image, got {img.dtype} {img.shape}")
    w, h = (size, size) if isinstance(size, int) else size
    H, W = img.shape[:2]
    if (H, W) == (h, w):
        return img.copy()
    x = img.reshape(H, W, -1)
    if (H, W) == (2 * h, 2 * w):
        s = x[0::2, 0::2].astype(np.uint16)
        s += x[0::2, 1::2]
        s += x[1::2, 0::2]
        s += x[1::2, 1::2]
        s += 2
        s >>= 2
        return s.astype(np.uint8).reshape((h, w) + img.shape[2:])
    x = x.astype(np.int64)
    sx, a0, a1 = _bilinear_taps(W, w, clamp=True)
    rows = x[:, sx] * a0[None, :, None] + x[:, np.minimum(sx + 1, W - 1)] * a1[None, :, None]
    sy, b0, b1 = _bilinear_taps(H, h, clamp=False)
    r0 = rows[np.clip(sy, 0, H - 1)] >> 4
    r1 = rows[np.clip(sy + 1, 0, H - 1)] >> 4
    v = ((r0 * b0[:, None, None]) >> 16) + ((r1 * b1[:, None, None]) >> 16)
    return np.clip((v + 2) >> 2, 0, 255).astype(np.uint8).reshape((h, w) + img.shape[2:])


def prepare_video(frames: np.ndarray, n_frames: int = VICLIP_FRAMES, size: int = VICLIP_SIZE) -> torch.Tensor:
    """RGB uint8 frames (N >= 8, H, W, 3) -> the (8, 3, 224, 224) float32 tensor ViCLIP reads.

    SArena's ``frames2tensor``: ``frames[::N // 8][:8]``, resize to 224x224, ImageNet mean/std.
    """
    import torch

    arr = np.asarray(frames)
    if arr.ndim != 4 or arr.shape[-1] != 3 or arr.dtype != np.uint8:
        raise ValueError(f"ViCLIP takes RGB uint8 frames (N, H, W, 3), got {arr.dtype} {arr.shape}")
    if len(arr) < n_frames:
        raise ValueError(f"ViCLIP needs {n_frames} frames, the video gave {len(arr)}")
    arr = arr[:: len(arr) // n_frames][:n_frames]
    resized = np.stack([resize_bilinear_cv2(f, size) for f in arr])  # (8, 224, 224, 3) uint8
    lut = _normalise_lut()
    out = np.empty((n_frames, 3, size, size), dtype=np.float32)
    for c in range(3):
        np.take(lut[c], resized[..., c], out=out[:, c])
    return torch.from_numpy(out)


@lru_cache(maxsize=1)
def _normalise_lut() -> np.ndarray:
    """(3, 256) float32 table of ``(v / 255 - mean[c]) / std[c]`` computed in float64, as SArena's
    numpy code does per pixel before its cast to float32 (a lookup gives the same numbers, faster)."""
    v = np.arange(256, dtype=np.float64)[None, :]
    return ((v / 255.0 - IMAGENET_MEAN[:, None]) / IMAGENET_STD[:, None]).astype(np.float32)


# -- scoring ------------------------------------------------------------------------------------


class ViCLIPScorer:
    """ViCLIP features and scores in batches on one device; the network is loaded once per pass.

    Videos are RGB uint8 frame stacks (as :func:`svgarena.sandboxes.sample_frames` returns, 8
    frames) or tensors from :func:`prepare_video`. Scores are ``100 * cosine`` (floats).
    """

    def __init__(self, model: ViCLIP, device: str = "cpu", *, half: bool = False, batch_size: int = 8,
                 tokenizer: ClipBPETokenizer | None = None) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        from svgarena.scoring._torch import autocast
        from svgarena.scoring._viclip_tokenizer import ClipBPETokenizer

        self.device = device
        self.half = half
        self.batch_size = batch_size
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer or ClipBPETokenizer()
        self._autocast = lambda: autocast(device, half)

    @classmethod
    def load(cls, weights: str | Path | None = None, *, checkpoint: str | Path | None = None,
             device: str | None = None, half: bool = False, batch_size: int = 8) -> ViCLIPScorer:
        """Load the real checkpoint (``CheckpointMissing`` if absent) onto ``device`` (auto: CUDA, else CPU)."""
        from svgarena.scoring._torch import resolve_device

        dev = resolve_device(device)
        return cls(load_viclip(weights, checkpoint), dev, half=half, batch_size=batch_size)

    def video_features(self, videos: Sequence[np.ndarray | torch.Tensor]) -> torch.Tensor:
        """(N, 768) float32 L2-normalised features on the CPU."""
        import torch

        out = []
        for start in range(0, len(videos), self.batch_size):
            part = videos[start:start + self.batch_size]
            chunk = [v if isinstance(v, torch.Tensor) else prepare_video(v) for v in part]
            batch = torch.stack(chunk).to(self.device)
            with torch.inference_mode(), self._autocast():
                out.append(self.model.encode_video(batch).float().cpu())
        return torch.cat(out) if out else torch.zeros(0, self.model.config.embed_dim)

    def text_features(self, texts: Sequence[str]) -> torch.Tensor:
        """(N, 768) float32 L2-normalised features of the texts (32-token context) on the CPU."""
        import torch

        out = []
        for start in range(0, len(texts), 64):
            tokens = self.tokenizer(list(texts[start:start + 64]), self.model.config.context_length)
            with torch.inference_mode(), self._autocast():
                out.append(self.model.encode_text(tokens.to(self.device)).float().cpu())
        return torch.cat(out) if out else torch.zeros(0, self.model.config.embed_dim)

    @staticmethod
    def similarity(a: torch.Tensor, b: torch.Tensor) -> list[float]:
        """Row-wise ``100 * cosine`` of two (N, D) L2-normalised feature matrices."""
        if a.shape != b.shape:
            raise ValueError(f"feature shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
        return (100.0 * (a.double() * b.double()).sum(dim=-1)).tolist()

    def t2v(self, videos: Sequence[np.ndarray | torch.Tensor], texts: Sequence[str]) -> list[float]:
        """ViCLIP-T2V of each video against its text."""
        if len(videos) != len(texts):
            raise ValueError(f"{len(videos)} videos but {len(texts)} texts")
        return self.similarity(self.video_features(videos), self.text_features(texts))

    def v2v(self, videos: Sequence[np.ndarray | torch.Tensor],
            references: Sequence[np.ndarray | torch.Tensor]) -> list[float]:
        """ViCLIP-V2V of each video against its reference video."""
        if len(videos) != len(references):
            raise ValueError(f"{len(videos)} videos but {len(references)} references")
        return self.similarity(self.video_features(videos), self.video_features(references))


# -- the scoring-pass metrics -------------------------------------------------------------------


def _pass_scorer(ctx: ScoringContext, metric: str) -> ViCLIPScorer:
    """One ViCLIP per scoring pass, shared by viclip_t2v and viclip_v2v."""

    def build() -> ViCLIPScorer:
        path = viclip_checkpoint_path(ctx.weights_dir, [metric])
        return ViCLIPScorer(load_viclip(checkpoint=path), ctx.device, half=ctx.half, batch_size=ctx.batch_size)

    return ctx.net("viclip", build)


class _ViCLIPMetric(Metric):
    checkpoints = ("viclip",)
    neural = True

    def prepare(self, ctx: ScoringContext) -> None:
        self.scorer = _pass_scorer(ctx, self.name)

    def _features(self, batch: Batch, ctx: ScoringContext, indices: list[int], which: str,
                  ) -> tuple[dict[int, np.ndarray], dict[int, str]]:
        """Video features of ``which`` ("pred" or "ref") for ``indices``; SArena's black video for failures."""
        feats: dict[int, np.ndarray] = {}
        errors: dict[int, str] = {}
        todo: list[tuple[int, Any]] = []
        for i in indices:
            ref_key = ("viclip", "ref", str(batch.items[i].sample.reference_video))
            if which == "ref" and ref_key in ctx._cache:
                feats[i] = ctx._cache[ref_key]
            elif which == "pred" and not batch.has_pred_frames(i):
                feats[i] = ctx.cached(("viclip", "black"), lambda: self.scorer.video_features(
                    [np.zeros((VICLIP_FRAMES, VICLIP_SIZE, VICLIP_SIZE, 3), np.uint8)])[0].numpy())
            else:
                try:
                    frames = batch.ref_frames(i) if which == "ref" else batch.pred_frames(i)
                    todo.append((i, prepare_video(frames)))
                except Exception as exc:  # noqa: BLE001 - unreadable or too short: that sample's error
                    errors[i] = f"{type(exc).__name__}: {exc}"
        for start in range(0, len(todo), self.scorer.batch_size):
            chunk = todo[start:start + self.scorer.batch_size]
            out = self.scorer.video_features([t for _, t in chunk]).numpy()
            for (i, _), f in zip(chunk, out):
                feats[i] = f
                if which == "ref":
                    ctx.cached(("viclip", "ref", str(batch.items[i].sample.reference_video)), lambda f=f: f)
        return feats, errors

    def _finish(self, batch: Batch, values: dict[int, float], errors: dict[int, str]) -> list[SampleScore]:
        out = []
        for i in range(len(batch)):
            ok = batch.has_pred_frames(i)
            out.append(SampleScore(None, ok, errors[i]) if i in errors else SampleScore(values[i], ok))
        return out


class ViCLIPT2V(_ViCLIPMetric):
    """ViCLIP-T2V: 100 * cosine between a prediction's video and its text (``sample.caption``); see module doc."""

    name = "viclip_t2v"

    def score(self, batch: Batch, ctx: ScoringContext) -> list[SampleScore]:
        n = len(batch)
        errors = {i: f"sample {it.sample.id} has no caption"
                  for i, it in enumerate(batch.items) if not it.sample.caption}
        feats, perr = self._features(batch, ctx, [i for i in range(n) if i not in errors], "pred")
        errors.update(perr)
        idx = [i for i in range(n) if i not in errors]
        captions = [batch.items[i].sample.caption or "" for i in idx]
        todo = sorted({c for c in captions if ("viclip", "text", c) not in ctx._cache})
        for c, f in zip(todo, self.scorer.text_features(todo).numpy() if todo else []):
            ctx.cached(("viclip", "text", c), lambda f=f: f)
        values = {i: float(100.0 * np.dot(feats[i].astype(np.float64), ctx._cache[("viclip", "text", c)]))
                  for i, c in zip(idx, captions)}
        return self._finish(batch, values, errors)


class ViCLIPV2V(_ViCLIPMetric):
    """ViCLIP-V2V: 100 * cosine between a prediction's video and the reference video; see module doc."""

    name = "viclip_v2v"

    def score(self, batch: Batch, ctx: ScoringContext) -> list[SampleScore]:
        n = len(batch)
        refs, errors = self._features(batch, ctx, list(range(n)), "ref")
        preds, perr = self._features(batch, ctx, [i for i in range(n) if i not in errors], "pred")
        errors.update(perr)
        values = {i: float(100.0 * np.dot(preds[i].astype(np.float64), refs[i])) for i in range(n) if i not in errors}
        return self._finish(batch, values, errors)


register_metric(ViCLIPT2V.name, ViCLIPT2V)
register_metric(ViCLIPV2V.name, ViCLIPV2V)
