"""MP4 encoding and decoding for animation renders, the SArena way, without OpenCV.

Everything goes through the ffmpeg binary that the ``imageio-ffmpeg`` wheel ships
(``imageio_ffmpeg.get_ffmpeg_exe()``), so no system ffmpeg and no OpenCV are needed.

What SArena does and what this module matches
---------------------------------------------
* Encoding (``utils/svg_animate.py``): moviepy ``ImageSequenceClip(..., fps=30)``
  ``.write_videofile(codec="libx264", preset="medium", ffmpeg_params=["-pix_fmt", "yuv420p"])``.
  moviepy pipes rgb24 frames to ffmpeg and sets no bitrate, so x264 runs at its default
  CRF 23. :func:`encode_mp4` pipes rgb24 frames to the same encoder with
  ``-preset medium -crf 23 -pix_fmt yuv420p``.
* Frame sampling (``metrics/video/CLIP_video.py: sample_frames_from_video``), used by every
  video metric (SSIM, PSNR, LPIPS, DINO, ViCLIP)::

      total = int(cv2.VideoCapture(p).get(cv2.CAP_PROP_FRAME_COUNT))
      indices = np.linspace(0, total - 1, n, dtype=int)     # truncation, not rounding
      for idx in indices: set(CAP_PROP_POS_FRAMES, idx); ok, frame = read(); keep if ok

  ``dtype=int`` truncates towards zero, so for 150 frames and n=8 the indices are
  ``[0, 21, 42, 63, 85, 106, 127, 149]`` (rounding would give 43, 64, 128 instead).
  :func:`sample_indices` reproduces that exactly. ``CAP_PROP_FRAME_COUNT`` is the
  container's frame count (``nb_frames`` of the MP4 stream), which :func:`frame_count`
  reads by counting the stream's packets without decoding. Indices that cannot be read are
  dropped, as OpenCV's ``if success`` does; duplicate indices (n > total) are kept.
* Channel order: OpenCV decodes to BGR. SArena's LPIPS, DINO and ViCLIP convert BGR->RGB
  before use. Its SSIM and PSNR call ``cv2.cvtColor(frame, COLOR_RGB2BGR)`` on the BGR frame
  (which swaps the channels back to RGB) and then compare; channel order does not change
  SSIM (mean over channels) or PSNR (MSE over all values) anyway. This module therefore
  returns RGB everywhere, and every SArena video metric sees the same numbers.
* Colour conversion: both sides use ffmpeg's swscale defaults (BT.601, limited range),
  which is what OpenCV's ffmpeg backend and moviepy's pipe use too.
* Failure substitute (``evaluate_animation.py``): ``example/pure_black.mp4`` and
  ``pure_black_128.mp4``; per SArena these are 149 black frames at 30 fps (448 and 128).
  :func:`black_video` returns such frames; :func:`write_black_mp4` encodes them.
"""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
from collections.abc import Iterable
from typing import Any

import numpy as np

SARENA_FPS = 30
SARENA_N_FRAMES = 150  # 5 s at 30 fps
SARENA_BLACK_N_FRAMES = 149
X264_PARAMS = ["-preset", "medium", "-crf", "23"]


class VideoError(RuntimeError):
    """ffmpeg could not encode or decode a video."""


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _as_rgb_uint8(frame: Any) -> np.ndarray:
    arr = np.asarray(frame)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ValueError(f"a frame must be (H, W, 3) RGB, got shape {arr.shape}")
    if arr.shape[2] == 4:
        arr = arr[:, :, :3]
    if arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.floating) and arr.size and arr.max() <= 1.0:
            arr = arr * 255.0
        arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr)


def encode_mp4(
    frames: np.ndarray | Iterable[np.ndarray],
    path: str | os.PathLike[str],
    fps: int = SARENA_FPS,
) -> pathlib.Path:
    """Encode RGB uint8 frames (N, H, W, 3) as an H.264 yuv420p MP4 at ``fps``.

    Height and width must be even (yuv420p); all frames must share one shape.
    Returns the path written.
    """
    import imageio_ffmpeg

    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    it = iter(frames)
    try:
        first = _as_rgb_uint8(next(it))
    except StopIteration:
        raise ValueError("encode_mp4 needs at least one frame") from None
    h, w = first.shape[:2]
    if h % 2 or w % 2:
        raise ValueError(f"H.264 yuv420p needs an even frame size, got {w}x{h}")
    writer = imageio_ffmpeg.write_frames(
        str(path),
        size=(w, h),
        fps=fps,
        codec="libx264",
        pix_fmt_in="rgb24",
        pix_fmt_out="yuv420p",
        quality=None,
        macro_block_size=1,
        ffmpeg_log_level="error",
        output_params=list(X264_PARAMS),
    )
    writer.send(None)  # start ffmpeg
    try:
        writer.send(first)
        for frame in it:
            arr = _as_rgb_uint8(frame)
            if arr.shape != first.shape:
                raise ValueError(f"frame shape {arr.shape} differs from the first {first.shape}")
            writer.send(arr)
    except BaseException:
        writer.close()
        path.unlink(missing_ok=True)
        raise
    writer.close()
    return path


