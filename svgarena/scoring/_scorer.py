"""Per-sample scoring the SArena way, with both of svgarena's views.

For each metric a sample gets a ``SampleScore``: ``value`` is the SArena-compatible number (a
missing or unrenderable output is scored as a pure-black 448x448 image, or black frames,
against the reference) and ``ok`` says whether the sample had a successful output, so the
success-only view can average over those alone. A metric that raises or gives NaN has no value
for that sample (SArena skips it in the mean) and says why in ``error``.

This module computes the pixel metrics, accuracy and token length. Neural and per-set metrics
(dino, lpips, clip_*, fid, fvd, viclip_*) are left out of the result, not faked.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from svgarena.outcome import Outcome
from svgarena.scoring._pixel import SIZE, black_image, load_image, psnr, psnr_batch, ssim, ssim_batch
from svgarena.scoring._tokens import TokenCounter, as_read_back, get_token_counter
from svgarena.tasks._types import Sample, Task

VIDEO_FRAMES = 8  # SArena reads 8 frames at linspace(0, N - 1, 8) from each 448 video
COMPUTED_METRICS: tuple[str, ...] = ("ssim", "psnr", "accuracy", "token_length", "ssim_video", "psnr_video")


@dataclass(frozen=True)
class SampleScore:
    """One metric on one sample: the SArena value (or None), whether the output succeeded, and why not."""

    value: float | None
    ok: bool
    error: str | None = None


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _guarded(ok: bool, fn: Callable[[], float]) -> SampleScore:
    """Run a metric; an exception or NaN leaves the value out, as SArena skips such samples."""
    try:
        value = float(fn())
    except Exception as exc:  # noqa: BLE001 - a metric failure is data, not a crash
        return SampleScore(None, ok, _error(exc))
    if math.isnan(value):
        return SampleScore(None, ok, "the metric is NaN")
    return SampleScore(value, ok)


def _reference_frames(sample: Sample) -> np.ndarray:
    if sample.reference_video is None:
        raise ValueError(f"sample {sample.id} has no reference video")
    from svgarena.sandboxes._video import sample_frames

    return sample_frames(Path(sample.reference_video), VIDEO_FRAMES)


def _paired_frames(ref: np.ndarray, pred: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Reference and prediction frames as equal-length stacks (SArena zips them: shortest wins)."""
    ref = np.asarray(ref)
    if ref.ndim != 4 or len(ref) == 0:
        raise ValueError(f"no reference frames could be read (got shape {ref.shape})")
    pred = np.zeros_like(ref) if pred is None else np.asarray(pred)
    n = min(len(ref), len(pred))
    if n == 0:
        raise ValueError("the prediction has no frames")
    return ref[:n], pred[:n]


def score_sample(
    task: Task,
    sample: Sample,
    outcome: Outcome,
    answer: str | None,
    image: np.ndarray | None = None,
    frames: np.ndarray | None = None,
    tokens: TokenCounter | None = None,
    *,
    reference_image: np.ndarray | None = None,
    reference_frames: np.ndarray | None = None,
) -> dict[str, SampleScore]:
    """Score one sample on the task's metrics that this module computes.

    ``answer`` is the extracted SVG (or choice letter), ``image`` the (448, 448, 3) render of
    a static SVG, ``frames`` the (8, H, W, 3) frames sampled from an animated SVG's video.
    References are read from the sample's paths unless given as arrays.
    """
    ok = outcome is Outcome.OK
    wanted = [m for m in task.metrics if m in COMPUTED_METRICS]
    scores: dict[str, SampleScore] = {}

    if "ssim" in wanted or "psnr" in wanted:
        has_image = ok and image is not None
        ref_error: str | None = None
        try:
            ref = reference_image if reference_image is not None else _load_reference(sample)
        except Exception as exc:  # noqa: BLE001
            ref, ref_error = None, _error(exc)
        pred = image if has_image else black_image(ref.shape[0] if ref is not None else SIZE)
        for name, fn in (("ssim", ssim), ("psnr", psnr)):
            if name in wanted:
                scores[name] = (SampleScore(None, has_image, ref_error) if ref is None
                                else _guarded(has_image, lambda fn=fn: fn(ref, pred)))

    if "ssim_video" in wanted or "psnr_video" in wanted:
        has_frames = ok and frames is not None
        pair_error: str | None = None
        try:
            ref_f = reference_frames if reference_frames is not None else _reference_frames(sample)
            pair = _paired_frames(ref_f, frames if has_frames else None)
        except Exception as exc:  # noqa: BLE001
            pair, pair_error = None, _error(exc)
        for name, fn in (("ssim_video", ssim_batch), ("psnr_video", psnr_batch)):
            if name in wanted:
                scores[name] = (SampleScore(None, has_frames, pair_error) if pair is None
                                else _guarded(has_frames, lambda fn=fn: fn(*pair).mean()))

    if "accuracy" in wanted:
        letter = (answer or "").strip()[:1]
        target = (sample.target or "").strip()[:1]
        correct = ok and bool(letter) and letter == target
        scores["accuracy"] = SampleScore(100.0 if correct else 0.0, ok and bool(letter))

    if "token_length" in wanted:
        if ok and answer:
            counter = tokens or get_token_counter()
            scores["token_length"] = _guarded(True, lambda: counter.count(as_read_back(answer)))
        else:
            scores["token_length"] = SampleScore(None, False, None if not ok else "empty answer")
    return scores


def _load_reference(sample: Sample) -> np.ndarray:
    if sample.reference_image is None:
        raise ValueError(f"sample {sample.id} has no reference image")
    return load_image(sample.reference_image)


def _mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def aggregate(scores: Iterable[Mapping[str, SampleScore]]) -> dict[str, dict]:
    """Both views of each metric over samples.

    ``sarena``: mean over every sample with a value (failures count, scored against black);
    ``ok_only``: mean over the successful samples; ``n`` / ``n_ok``: how many went into each;
    ``n_error``: samples whose metric raised or was NaN (left out of both, as SArena does).
    """
    per_metric: dict[str, list[SampleScore]] = {}
    for sample_scores in scores:
        for name, score in sample_scores.items():
            per_metric.setdefault(name, []).append(score)
    out: dict[str, dict] = {}
    for name, items in per_metric.items():
        all_values = [s.value for s in items if s.value is not None]
        ok_values = [s.value for s in items if s.ok and s.value is not None]
        out[name] = {
            "sarena": _mean(all_values),
            "ok_only": _mean(ok_values),
            "n": len(all_values),
            "n_ok": len(ok_values),
            "n_error": sum(1 for s in items if s.error is not None and s.value is None),
        }
    return out
