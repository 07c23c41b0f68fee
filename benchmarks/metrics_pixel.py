"""SSIM and PSNR: svgarena's batch path vs the published scorer's per-image scikit-image loop.

Renders the reference SVGs of the bundled sarena-mini suite with cairosvg at 448x448 (SArena's
rendering), makes N pairs of them (different icons, the same icon, and lightly edited copies),
then times, side by side in one process and on the same pairs:

- published: SArena ``metrics/SSIM.py`` / ``metrics/PSNR.py`` per pair:
  ``structural_similarity(a, b, win_size=11, channel_axis=-1, sigma=1.5, full=True)`` and
  ``peak_signal_noise_ratio(a, b)`` (inf -> 100);
- svgarena: ``ssim_batch`` / ``psnr_batch`` over the whole stack.

It checks the values are equal (max abs difference <= 1e-9) and prints the speed-up.

    .venv/bin/python benchmarks/metrics_pixel.py [--pairs 1000] [--repeat 1]
"""

from __future__ import annotations

import argparse
import io
import os
import time
import warnings
from pathlib import Path

import numpy as np


def render_suite(limit: int | None = None) -> list[np.ndarray]:
    import cairosvg
    from PIL import Image

    from svgarena.tasks import bundled_suite_path

    root = bundled_suite_path()
    paths = sorted(p for p in root.rglob("*.svg") if "animation" not in p.parts)[:limit]
    out = []
    for p in paths:
        try:
            png = cairosvg.svg2png(bytestring=p.read_bytes(), background_color="white",
                                   output_width=448, output_height=448)
        except Exception:  # noqa: BLE001 - a reference that does not render is not a benchmark input
            continue
        out.append(np.asarray(Image.open(io.BytesIO(png)).convert("RGB")))
    return out


def make_pairs(renders: list[np.ndarray], n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    m = len(renders)
    refs = np.empty((n, 448, 448, 3), dtype=np.uint8)
    preds = np.empty_like(refs)
    for k in range(n):
        i = int(rng.integers(m))
        refs[k] = renders[i]
        kind = k % 4
        if kind == 0:
            preds[k] = renders[i]  # a perfect answer: SSIM 1, PSNR 100
        elif kind == 1:
            preds[k] = renders[int(rng.integers(m))]  # another icon
        else:  # an imperfect copy: shifted and recoloured
            shifted = np.roll(renders[i], int(rng.integers(-6, 7)), axis=int(rng.integers(2)))
            preds[k] = np.clip(shifted.astype(np.int16) + rng.integers(-20, 21, 3), 0, 255).astype(np.uint8)
    return refs, preds


def published(refs: np.ndarray, preds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    ssim = np.empty(len(refs))
    psnr = np.empty(len(refs))
    for k in range(len(refs)):
        ssim[k], _ = structural_similarity(refs[k], preds[k], win_size=11, channel_axis=-1, sigma=1.5, full=True)
        with warnings.catch_warnings(), np.errstate(divide="ignore"):
            warnings.simplefilter("ignore")
            value = peak_signal_noise_ratio(refs[k], preds[k])
        psnr[k] = 100 if np.isinf(value) else value
    return ssim, psnr


def ours(refs: np.ndarray, preds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from svgarena.scoring import psnr_batch, ssim_batch

    return ssim_batch(refs, preds), psnr_batch(refs, preds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=1, help="timing rounds (alternating); the best of each is kept")
    args = ap.parse_args()

    t = time.perf_counter()
    renders = render_suite()
    refs, preds = make_pairs(renders, args.pairs)
    print(f"{len(renders)} sarena-mini renders -> {args.pairs} pairs of 448x448 ({time.perf_counter() - t:.1f} s); "
          f"{os.cpu_count()} cores")
    best = {"published": float("inf"), "svgarena": float("inf")}
    for _ in range(max(1, args.repeat)):
        t = time.perf_counter()
        sk_ssim, sk_psnr = published(refs, preds)
        best["published"] = min(best["published"], time.perf_counter() - t)
        t = time.perf_counter()
        sv_ssim, sv_psnr = ours(refs, preds)
        best["svgarena"] = min(best["svgarena"], time.perf_counter() - t)
    d_ssim = float(np.abs(sk_ssim - sv_ssim).max())
    d_psnr = float(np.abs(sk_psnr - sv_psnr).max())
    ratio = best["published"] / best["svgarena"]
    n = args.pairs
    print(f"published (scikit-image per pair): {best['published']:8.2f} s  ({1000 * best['published'] / n:6.2f} ms/pair)")
    print(f"svgarena (ssim_batch + psnr_batch): {best['svgarena']:7.2f} s  ({1000 * best['svgarena'] / n:6.2f} ms/pair)")
    print(f"speed-up: {ratio:.1f}x   max |diff|: SSIM {d_ssim:.2e}, PSNR {d_psnr:.2e}   "
          f"means: SSIM {sv_ssim.mean():.6f}, PSNR {sv_psnr.mean():.4f}")
    ok = d_ssim <= 1e-9 and d_psnr <= 1e-9
    print("equal values: " + ("yes" if ok else "NO"))
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
