"""SSIM and PSNR exactly as SArena computes them, vectorised over channels and batches.

SArena calls scikit-image per pair: ``structural_similarity(ref, pred, win_size=11, sigma=1.5,
channel_axis=-1)`` (no ``gaussian_weights``, so ``sigma`` is ignored and the window is a uniform
11x11 box; ``data_range`` = 255 from uint8) and ``peak_signal_noise_ratio(ref, pred)`` with an
infinite PSNR scored as 100. These functions give the same numbers (to ~1e-12) without
scikit-image's per-channel Python loop.

scikit-image averages the SSIM map only after cropping (win_size - 1) / 2 = 5 pixels off every
border, and every window centred in that interior lies wholly inside the image. So the border
padding of its filter never reaches the mean, and the interior window sums can be taken exactly
in int32 from the integer planes.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

SIZE = 448
WIN = 11
_K1, _K2 = 0.01, 0.03
_RANGE = 255.0  # scikit-image's data_range for uint8
PSNR_IDENTICAL = 100.0  # what SArena scores an infinite PSNR (identical images) as


def _check_pair(refs: np.ndarray, preds: np.ndarray, ndim: int, what: str) -> None:
    if refs.shape != preds.shape:
        raise ValueError(f"{what}: reference shape {refs.shape} and prediction shape {preds.shape} differ")
    if refs.ndim != ndim or refs.shape[-1] != 3:
        shape = "(H, W, 3)" if ndim == 3 else "(N, H, W, 3)"
        raise ValueError(f"{what}: expected RGB arrays of shape {shape}, got {refs.shape}")
    if refs.dtype != np.uint8 or preds.dtype != np.uint8:
        raise ValueError(f"{what}: expected uint8 images, got {refs.dtype} and {preds.dtype}")


def _box(p: np.ndarray, axis: int) -> np.ndarray:
    """Sums of 11 consecutive entries along ``axis`` (valid part only), by doubling: 2, 4, 8, 10, 11."""
    n = p.shape[axis]
    m = n - WIN + 1

    def at(a: np.ndarray, start: int, stop: int) -> np.ndarray:
        return a[(slice(None),) * axis + (slice(start, stop),)]

    s2 = at(p, 0, n - 1) + at(p, 1, n)
    s4 = at(s2, 0, n - 3) + at(s2, 2, n - 1)
    s8 = at(s4, 0, n - 7) + at(s4, 4, n - 3)
    out = at(s8, 0, m) + at(s2, 8, 8 + m)
    out += at(p, 10, 10 + m)
    return out


def _window_sums(planes: np.ndarray) -> np.ndarray:
    """Exact sums over every 11x11 window wholly inside the image; planes is (..., H, W)."""
    return _box(_box(planes, planes.ndim - 2), planes.ndim - 1)


_STRIP = 64  # output rows per step: the int32/float64 temporaries of a strip stay in cache
_C1 = (_K1 * _RANGE) ** 2 * (WIN * WIN) ** 2
_C2 = (_K2 * _RANGE) ** 2 * (WIN * WIN) * (WIN * WIN - 1)


def _ssim_image(x: np.ndarray, y: np.ndarray) -> float:
    """SSIM of one (H, W, 3) uint8 pair, computing only the windows that see a differing pixel.

    A window in which both images are identical scores exactly 1 (mean, variance and covariance
    coincide, so numerator and denominator are equal); scikit-image's value there differs from 1
    only by its running-sum rounding (~1e-16). So the interior windows are split into those that
    touch the bounding box of the differing pixels, computed exactly below, and the rest, which
    add 1 each. Renders of a reference and a prediction share wide margins, which this skips.
    """
    h, w, _ = x.shape
    rows, cols = h - WIN + 1, w - WIN + 1
    diff = x != y
    diff_rows = np.flatnonzero(diff.any(axis=(1, 2)))
    if diff_rows.size == 0:
        return 1.0
    diff_cols = np.flatnonzero(diff[diff_rows[0]:diff_rows[-1] + 1].any(axis=(0, 2)))
    # Window (r, c) covers rows r..r+WIN-1: it sees a differing pixel only if r is in this range.
    r0, r1 = max(0, diff_rows[0] - WIN + 1), min(rows - 1, diff_rows[-1])
    c0, c1 = max(0, diff_cols[0] - WIN + 1), min(cols - 1, diff_cols[-1])
    sub_rows, sub_cols = r1 - r0 + 1, c1 - c0 + 1
    sub = _ssim_sums(x[r0:r1 + WIN, c0:c1 + WIN], y[r0:r1 + WIN, c0:c1 + WIN])
    same = rows * cols - sub_rows * sub_cols
    return float(((sub + same) / (rows * cols)).mean())


def _ssim_sums(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-channel sums of local SSIM over every interior window of an (H, W, 3) uint8 pair,
    from exact integer window sums, a strip of rows at a time.

    With N = 121 and window sums Sx, Sy, Sxx, Syy, Sxy, scikit-image's
    ux = Sx/N, vx = (Sxx/N - ux**2) * N/(N-1), vxy likewise, and
    S = (2 ux uy + C1)(2 vxy + C2) / ((ux**2 + uy**2 + C1)(vx + vy + C2))
    equals the ratio below after multiplying through by N**2 and N(N-1). Sxx and Syy only
    occur as a sum, so four planes are filtered, not five. Every integer term is exact in
    float64, so the result differs from scikit-image's only by scikit-image's own rounding.
    Working strip by strip keeps every temporary in cache, which is most of the speed.
    """
    h, w, _ = x.shape
    xp, yp = x.transpose(2, 0, 1), y.transpose(2, 0, 1)  # (3, H, W) views: filter along contiguous axes
    rows = h - WIN + 1
    n = float(WIN * WIN)
    total = np.zeros(3, dtype=np.float64)
    for r0 in range(0, rows, _STRIP):
        r1 = min(r0 + _STRIP, rows)
        xs = xp[:, r0:r1 + WIN - 1].astype(np.int32)
        ys = yp[:, r0:r1 + WIN - 1].astype(np.int32)
        planes = np.empty((4,) + xs.shape, dtype=np.int32)
        planes[0] = xs
        planes[1] = ys
        np.multiply(xs, xs, out=planes[2])
        planes[2] += ys * ys  # x**2 + y**2 <= 2 * 255**2; its window sum <= 121 * 130050 fits int32
        np.multiply(xs, ys, out=planes[3])
        sx, sy, ss, sxy = _window_sums(planes).astype(np.float64)
        p = sx * sy
        sx *= sx
        sy *= sy
        sx += sy  # Sx**2 + Sy**2
        num = 2 * p
        num += _C1
        sxy *= n
        sxy -= p
        sxy *= 2
        sxy += _C2
        num *= sxy  # (2 Sx Sy + c1)(2 (N Sxy - Sx Sy) + c2)
        ss *= n
        ss -= sx
        ss += _C2
        sx += _C1
        sx *= ss  # (Sx**2 + Sy**2 + c1)(N (Sxx + Syy) - Sx**2 - Sy**2 + c2)
        num /= sx
        total += num.sum(axis=(1, 2))
    return total  # the caller takes the mean per channel over the interior, then over channels


