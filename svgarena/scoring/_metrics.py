"""The metrics a scoring pass runs, as plug-ins over batches, and their registry.

A ``Metric`` is per-sample (``score(batch) -> one SampleScore per item``) or set-level
(``begin`` / ``add(batch)`` / ``finish() -> SetScore per view``). ``prepare`` loads what it needs
once per pass through the shared ``ScoringContext`` (networks are built once and shared between
metrics: dino and dino_video use one DINOv2, clip_t2i and clip_i2i one ViT-L/14); a missing
checkpoint raises ``CheckpointMissing`` there, and the pass skips the metric with one line.

Other modules add metrics with ``register_metric(name, factory)`` (a class or any callable that
returns a ``Metric``), e.g. ViCLIP and FVD.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from svgarena.scoring._batch import Batch
from svgarena.scoring._pixel import SIZE, psnr_batch, ssim_batch
from svgarena.scoring._scorer import SampleScore

_REF_CACHE_LIMIT = 100_000  # reference features kept across models of a pass (vectors, not images)


@dataclass(frozen=True)
class SetScore:
    """One view of a set-level metric over a (task, model, solver) group."""

    metric: str
    view: str  # "sarena" (black substitutes included) or "ok_only" (successful predictions only)
    value: float | None
    n_ref: int
    n_pred: int
    error: str | None = None


@dataclass
class ScoringContext:
    """Settings and shared state of one scoring pass."""

    device: str = "cpu"
    half: bool = False
    batch_size: int = 16
    weights_dir: Path | None = None
    suite_root: Path | None = None
    image_size: int = SIZE
    tokenizer: str | None = None
    _nets: dict[str, Any] = field(default_factory=dict)
    _cache: dict[tuple, np.ndarray] = field(default_factory=dict)
    _tokens: Any = None

    def net(self, key: str, build: Callable[[], Any]) -> Any:
        """Build a network once per pass; later calls (other metrics) reuse it."""
        if key not in self._nets:
            self._nets[key] = build()
        return self._nets[key]

    def checkpoint(self, name: str, metric: str) -> Path:
        from svgarena.scoring._weights import require

        return require(name, self.weights_dir, metrics=[metric])

    def cached(self, key: tuple, compute: Callable[[], np.ndarray]) -> np.ndarray:
        if key not in self._cache:
            if len(self._cache) >= _REF_CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = compute()
        return self._cache[key]

    def tokens(self) -> Any:
        if self._tokens is None:
            from svgarena.scoring._tokens import get_token_counter

            self._tokens = get_token_counter(self.tokenizer)
        return self._tokens


class Metric:
    """Base class: a per-sample metric unless ``set_level``."""

    name: str = ""
    checkpoints: tuple[str, ...] = ()
    set_level: bool = False
    neural: bool = False  # runs a network (scored in the end-of-run pass, not as samples finish)

    def prepare(self, ctx: ScoringContext) -> None:
        """Load networks and check checkpoints; raise ``CheckpointMissing`` to be skipped."""

    def score(self, batch: Batch, ctx: ScoringContext) -> list[SampleScore]:
        raise NotImplementedError

    # set-level metrics
    def begin(self, group_key: str, ctx: ScoringContext) -> None:
        raise NotImplementedError

    def add(self, batch: Batch, ctx: ScoringContext) -> None:
        raise NotImplementedError

    def finish(self, ctx: ScoringContext) -> list[SetScore]:
        raise NotImplementedError


METRICS: dict[str, Callable[[], Metric]] = {}


def register_metric(name: str, factory: Callable[[], Metric]) -> None:
    """Make ``name`` computable by scoring passes (``factory()`` returns a fresh ``Metric``)."""
    METRICS[name] = factory


def _chunks(indices: list[int], size: int) -> list[list[int]]:
    size = max(1, size)
    return [indices[i:i + size] for i in range(0, len(indices), size)]


def _finite(values: np.ndarray, oks: list[bool], errors: dict[int, str], n: int) -> list[SampleScore]:
    """Per-item scores from an array of values; NaN or an error leaves the value out (SArena skips it)."""
    out = []
    for i in range(n):
        if i in errors:
            out.append(SampleScore(None, oks[i], errors[i]))
        elif not math.isfinite(float(values[i])):
            out.append(SampleScore(None, oks[i], "the metric is NaN"))
        else:
            out.append(SampleScore(float(values[i]), oks[i]))
    return out


# -- pixel metrics, batched (the same functions the runner uses per sample) ------------------------

class _PixelImage(Metric):
    fn: Callable[[np.ndarray, np.ndarray], np.ndarray]

    def score(self, batch: Batch, ctx: ScoringContext) -> list[SampleScore]:
        n = len(batch)
        errors: dict[int, str] = {}
        pairs: list[tuple[int, np.ndarray, np.ndarray]] = []
        for i in range(n):
            try:
                pairs.append((i, batch.ref_image(i), batch.pred_image(i)))
            except Exception as exc:  # noqa: BLE001 - an unreadable file is that sample's error
                errors[i] = f"{type(exc).__name__}: {exc}"
        values = np.full(n, np.nan)
        if pairs:
            idx = [p[0] for p in pairs]
            values[idx] = type(self).fn(np.stack([p[1] for p in pairs]), np.stack([p[2] for p in pairs]))
        return _finite(values, [batch.has_pred(i) for i in range(n)], errors, n)


class SSIM(_PixelImage):
    """SSIM as SArena computes it (scikit-image, uniform 11x11 window); see ``_pixel``."""

    name = "ssim"
    fn = staticmethod(ssim_batch)


class PSNR(_PixelImage):
    """PSNR as SArena computes it (scikit-image on uint8, identical images score 100); see ``_pixel``."""

    name = "psnr"
    fn = staticmethod(psnr_batch)


class _PixelVideo(Metric):
    fn: Callable[[np.ndarray, np.ndarray], np.ndarray]

    def score(self, batch: Batch, ctx: ScoringContext) -> list[SampleScore]:
        out = []
        for i in range(len(batch)):
            ok = batch.has_pred_frames(i)
            try:
                ref, pred = batch.frame_pairs(i)
                value = float(type(self).fn(ref, pred).mean())
            except Exception as exc:  # noqa: BLE001
                out.append(SampleScore(None, ok, f"{type(exc).__name__}: {exc}"))
                continue
            out.append(SampleScore(None, ok, "the metric is NaN") if math.isnan(value) else SampleScore(value, ok))
        return out


class SSIMVideo(_PixelVideo):
    """Per-frame SSIM over the 8 sampled frames, averaged (SArena ``metrics/video/SSIM_video.py``)."""

    name = "ssim_video"
    fn = staticmethod(ssim_batch)


class PSNRVideo(_PixelVideo):
    """Per-frame PSNR over the 8 sampled frames, averaged (SArena ``metrics/video/PSNR_video.py``)."""

    name = "psnr_video"
    fn = staticmethod(psnr_batch)


class Accuracy(Metric):
    """Understanding accuracy x100: the answer's letter equals the target's (SArena ``evaluate_un.py``)."""

    name = "accuracy"

    def score(self, batch: Batch, ctx: ScoringContext) -> list[SampleScore]:
        out = []
        for item in batch.items:
            letter = (item.answer or "").strip()[:1] if item.ok else ""
            target = (item.sample.target or "").strip()[:1]
            out.append(SampleScore(100.0 if letter and letter == target else 0.0, item.ok and bool(letter)))
        return out


class TokenLength(Metric):
    """Token count of each valid prediction (SArena ``metrics/token_length.py``; valid predictions only)."""

    name = "token_length"

    def score(self, batch: Batch, ctx: ScoringContext) -> list[SampleScore]:
        out = []
        for item in batch.items:
            if not item.ok or item.svg is None:
                out.append(SampleScore(None, False))
                continue
            try:
                from svgarena.scoring._tokens import as_read_back

                # binary read + as_read_back: exactly the text-mode read of evaluate_gen.py:113-114
                text = as_read_back(Path(item.svg).read_bytes().decode("utf-8"))
                out.append(SampleScore(float(ctx.tokens().count(text)), True) if text else
                           SampleScore(None, False, "empty answer"))
            except Exception as exc:  # noqa: BLE001
                out.append(SampleScore(None, True, f"{type(exc).__name__}: {exc}"))
        return out


# -- neural per-sample metrics -----------------------------------------------------------------------

class _Embedding(Metric):
    """A metric that compares feature vectors of a network, with reference features cached per pass
    and the black substitute's features computed once."""

    neural = True
    net_key = ""

    def embed(self, ctx: ScoringContext, images: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def ref_features(self, batch: Batch, ctx: ScoringContext, indices: list[int]) -> tuple[dict[int, np.ndarray], dict[int, str]]:
        feats: dict[int, np.ndarray] = {}
        errors: dict[int, str] = {}
        todo = []
        for i in indices:
            key = (self.net_key, "ref", str(batch.items[i].sample.reference_image), batch.size)
            if key in ctx._cache:
                feats[i] = ctx._cache[key]
            else:
                todo.append(i)
        for chunk in _chunks(todo, ctx.batch_size):
            imgs, errs = batch.images("ref", chunk)
            errors.update(errs)
            good = [i for i in chunk if i not in errs]
            if good:
                out = self.embed(ctx, imgs)
                for i, f in zip(good, out):
                    feats[i] = ctx.cached((self.net_key, "ref", str(batch.items[i].sample.reference_image),
                                           batch.size), lambda f=f: f)
        return feats, errors

    def similarity(self, refs: np.ndarray, preds: np.ndarray) -> np.ndarray:
        """Per-pair score of stacked reference and prediction features."""
        raise NotImplementedError

    def score(self, batch: Batch, ctx: ScoringContext) -> list[SampleScore]:
        """Reference vs prediction (black substitute for failures) through ``similarity``."""
        n = len(batch)
        refs, errors = self.ref_features(batch, ctx, list(range(n)))
        preds, perr = self.pred_features(batch, ctx, [i for i in range(n) if i not in errors])
        errors.update(perr)
        values = np.full(n, np.nan)
        idx = [i for i in range(n) if i not in errors]
        if idx:
            values[idx] = self.similarity(np.stack([refs[i] for i in idx]), np.stack([preds[i] for i in idx]))
        return _finite(values, [batch.has_pred(i) for i in range(n)], errors, n)

    def pred_features(self, batch: Batch, ctx: ScoringContext, indices: list[int]) -> tuple[dict[int, np.ndarray], dict[int, str]]:
        feats: dict[int, np.ndarray] = {}
        errors: dict[int, str] = {}
        real = [i for i in indices if batch.has_pred(i)]
        black = [i for i in indices if not batch.has_pred(i)]
        if black:
            from svgarena.scoring._pixel import black_image

            bf = ctx.cached((self.net_key, "black", batch.size),
                            lambda: self.embed(ctx, black_image(batch.size)[None])[0])
            feats.update({i: bf for i in black})
        for chunk in _chunks(real, ctx.batch_size):
            imgs, errs = batch.images("pred", chunk)
            errors.update(errs)
            good = [i for i in chunk if i not in errs]
            if good:
                feats.update(zip(good, self.embed(ctx, imgs)))
        return feats, errors


def _dino_net(ctx: ScoringContext, metric: str) -> Any:
    from svgarena.scoring._dino import build_dino

    path = ctx.checkpoint("dinov2-base", metric)
    return ctx.net("dino", lambda: build_dino(path, ctx.device))


class Dino(_Embedding):
    """DINO score on images; see ``_dino`` for the reference computation and differences."""

    name = "dino"
    checkpoints = ("dinov2-base",)
    net_key = "dino"

    def prepare(self, ctx: ScoringContext) -> None:
        self.model = _dino_net(ctx, self.name)

    def embed(self, ctx: ScoringContext, images: np.ndarray) -> np.ndarray:
        from svgarena.scoring._dino import embed

        return embed(self.model, images, ctx.device, ctx.half)

    def similarity(self, refs: np.ndarray, preds: np.ndarray) -> np.ndarray:
        from svgarena.scoring._dino import dino_score

        return dino_score(refs, preds)


def _clip_l(ctx: ScoringContext, metric: str) -> Any:
    from svgarena.scoring._clip import build_clip

    path = ctx.checkpoint("clip-vit-l-14-openai", metric)
    return ctx.net("clip-l14", lambda: build_clip("ViT-L-14", path, ctx.device))


class ClipI2I(_Embedding):
    """CLIP-I2I: 100 * cos (unclamped, as SArena's CLIP_Score.py keeps it) between prediction and reference ViT-L/14 image embeddings; see ``_clip``."""

    name = "clip_i2i"
    checkpoints = ("clip-vit-l-14-openai",)
    net_key = "clip-l14"

    def prepare(self, ctx: ScoringContext) -> None:
        self.model = _clip_l(ctx, self.name)

    def embed(self, ctx: ScoringContext, images: np.ndarray) -> np.ndarray:
        from svgarena.scoring._clip import encode_images

        return encode_images(self.model, images, ctx.device, ctx.half)

    def similarity(self, refs: np.ndarray, preds: np.ndarray) -> np.ndarray:
        from svgarena.scoring._clip import clip_score

        return clip_score(preds, refs)


class ClipT2I(ClipI2I):
    """CLIP-T2I: 100 * cos (unclamped) between the prediction's ViT-L/14 image embedding and the caption's
    (``sample.caption``) text embedding; see ``_clip``."""

    name = "clip_t2i"

    def score(self, batch: Batch, ctx: ScoringContext) -> list[SampleScore]:
        from svgarena.scoring._clip import clip_score, encode_texts

        n = len(batch)
        errors = {i: f"sample {it.sample.id} has no caption" for i, it in enumerate(batch.items) if not it.sample.caption}
        preds, perr = self.pred_features(batch, ctx, [i for i in range(n) if i not in errors])
        errors.update(perr)
        idx = [i for i in range(n) if i not in errors]
        values = np.full(n, np.nan)
        if idx:
            captions = [batch.items[i].sample.caption.strip() for i in idx]  # type: ignore[union-attr]
            todo = sorted({c for c in captions if (self.net_key, "text", c) not in ctx._cache})
            for chunk in [todo[k:k + ctx.batch_size] for k in range(0, len(todo), max(1, ctx.batch_size))]:
                for c, f in zip(chunk, encode_texts(self.model, chunk, ctx.device, ctx.half)):
                    ctx.cached((self.net_key, "text", c), lambda f=f: f)
            texts = np.stack([ctx._cache[(self.net_key, "text", c)] for c in captions])
            values[idx] = clip_score(np.stack([preds[i] for i in idx]), texts)
        return _finite(values, [batch.has_pred(i) for i in range(n)], errors, n)


def _lpips_net(ctx: ScoringContext, metric: str) -> Any:
    from svgarena.scoring._lpips import build_lpips

    vgg = ctx.checkpoint("vgg16-imagenet", metric)
    lin = ctx.checkpoint("lpips-vgg-lin", metric)
    return ctx.net("lpips", lambda: build_lpips(vgg, lin, ctx.device))


def _lpips_step(ctx: ScoringContext) -> int:
    """VGG activations at 448 px are ~0.2 GB per image pair: small sub-batches on CPU."""
    return ctx.batch_size if ctx.device.startswith("cuda") else min(ctx.batch_size, 4)


class LPIPS(Metric):
    """LPIPS (VGG, ImageNet-normalised input as SArena feeds it); see ``_lpips``."""

    name = "lpips"
    checkpoints = ("vgg16-imagenet", "lpips-vgg-lin")
    neural = True

    def prepare(self, ctx: ScoringContext) -> None:
        self.model = _lpips_net(ctx, self.name)

    def _black(self, ctx: ScoringContext, size: int) -> list:
        from svgarena.scoring._lpips import black_features

        key = ("lpips", "black", size)
        if key not in ctx._nets:
            ctx._nets[key] = black_features(self.model, (size, size), ctx.device, ctx.half)
        return ctx._nets[key]

    def pairs(self, ctx: ScoringContext, refs: np.ndarray, preds: np.ndarray | None) -> np.ndarray:
        from svgarena.scoring._lpips import lpips_pairs

        black = self._black(ctx, refs.shape[1]) if preds is None else None
        return lpips_pairs(self.model, refs, preds, ctx.device, ctx.half, black_feats=black)

    def score(self, batch: Batch, ctx: ScoringContext) -> list[SampleScore]:
        n = len(batch)
        values = np.full(n, np.nan)
        errors: dict[int, str] = {}
        for chunk in _chunks(list(range(n)), _lpips_step(ctx)):
            refs, rerr = batch.images("ref", chunk)
            errors.update(rerr)
            good = [i for i in chunk if i not in rerr]
            pos = {i: p for p, i in enumerate(good)}
            real = [i for i in good if batch.has_pred(i)]
            black = [i for i in good if not batch.has_pred(i)]
            if black:
                values[black] = self.pairs(ctx, refs[[pos[i] for i in black]], None)
            if real:
                preds, perr = batch.images("pred", real)
                errors.update(perr)
                ok = [i for i in real if i not in perr]
                if ok:
                    values[ok] = self.pairs(ctx, refs[[pos[i] for i in ok]], preds)
        return _finite(values, [batch.has_pred(i) for i in range(n)], errors, n)


class _VideoFrames(Metric):
    """Per-frame neural metric over the 8 sampled frames of each video, averaged per sample."""

    neural = True

    def frame_values(self, ctx: ScoringContext, ref: np.ndarray, pred: np.ndarray, black: bool) -> np.ndarray:
        raise NotImplementedError

    def score(self, batch: Batch, ctx: ScoringContext) -> list[SampleScore]:
        out = []
        for i in range(len(batch)):
            ok = batch.has_pred_frames(i)
            try:
                ref, pred = batch.frame_pairs(i)
                value = float(np.mean(self.frame_values(ctx, ref, pred, not ok)))
            except Exception as exc:  # noqa: BLE001
                out.append(SampleScore(None, ok, f"{type(exc).__name__}: {exc}"))
                continue
            out.append(SampleScore(None, ok, "the metric is NaN") if not math.isfinite(value) else SampleScore(value, ok))
        return out


class DinoVideo(_VideoFrames):
    """DINO per frame, averaged over the 8 frames (SArena ``metrics/video/DINO_video.py``); see ``_dino``."""

    name = "dino_video"
    checkpoints = ("dinov2-base",)

    def prepare(self, ctx: ScoringContext) -> None:
        self.model = _dino_net(ctx, self.name)

    def frame_values(self, ctx: ScoringContext, ref: np.ndarray, pred: np.ndarray, black: bool) -> np.ndarray:
        from svgarena.scoring._dino import dino_score, embed

        if black:
            feats = np.concatenate([embed(self.model, ref, ctx.device, ctx.half),
                                    embed(self.model, pred[:1], ctx.device, ctx.half)])
            return dino_score(feats[:-1], np.repeat(feats[-1:], len(ref), axis=0))
        feats = embed(self.model, np.concatenate([ref, pred]), ctx.device, ctx.half)
        return dino_score(feats[:len(ref)], feats[len(ref):])


class LPIPSVideo(_VideoFrames, LPIPS):
    """LPIPS per frame pair, averaged over the 8 frames (SArena ``metrics/video/LPIPS_video.py``); see ``_lpips``."""

    name = "lpips_video"

    def frame_values(self, ctx: ScoringContext, ref: np.ndarray, pred: np.ndarray, black: bool) -> np.ndarray:
        step = _lpips_step(ctx)
        parts = [self.pairs(ctx, ref[k:k + step], None if black else pred[k:k + step])
                 for k in range(0, len(ref), step)]
        return np.concatenate(parts)

    score = _VideoFrames.score


# -- set-level metrics ---------------------------------------------------------------------------------

class _Frechet(Metric):
    """Frechet distance of reference features vs prediction features over a whole task."""

    set_level = True
    neural = True
    dim = 0
    net_key = ""

    def features(self, ctx: ScoringContext, images: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def begin(self, group_key: str, ctx: ScoringContext) -> None:
        from svgarena.scoring._frechet import FeatureStats

        self.group_key = group_key
        cached = ctx._nets.get((self.net_key, "refstats", group_key))
        self.ref = cached.copy() if cached is not None else FeatureStats(self.dim)
        self.ref_done = cached is not None
        self.all = FeatureStats(self.dim)
        self.ok = FeatureStats(self.dim)
        self.n_ref_errors = 0
        self.n_pred_errors = 0
        self.size = None

    def add(self, batch: Batch, ctx: ScoringContext) -> None:
        self.size = batch.size
        n = len(batch)
        for chunk in _chunks(list(range(n)), ctx.batch_size):
            if not self.ref_done:
                refs, rerr = batch.images("ref", chunk)
                self.n_ref_errors += len(rerr)
                if len(refs):
                    self.ref.add(self.features(ctx, refs))
            real = [i for i in chunk if batch.has_pred(i)]
            black = len(chunk) - len(real)
            if real:
                preds, perr = batch.images("pred", real)
                self.n_pred_errors += len(perr)
                if len(preds):
                    f = self.features(ctx, preds)
                    self.all.add(f)
                    self.ok.add(f)
            if black:
                from svgarena.scoring._pixel import black_image

                bf = ctx.cached((self.net_key, "black", batch.size),
                                lambda: self.features(ctx, black_image(batch.size)[None])[0])
                self.all.add_repeated(bf, black)

    def finish(self, ctx: ScoringContext) -> list[SetScore]:
        from svgarena.scoring._frechet import frechet_distance

        if not self.ref_done and self.ref.n:
            ctx._nets[(self.net_key, "refstats", self.group_key)] = self.ref.copy()
        out = []
        for view, preds in (("sarena", self.all), ("ok_only", self.ok)):
            note = None
            if self.n_ref_errors or self.n_pred_errors:
                note = f"{self.n_ref_errors} reference and {self.n_pred_errors} prediction images unreadable, left out"
            try:
                value = frechet_distance(self.ref, preds)
            except Exception as exc:  # noqa: BLE001
                out.append(SetScore(self.name, view, None, self.ref.n, preds.n, f"{type(exc).__name__}: {exc}"))
                continue
            out.append(SetScore(self.name, view, value, self.ref.n, preds.n, note))
        return out


class FID(_Frechet):
    """FID: pytorch-fid InceptionV3 pool3 (2048-d) features of all references vs all predictions
    (black substitutes included in the SArena view; successful predictions only in the other,
    against the same full reference set). Reference: SArena ``metrics/FID.py``; see ``_inception``
    and ``_frechet`` for the network and the distance."""

    name = "fid"
    checkpoints = ("inception-fid",)
    dim = 2048
    net_key = "inception"

    def prepare(self, ctx: ScoringContext) -> None:
        from svgarena.scoring._inception import build_inception

        path = ctx.checkpoint("inception-fid", self.name)
        self.model = ctx.net("inception", lambda: build_inception(path, ctx.device))

    def features(self, ctx: ScoringContext, images: np.ndarray) -> np.ndarray:
        from svgarena.scoring._inception import inception_features

        return inception_features(self.model, images, ctx.device, ctx.half)


class FIDC(_Frechet):
    """FID-C: the Frechet distance on OpenAI CLIP ViT-B/32 image features (512-d), as SArena's
    ``metrics/FID.py`` with ``model_name='ViT-B/32'``; views as for FID; see ``_clip``."""

    name = "fid_c"
    checkpoints = ("clip-vit-b-32-openai",)
    dim = 512
    net_key = "clip-b32"

    def prepare(self, ctx: ScoringContext) -> None:
        from svgarena.scoring._clip import build_clip

        path = ctx.checkpoint("clip-vit-b-32-openai", self.name)
        self.model = ctx.net("clip-b32", lambda: build_clip("ViT-B-32", path, ctx.device))

    def features(self, ctx: ScoringContext, images: np.ndarray) -> np.ndarray:
        from svgarena.scoring._clip import encode_images

        return encode_images(self.model, images, ctx.device, ctx.half)


for _cls in (SSIM, PSNR, SSIMVideo, PSNRVideo, Accuracy, TokenLength, Dino, ClipI2I, ClipT2I, LPIPS,
             DinoVideo, LPIPSVideo, FID, FIDC):
    register_metric(_cls.name, _cls)


def group_key(sample_ids: list[str]) -> str:
    """A key for a set of references: groups with the same samples share reference statistics."""
    return hashlib.sha256("\n".join(sorted(sample_ids)).encode()).hexdigest()[:16]
