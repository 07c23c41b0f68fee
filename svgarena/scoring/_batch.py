"""What a scoring pass reads: one stored answer per item, loaded a batch at a time.

A ``ScoringItem`` names files only (the render, videos, metric frames of one trajectory); a
``Batch`` loads them on first use and keeps them only while the batch is scored, so a pass over
10,000 samples holds one batch of images at a time. Failed outputs are never loaded: metrics use
SArena's black substitute for them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from svgarena.scoring._pixel import SIZE, black_image, load_image
from svgarena.tasks._types import Sample, Task

VIDEO_FRAMES = 8


@dataclass(frozen=True)
class ScoringItem:
    """One trajectory's final answer as stored: outcome, answer and media file paths."""

    trajectory_id: int
    sample: Sample
    ok: bool  # the final outcome was ``ok``
    answer: str | None = None  # the choice letter (understanding)
    svg: Path | None = None  # the extracted SVG
    image: Path | None = None  # PNG render of a static answer
    video: Path | None = None  # 448 MP4 of an animated answer (sarena-exact mode)
    video_128: Path | None = None  # 128 MP4 (for FVD)
    frames: Path | None = None  # PNG strip of the metric frames (fast animation mode)
    have: frozenset[str] = frozenset()  # metrics already stored for this item


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def read_frame_strip(path: Path) -> np.ndarray:
    """(n, H, H, 3) frames from a PNG strip of square frames laid side by side."""
    from PIL import Image

    with Image.open(path) as im:
        strip = np.asarray(im.convert("RGB"), dtype=np.uint8)
    h, w, _ = strip.shape
    if h == 0 or w % h:
        raise ValueError(f"{path}: not a strip of square frames ({w}x{h})")
    return np.stack(np.split(strip, w // h, axis=1))


@dataclass
class Batch:
    """Items of one task scored together; images and frames are loaded lazily and cached per batch."""

    task: Task
    items: list[ScoringItem]
    size: int = SIZE
    _refs: dict[int, Any] = field(default_factory=dict)
    _preds: dict[int, Any] = field(default_factory=dict)
    _ref_frames: dict[int, Any] = field(default_factory=dict)
    _pred_frames: dict[int, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.items)

    @staticmethod
    def _cached(store: dict[int, Any], i: int, load: Callable[[], Any]) -> Any:
        if i not in store:
            try:
                store[i] = load()
            except Exception as exc:  # noqa: BLE001 - a file that cannot be read is that sample's error
                store[i] = exc
        value = store[i]
        if isinstance(value, BaseException):
            raise value
        return value

    # -- images ---------------------------------------------------------------------------------
    def ref_image(self, i: int) -> np.ndarray:
        sample = self.items[i].sample

        def load() -> np.ndarray:
            if sample.reference_image is None:
                raise ValueError(f"sample {sample.id} has no reference image")
            return load_image(sample.reference_image, self.size)

        return self._cached(self._refs, i, load)

    def has_pred(self, i: int) -> bool:
        """Whether the item has a real prediction to load (else it is scored as black)."""
        item = self.items[i]
        return item.ok and item.image is not None

    def pred_image(self, i: int) -> np.ndarray:
        """The render, or SArena's black substitute for a failed output."""
        if not self.has_pred(i):
            return black_image(self.size)
        return self._cached(self._preds, i, lambda: load_image(self.items[i].image, self.size))

    def images(self, which: str, indices: list[int]) -> tuple[np.ndarray, dict[int, str]]:
        """Stack ``ref`` or ``pred`` images of ``indices``; unreadable ones come back as errors."""
        get = self.ref_image if which == "ref" else self.pred_image
        out, errors = [], {}
        for i in indices:
            try:
                out.append(get(i))
            except Exception as exc:  # noqa: BLE001
                errors[i] = _error(exc)
        arr = np.stack(out) if out else np.zeros((0, self.size, self.size, 3), dtype=np.uint8)
        return arr, errors

    # -- video frames ---------------------------------------------------------------------------
    def ref_frames(self, i: int) -> np.ndarray:
        sample = self.items[i].sample

        def load() -> np.ndarray:
            if sample.reference_video is None:
                raise ValueError(f"sample {sample.id} has no reference video")
            from svgarena.sandboxes._video import sample_frames

            frames = sample_frames(Path(sample.reference_video), VIDEO_FRAMES)
            if frames.ndim != 4 or len(frames) == 0:
                raise ValueError(f"no frames could be read from {sample.reference_video}")
            return _fit(frames, self.size)

        return self._cached(self._ref_frames, i, load)

    def has_pred_frames(self, i: int) -> bool:
        item = self.items[i]
        return item.ok and (item.frames is not None or item.video is not None)

    def pred_frames(self, i: int) -> np.ndarray:
        """Prediction frames paired with the reference's (same count; black for a failed output)."""
        ref = self.ref_frames(i)
        if not self.has_pred_frames(i):
            return np.zeros_like(ref)
        item = self.items[i]

        def load() -> np.ndarray:
            if item.frames is not None:
                frames = read_frame_strip(item.frames)
            else:
                from svgarena.sandboxes._video import sample_frames

                frames = sample_frames(item.video, VIDEO_FRAMES)
            if frames.ndim != 4 or len(frames) == 0:
                raise ValueError("the prediction has no frames")
            return _fit(frames, self.size)

        frames = self._cached(self._pred_frames, i, load)
        return frames

    def frame_pairs(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Reference and prediction frames zipped to equal length (SArena: the shorter wins)."""
        ref, pred = self.ref_frames(i), self.pred_frames(i)
        n = min(len(ref), len(pred))
        if n == 0:
            raise ValueError("the prediction has no frames")
        return ref[:n], pred[:n]


def _fit(frames: np.ndarray, size: int) -> np.ndarray:
    """Frames at ``size`` x ``size`` (resized only when a video has another size)."""
    if frames.shape[1:3] == (size, size):
        return frames
    from PIL import Image

    return np.stack([np.asarray(Image.fromarray(f).resize((size, size), Image.Resampling.BICUBIC)) for f in frames])
