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
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

SIZE = 448
WIN = 11
_K1, _K2 = 0.01, 0.03
_RANGE = 255.0  # scikit-image's data_range for uint8
PSNR_IDENTICAL = 100.0  # what SArena scores an infinite PSNR (identical images) as
_CHUNK_PIXELS = SIZE * SIZE * 3  # one 448 image per step: the temporaries stay in cache


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


def _ssim_chunk(refs: np.ndarray, preds: np.ndarray) -> np.ndarray:
    """SSIM of (n, H, W, 3) uint8 stacks from exact integer window sums.

    With N = 121 and window sums Sx, Sy, Sxx, Syy, Sxy, scikit-image's
    ux = Sx/N, vx = (Sxx/N - ux**2) * N/(N-1), vxy likewise, and
    S = (2 ux uy + C1)(2 vxy + C2) / ((ux**2 + uy**2 + C1)(vx + vy + C2))
    equals the ratio below after multiplying through by N**2 and N(N-1). Sxx and Syy only
    occur as a sum, so four planes are filtered, not five. Every integer term is exact in
    float64, so the result differs from scikit-image's only by scikit-image's own rounding.
    """
    x = refs.transpose(0, 3, 1, 2).astype(np.uint16)  # (n, 3, H, W): filter along contiguous axes
    y = preds.transpose(0, 3, 1, 2)
    first = _window_sums(np.stack([x, y]))  # window sums <= 121 * 255 fit uint16
    x = x.astype(np.int32)
    y = y.astype(np.int32)
    xy = x * y
    x *= x
    y *= y
    x += y
    second = _window_sums(np.stack([x, xy]))  # <= 121 * 2 * 255**2 fits int32
    sx, sy = first.astype(np.float64)
    ss, sxy = second.astype(np.float64)
    n = float(WIN * WIN)
    c1 = (_K1 * _RANGE) ** 2 * n * n
    c2 = (_K2 * _RANGE) ** 2 * n * (n - 1)
    p = sx * sy
    sx *= sx
    sy *= sy
    q = sx + sy  # Sx**2 + Sy**2
    num = 2 * p
    num += c1
    sxy *= n
    sxy -= p
    sxy *= 2
    sxy += c2
    num *= sxy  # (2 Sx Sy + c1)(2 (N Sxy - Sx Sy) + c2)
    ss *= n
    ss -= q
    ss += c2
    q += c1
    q *= ss  # (Sx**2 + Sy**2 + c1)(N (Sxx + Syy) - Sx**2 - Sy**2 + c2)
    num /= q
    # Mean per image and channel over the interior, then over channels, as scikit-image does.
    per_channel = num.reshape(num.shape[0], num.shape[1], -1).mean(axis=-1, dtype=np.float64)
    return per_channel.mean(axis=-1)


def ssim_batch(refs: np.ndarray, preds: np.ndarray) -> np.ndarray:
    """SArena SSIM for each pair of an (N, H, W, 3) uint8 stack; returns shape (N,)."""
    refs, preds = np.asarray(refs), np.asarray(preds)
    _check_pair(refs, preds, 4, "ssim")
    n, h, w, _ = refs.shape
    if h < WIN or w < WIN:
        raise ValueError(f"ssim: images must be at least {WIN}x{WIN}, got {h}x{w}")
    step = max(1, _CHUNK_PIXELS // (h * w * 3))
    out = np.empty(n, dtype=np.float64)
    for i in range(0, n, step):
        out[i:i + step] = _ssim_chunk(refs[i:i + step], preds[i:i + step])
    return out


def ssim(ref: np.ndarray, pred: np.ndarray) -> float:
    """SArena SSIM of one (H, W, 3) uint8 pair (scikit-image, uniform 11x11 window)."""
    ref, pred = np.asarray(ref), np.asarray(pred)
    _check_pair(ref, pred, 3, "ssim")
    return float(ssim_batch(ref[None], pred[None])[0])


def psnr_batch(refs: np.ndarray, preds: np.ndarray) -> np.ndarray:
    """SArena PSNR for each pair of an (N, H, W, 3) uint8 stack; identical pairs score 100."""
    refs, preds = np.asarray(refs), np.asarray(preds)
    _check_pair(refs, preds, 4, "psnr")
    n = refs.shape[0]
    flat_r, flat_p = refs.reshape(n, -1), preds.reshape(n, -1)
    sse = np.empty(n, dtype=np.float64)
    for i in range(n):
        # Exact integer sum of squares; scikit-image's float64 sum of the same integers is exact too.
        diff = np.subtract(flat_r[i], flat_p[i], dtype=np.int16)
        sse[i] = np.einsum("i,i->", diff, diff, dtype=np.int64)
    mse = sse / float(flat_r.shape[1])
    with np.errstate(divide="ignore"):
        out = 10 * np.log10((_RANGE**2) / mse)
    out[np.isinf(out)] = PSNR_IDENTICAL
    return out


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