_POOL: ThreadPoolExecutor | None = None


def _map(fn, refs: np.ndarray, preds: np.ndarray) -> np.ndarray:
    """``fn`` over pairs, in threads when there are several (numpy releases the GIL in its loops)."""
    global _POOL
    n = len(refs)
    if n <= 1 or (os.cpu_count() or 1) <= 1:
        return np.array([fn(refs[i], preds[i]) for i in range(n)], dtype=np.float64)
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=os.cpu_count(), thread_name_prefix="svgarena-pixel")
    return np.fromiter(_POOL.map(fn, refs, preds), dtype=np.float64, count=n)


def ssim_batch(refs: np.ndarray, preds: np.ndarray) -> np.ndarray:
    """SArena SSIM for each pair of an (N, H, W, 3) uint8 stack; returns shape (N,)."""
    refs, preds = np.asarray(refs), np.asarray(preds)
    _check_pair(refs, preds, 4, "ssim")
    _, h, w, _ = refs.shape
    if h < WIN or w < WIN:
        raise ValueError(f"ssim: images must be at least {WIN}x{WIN}, got {h}x{w}")
    return _map(_ssim_image, refs, preds)


def ssim(ref: np.ndarray, pred: np.ndarray) -> float:
    """SArena SSIM of one (H, W, 3) uint8 pair (scikit-image, uniform 11x11 window)."""
    ref, pred = np.asarray(ref), np.asarray(pred)
    _check_pair(ref, pred, 3, "ssim")
    return float(ssim_batch(ref[None], pred[None])[0])


def psnr_batch(refs: np.ndarray, preds: np.ndarray) -> np.ndarray:
    """SArena PSNR for each pair of an (N, H, W, 3) uint8 stack; identical pairs score 100."""
    refs, preds = np.asarray(refs), np.asarray(preds)
    _check_pair(refs, preds, 4, "psnr")
    return _map(_psnr_image, refs, preds)


def _psnr_image(ref: np.ndarray, pred: np.ndarray) -> float:
    # Exact integer sum of squares; scikit-image's float64 sum of the same integers is exact too.
    diff = np.subtract(ref.reshape(-1), pred.reshape(-1), dtype=np.int16)
    sse = float(np.einsum("i,i->", diff, diff, dtype=np.int64))
    if sse == 0:
        return PSNR_IDENTICAL
    return float(10 * np.log10((_RANGE**2) / (sse / diff.size)))


def psnr(ref: np.ndarray, pred: np.ndarray) -> float:
    """SArena PSNR of one (H, W, 3) uint8 pair; identical images score 100."""
    ref, pred = np.asarray(ref), np.asarray(pred)
    _check_pair(ref, pred, 3, "psnr")
    return float(psnr_batch(ref[None], pred[None])[0])


def black_image(size: int = SIZE) -> np.ndarray:
    """The pure-black RGB image SArena scores a missing or unrenderable output as."""
    return np.zeros((size, size, 3), dtype=np.uint8)


def load_image(path: str | Path, size: int = SIZE) -> np.ndarray:
    """An image file as (size, size, 3) uint8 RGB; resized (and logged) only if it is another size."""
    from PIL import Image

    with Image.open(path) as im:
        rgb = im.convert("RGB")
    if rgb.size != (size, size):
        log.warning("%s is %dx%d, not %dx%d; resizing it (bicubic) before scoring", path, *rgb.size, size, size)
        rgb = rgb.resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(rgb, dtype=np.uint8)
