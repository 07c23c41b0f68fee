"""Animation rendering: ``fast`` against ``sarena-exact`` mode on the sarena-mini animations.

Side by side in one run, on one jailed Chromium (one page), for every animation SVG of the
bundled suite (the reference SVGs, i.e. what the oracle answers):

* sarena-exact: 150 frames at 448 and again at 128, both encoded as H.264 MP4 (SArena's
  protocol), then the frames the metrics read decoded from them (8 at 448, 16 at 128);
* fast: only those frames, captured straight from the timeline (8 at 448, 16 at 128).

Prints the time per video of each mode and how the frames the metrics see differ between the
two (PSNR/SSIM of fast vs exact frames, and the frame SSIM/PSNR against the suite's reference
video under each mode: the metric difference the mode makes).

    .venv/bin/python benchmarks/render_animation.py [--limit N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ANIM = ROOT / "svgarena" / "tasks" / "data" / "sarena-mini" / "animation"


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.metrics import peak_signal_noise_ratio

    if np.array_equal(a, b):
        return 100.0
    return float(peak_signal_noise_ratio(a, b, data_range=255))


def _ssim(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    return float(structural_similarity(a, b, channel_axis=2, data_range=255))


def _frames_metric(fn, xs: np.ndarray, ys: np.ndarray) -> float:
    return float(np.mean([fn(x, y) for x, y in zip(xs, ys)]))


async def run(limit: int | None) -> None:
    from svgarena.sandboxes import BrowserAnimationRenderer, sample_frames

    svgs = sorted(ANIM.glob("svg/*.svg"), key=lambda p: int(p.stem))[:limit]
    rows = []
    async with BrowserAnimationRenderer(pages=1, timeout_s=300) as r:
        await r.capture(svgs[0].read_text(), [0.0], 64)  # start Chromium before timing
        print(f"{len(svgs)} animations; Chromium {r.browser_version}; jail: {'bwrap' if r.jailed else 'none'}; "
              f"{os.cpu_count()} CPUs")
        with tempfile.TemporaryDirectory(prefix="svgarena-bench-") as tmp:
            for path in svgs:
                svg = path.read_text()
                out448, out128 = Path(tmp) / "448.mp4", Path(tmp) / "128.mp4"
                t0 = time.perf_counter()
                res = await r.render_mp4(svg, out448, out128)
                t_render = time.perf_counter() - t0
                exact8 = await asyncio.to_thread(sample_frames, out448, 8)
                exact16 = await asyncio.to_thread(sample_frames, out128, 16)
                t_exact = time.perf_counter() - t0
                assert res.ok, res.reason
                t0 = time.perf_counter()
                fast = await r.capture_metric_frames(svg)
                t_fast = time.perf_counter() - t0
                assert fast.ok, fast.reason
                fast8, fast16 = fast.meta["frames"], fast.meta["frames_128"]
                ref8 = sample_frames(ANIM / "video" / f"{path.stem}.mp4", 8)
                rows.append({
                    "id": path.stem, "exact_s": t_exact, "exact_render_s": t_render, "fast_s": t_fast,
                    "psnr_fast_vs_exact": _frames_metric(_psnr, fast8, exact8),
                    "ssim_fast_vs_exact": _frames_metric(_ssim, fast8, exact8),
                    "maxdiff": int(np.abs(fast8.astype(int) - exact8.astype(int)).max()),
                    "psnr128_fast_vs_exact": _frames_metric(_psnr, fast16, exact16),
                    "ssim_ref_exact": _frames_metric(_ssim, ref8, exact8),
                    "ssim_ref_fast": _frames_metric(_ssim, ref8, fast8),
                    "psnr_ref_exact": _frames_metric(_psnr, ref8, exact8),
                    "psnr_ref_fast": _frames_metric(_psnr, ref8, fast8),
                })
    print(f"\n{'id':>3} {'exact s':>8} {'fast s':>7} {'speed-up':>8} {'PSNR f/e':>9} {'SSIM f/e':>9} "
          f"{'max|d|':>6} {'SSIM ref: exact':>16} {'fast':>7}")
    for row in rows:
        print(f"{row['id']:>3} {row['exact_s']:8.2f} {row['fast_s']:7.2f} {row['exact_s'] / row['fast_s']:7.1f}x "
              f"{row['psnr_fast_vs_exact']:9.2f} {row['ssim_fast_vs_exact']:9.4f} {row['maxdiff']:6d} "
              f"{row['ssim_ref_exact']:16.4f} {row['ssim_ref_fast']:7.4f}")

    def mean(key: str) -> float:
        return float(np.mean([row[key] for row in rows]))

    print(f"\nper video: sarena-exact {mean('exact_s'):.2f} s (capture+encode {mean('exact_render_s'):.2f} s, "
          f"decode of the metric frames {mean('exact_s') - mean('exact_render_s'):.2f} s), "
          f"fast {mean('fast_s'):.2f} s: {mean('exact_s') / mean('fast_s'):.1f}x faster")
    print(f"fast vs exact frames (8 at 448): PSNR {mean('psnr_fast_vs_exact'):.2f} dB, SSIM "
          f"{mean('ssim_fast_vs_exact'):.4f}, largest pixel difference {max(r['maxdiff'] for r in rows)}; "
          f"(16 at 128): PSNR {mean('psnr128_fast_vs_exact'):.2f} dB")
    print(f"frame SSIM against the reference video: exact {mean('ssim_ref_exact'):.4f}, fast "
          f"{mean('ssim_ref_fast'):.4f} (difference {mean('ssim_ref_exact') - mean('ssim_ref_fast'):+.4f}); "
          f"frame PSNR: exact {mean('psnr_ref_exact'):.2f}, fast {mean('psnr_ref_fast'):.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="only the first N animations")
    args = ap.parse_args()
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    asyncio.run(run(args.limit))


if __name__ == "__main__":
    main()
