"""Speed of the video metrics' networks with random weights: ViCLIP-L/14 and I3D, in videos per second.

Side by side in one run, on every device asked for (CPU always; CUDA in fp32 and fp16 autocast when
present), each network timed on the same inputs after a warm-up batch:

* ViCLIP video: 8 frames -> (8, 3, 224, 224) per video (preprocessing from 448x448 frames timed
  apart, since it runs on the CPU whatever the device), ViT-L/14 over 2049 tokens.
* ViCLIP text: 32-token CLIP texts (tokenising included).
* I3D: one 16-frame 128x128 clip per video, preprocessing (resize to 224) included.

It also prints the largest difference between a video's features computed in a full batch and
alone (batch invariance on that device). Random weights are fine for speed.

    .venv/bin/python benchmarks/metrics_video.py [--device cpu|cuda|all] [--cpu-videos 2] [--cuda-videos 64]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def frames(n: int, count: int, size: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (count, size, size, 3), dtype=np.uint8) for _ in range(n)]


def timed(fn, sync) -> float:
    sync()
    start = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="all", choices=("cpu", "cuda", "all"))
    ap.add_argument("--cpu-videos", type=int, default=2, help="ViCLIP videos on CPU (I3D gets 4x as many)")
    ap.add_argument("--cuda-videos", type=int, default=64, help="ViCLIP videos on CUDA (I3D gets 4x as many)")
    ap.add_argument("--batch", type=int, default=16, help="CUDA batch size (CPU uses 2 for ViCLIP, 4 for I3D)")
    args = ap.parse_args()

    import torch

    from svgarena.scoring._fvd import I3DFeatures, build_i3d, preprocess_i3d
    from svgarena.scoring._viclip import ViCLIPScorer, build_viclip, prepare_video

    runs = []
    if args.device in ("cpu", "all"):
        runs.append(("cpu", False))
    if args.device in ("cuda", "all"):
        if torch.cuda.is_available():
            runs += [("cuda", False), ("cuda", True)]
        else:
            print("CUDA is not available: CPU only")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
          + (f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""))

    torch.manual_seed(0)
    viclip = build_viclip()
    i3d = build_i3d()

    # CPU preprocessing, shared by every device
    n_pre = 8
    raw = frames(n_pre, 8, 448, seed=1)
    t = timed(lambda: [prepare_video(v) for v in raw], lambda: None)
    print(f"\nViCLIP preprocessing (448 -> 224, 8 frames, CPU): {n_pre / t:8.2f} videos/s")
    clip_raw = np.stack(frames(8, 16, 128, seed=2))
    t = timed(lambda: preprocess_i3d(clip_raw), lambda: None)
    print(f"I3D preprocessing (16 x 128 -> 224, CPU):          {8 / t:8.2f} clips/s")

    rows = []
    texts_all = [f"a shape number {i} spins, slides and fades while its colour cycles" for i in range(256)]
    for device, half in runs:
        cuda = device == "cuda"
        sync = torch.cuda.synchronize if cuda else (lambda: None)
        n = args.cuda_videos if cuda else args.cpu_videos
        vb = args.batch if cuda else 2
        ib = args.batch if cuda else 4
        label = f"{device} {'fp16' if half else 'fp32'}"
        scorer = ViCLIPScorer(viclip, device, half=half, batch_size=vb)
        prepared = [prepare_video(v) for v in frames(min(n, 8), 8, 448, seed=3)]
        videos = [prepared[i % len(prepared)] for i in range(n)]
        scorer.video_features(videos[:vb])  # warm-up
        tv = timed(lambda: scorer.video_features(videos), sync)
        batch_feats = scorer.video_features(videos[:vb])
        alone = scorer.video_features(videos[:1])
        vdiff = float((batch_feats[:1] - alone).abs().max())
        texts = texts_all[: max(n, 8)]
        scorer.text_features(texts[:8])
        tt = timed(lambda: scorer.text_features(texts), sync)

        features = I3DFeatures(i3d, device, half=half, batch_size=ib)
        clips = np.stack(frames(min(4 * n, 16), 16, 128, seed=4))
        clips = clips[np.arange(4 * n) % len(clips)]
        features(clips[:ib])  # warm-up
        ti = timed(lambda: features(clips), sync)
        f_batch = features(clips[:ib])
        f_alone = features(clips[:1])
        idiff = float(np.abs(f_batch[:1] - f_alone).max() / max(np.abs(f_batch).max(), 1e-12))
        rows.append((label, n / tv, len(texts) / tt, 4 * n / ti, vdiff, idiff, vb, ib))
        viclip.to("cpu"), i3d.to("cpu")
        if cuda:
            torch.cuda.empty_cache()

    base = rows[0]
    print(f"\n{'device':<10} {'ViCLIP video/s':>15} {'ViCLIP text/s':>14} {'I3D clips/s':>12}   "
          f"{'x CPU (video, text, I3D)':>26}   batch (ViCLIP, I3D)   batch-vs-alone diff (ViCLIP abs, I3D rel)")
    for label, v, tx, i, vd, idf, vb, ib in rows:
        ratio = f"{v / base[1]:7.1f} {tx / base[2]:7.1f} {i / base[3]:7.1f}"
        print(f"{label:<10} {v:15.2f} {tx:14.1f} {i:12.2f}   {ratio:>26}   {vb:>6} {ib:>5}"
              f"            {vd:.2e} {idf:.2e}")


if __name__ == "__main__":
    main()