def frame_count(path: str | os.PathLike[str]) -> int:
    """The video stream's frame count as stored in the container (OpenCV's CAP_PROP_FRAME_COUNT).

    Counts the packets of the first video stream without decoding them.
    """
    cmd = [
        _ffmpeg(), "-hide_banner", "-nostdin", "-v", "error", "-i", str(path),
        "-map", "0:v:0", "-c", "copy", "-f", "null", "-progress", "pipe:1", "-nostats", "-",
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, timeout=120)
    if proc.returncode != 0:
        raise VideoError(f"ffmpeg cannot read {path}: {proc.stderr.decode(errors='replace').strip()}")
    counts = re.findall(rb"^frame=(\d+)", proc.stdout, flags=re.M)
    if not counts:
        raise VideoError(f"ffmpeg reported no frame count for {path}")
    return int(counts[-1])


def _iter_frames(path: str | os.PathLike[str]):
    """Yield the decoded frames of the first video stream as (H, W, 3) uint8 RGB."""
    import imageio_ffmpeg

    p = pathlib.Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no video at {p}")
    gen = imageio_ffmpeg.read_frames(
        str(p), pix_fmt="rgb24", output_params=["-map", "0:v:0", "-fps_mode", "passthrough"]
    )
    try:
        meta = next(gen)
        w, h = meta["size"]
        for raw in gen:
            yield np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 3)
    finally:
        gen.close()


def read_frames(path: str | os.PathLike[str]) -> np.ndarray:
    """Decode every frame of a video: (N, H, W, 3) uint8 RGB."""
    frames = list(_iter_frames(path))
    if not frames:
        return np.zeros((0, 0, 0, 3), dtype=np.uint8)
    return np.stack(frames)


def sample_indices(total: int, n: int = 8) -> np.ndarray:
    """SArena's frame indices: ``np.linspace(0, total - 1, n, dtype=int)`` (truncated)."""
    if total <= 0 or n <= 0:
        return np.zeros((0,), dtype=int)
    return np.linspace(0, total - 1, n, dtype=int)


def sample_frames(path: str | os.PathLike[str], n: int = 8) -> np.ndarray:
    """The ``n`` frames SArena's metrics read from a video: (n, H, W, 3) uint8 RGB.

    Indices come from :func:`sample_indices` over the container frame count; frames that
    cannot be decoded are left out (so the result can be shorter than ``n``, or empty).
    """
    total = frame_count(path)
    idx = sample_indices(total, n)
    if idx.size == 0:
        return np.zeros((0, 0, 0, 3), dtype=np.uint8)
    wanted: dict[int, int] = {}
    for i in idx.tolist():
        wanted[i] = wanted.get(i, 0) + 1
    last = int(idx.max())
    picked: dict[int, np.ndarray] = {}
    for i, frame in enumerate(_iter_frames(path)):
        if i in wanted:
            picked[i] = frame.copy()
        if i >= last:
            break
    out = [picked[i] for i in idx.tolist() if i in picked]
    if not out:
        return np.zeros((0, 0, 0, 3), dtype=np.uint8)
    return np.stack(out)


def black_video(n_frames: int = SARENA_BLACK_N_FRAMES, size: int = 448) -> np.ndarray:
    """SArena's failure substitute: ``n_frames`` pure-black RGB frames of ``size`` x ``size``."""
    return np.zeros((n_frames, size, size, 3), dtype=np.uint8)


def write_black_mp4(
    path: str | os.PathLike[str],
    n_frames: int = SARENA_BLACK_N_FRAMES,
    size: int = 448,
    fps: int = SARENA_FPS,
) -> pathlib.Path:
    """Encode :func:`black_video` to ``path`` (149 frames at 30 fps by default)."""
    return encode_mp4(black_video(n_frames, size), path, fps=fps)
