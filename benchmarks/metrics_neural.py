"""Images per second of each neural metric's network, random weights, on CPU (and CUDA when present).

Random weights cost the same as real ones, so no checkpoint is needed. Each network runs its
real preprocessing and forward pass on 448x448 uint8 renders, in batches, after one warm-up batch.

    .venv/bin/python benchmarks/metrics_neural.py [--batch-size 8] [--images 16] [--device cpu|cuda|all] [--half]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def renders(n: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    out = np.full((n, 448, 448, 3), 255, dtype=np.uint8)
    for k in range(n):
        for _ in range(4):
            y, x = rng.integers(0, 336, 2)
            out[k, y:y + 112, x:x + 150] = rng.integers(0, 256, 3)
    return out


def networks(device: str):
    from svgarena.scoring import _clip, _dino, _inception, _lpips

    dino = _dino.build_dino(None, device)
    yield "dino (DINOv2-B/14)", lambda x, half: _dino.embed(dino, x, device, half)
    del dino
    vgg = _lpips.build_lpips(None, None, device)
    yield "lpips (VGG16, pairs)", lambda x, half: _lpips.lpips_pairs(vgg, x, x[::-1].copy(), device, half)
    del vgg
    clip_l = _clip.build_clip("ViT-L-14", None, device)
    yield "clip_t2i/i2i (ViT-L/14)", lambda x, half: _clip.encode_images(clip_l, x, device, half)
    del clip_l
    inc = _inception.build_inception(None, device)
    yield "fid (InceptionV3)", lambda x, half: _inception.inception_features(inc, x, device, half)
    del inc
    clip_b = _clip.build_clip("ViT-B-32", None, device)
    yield "fid_c (ViT-B/32)", lambda x, half: _clip.encode_images(clip_b, x, device, half)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--images", type=int, default=16, help="images timed per network (after a warm-up batch)")
    ap.add_argument("--device", default="all", help="cpu, cuda, or all (cpu, then cuda when present)")
    ap.add_argument("--half", action="store_true", help="fp16 autocast on CUDA")
    args = ap.parse_args()
    import torch

    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    devices = [d for d in devices if d == "cpu" or torch.cuda.is_available()]
    x = renders(args.images)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
          + (f", {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ", no CUDA"))
    for device in devices:
        half = args.half and device == "cuda"
        for name, fn in networks(device):
            fn(x[:args.batch_size], half)  # warm-up (and lazy initialisation)
            if device == "cuda":
                torch.cuda.synchronize()
            t = time.perf_counter()
            for i in range(0, len(x), args.batch_size):
                fn(x[i:i + args.batch_size], half)
            if device == "cuda":
                torch.cuda.synchronize()
            dt = time.perf_counter() - t
            unit = "pairs/s" if "pairs" in name else "images/s"
            print(f"{device:5} {'fp16' if half else 'fp32'}  {name:26} {len(x) / dt:8.2f} {unit}")


if __name__ == "__main__":
    main()
