"""Static rendering throughput: pooled sandboxes against unsandboxed in-process cairosvg.

Renders the same >= 500 real icons (the npm icon sets the sarena-mini builder uses, fetched with
``npm pack`` into benchmarks/out/npm and reused; plus the sarena-mini SVGs; recoloured
sarena-mini variants fill up where npm is missing) at 448x448, side by side in one run:

* in-process: ``ET.fromstring`` + ``cairosvg.svg2png`` + decode to RGB, one thread, no sandbox
  (SArena's way), and the worker's own render function in-process (it reads the pixels off the
  cairo surface instead of encoding and decoding a PNG: same pixels, less work), one thread;
* the local backend (a pool of 2 jailed workers) in every isolation level that works here;
* the docker backend (a pool of 2 renderer containers), when an engine and the image exist
  (run under ``scripts/with_dockerd.sh`` to get a private engine).

Each configuration renders the whole set ``--rounds`` times (best round counts); the pools are
started and warmed before timing (their start-up is reported separately). Pixels are compared
with the in-process render (must be identical for cairosvg).

    .venv/bin/python benchmarks/render_static.py [--n 600] [--workers 2] [--rounds 2] [--resvg]
"""

from __future__ import annotations

import argparse
import io
import os
import random
import re
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
MINI = ROOT / "svgarena" / "tasks" / "data" / "sarena-mini"


def load_icons(n: int) -> tuple[list[str], str]:
    """At least ``n`` real SVG icons, and where they came from."""
    svgs: list[str] = []
    where = []
    try:
        sys.path.insert(0, str(ROOT / "scripts"))
        from _suite_common import npm_fetch  # noqa: PLC0415
        from _suite_icons import ICON_SOURCES  # noqa: PLC0415

        per = max(1, n // len(ICON_SOURCES) + 1)
        for src in ICON_SOURCES:
            pkg = npm_fetch(src, OUT / "npm")
            files = sorted(p for p in pkg.rglob("*.svg") if p.stat().st_size < 200_000)
            random.Random(0).shuffle(files)
            svgs += [p.read_text(encoding="utf-8") for p in files[:per]]
            where.append(f"{min(per, len(files))} from {src.spec}")
    except Exception as exc:  # noqa: BLE001 - no npm or no registry: sarena-mini variants only
        where.append(f"npm icons unavailable ({type(exc).__name__}: {exc})")
    mini = [p.read_text(encoding="utf-8") for p in sorted(MINI.rglob("*.svg"))
            if "animation" not in p.parts]
    svgs += mini
    where.append(f"{len(mini)} sarena-mini SVGs")
    k = 0
    while len(svgs) < n:  # recoloured sarena-mini variants
        base = mini[k % len(mini)]
        svgs.append(re.sub(r"#[0-9a-fA-F]{6}", f"#{(k * 2654435761) % 0xFFFFFF:06x}", base, count=3))
        k += 1
    if k:
        where.append(f"{k} recoloured sarena-mini variants")
    return svgs[:max(n, len(svgs))], ", ".join(where)


def in_process(svgs: list[str], size: int) -> tuple[float, list[np.ndarray | None]]:
    import cairosvg
    from PIL import Image

    out: list[np.ndarray | None] = []
    t0 = time.perf_counter()
    for svg in svgs:
        try:
            ET.fromstring(svg)
            png = cairosvg.svg2png(bytestring=svg.encode(), background_color="white",
                                   output_width=size, output_height=size)
            out.append(np.asarray(Image.open(io.BytesIO(png)).convert("RGB")))
        except Exception:  # noqa: BLE001
            out.append(None)
    return time.perf_counter() - t0, out


def in_process_worker_path(svgs: list[str], size: int) -> float:
    """The worker's own render function (raw cairo pixels, no PNG round trip), in this process."""
    from svgarena.sandboxes import _worker

    req = {"width": size, "height": size, "background": "white", "renderer": "cairosvg"}
    t0 = time.perf_counter()
    for svg in svgs:
        _worker.render(svg.encode(), req)
    return time.perf_counter() - t0


def pooled(pool, svgs: list[str], size: int, renderer: str):
    from svgarena.sandboxes import RenderSpec

    spec = RenderSpec(width=size, height=size, renderer=renderer, timeout_s=30)
    t0 = time.perf_counter()
    results = pool.render_many(svgs, spec)
    return time.perf_counter() - t0, results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=600, help="icons (at least 500 for the README figure)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--size", type=int, default=448)
    ap.add_argument("--resvg", action="store_true", help="also time the resvg renderer in the pools")
    args = ap.parse_args()
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from svgarena.sandboxes import DockerRenderer, LocalRenderer, docker_problem, isolation_problem

    svgs, where = load_icons(args.n)
    print(f"{len(svgs)} icons: {where}; {args.size}x{args.size}; {os.cpu_count()} CPUs; best of {args.rounds} rounds")

    pools = []
    for iso in ("bwrap", "unshare", "none"):
        problem = isolation_problem(iso)
        if problem:
            print(f"  local/{iso}: skipped ({problem})")
            continue
        pools.append((f"local/{iso}", lambda iso=iso: LocalRenderer(args.workers, isolation=iso)))
    problem = docker_problem()
    if problem:
        print(f"  docker: skipped ({problem})")
    else:
        pools.append(("docker", lambda: DockerRenderer(args.workers, run="benchmark")))

    rows = []
    base_best, ref = None, None
    started = []
    for label, make in pools:
        t0 = time.perf_counter()
        pool = make()
        pool.render_many(svgs[: args.workers * 2])  # start and warm every worker
        started.append((label, pool, time.perf_counter() - t0))
    renderers = ["cairosvg"] + (["resvg"] if args.resvg else [])
    best: dict[str, float] = {}
    mismatch: dict[str, int] = {}
    failures: dict[str, int] = {}
    for _ in range(args.rounds):  # interleaved, so machine noise hits every configuration alike
        secs, imgs = in_process(svgs, args.size)
        best["in-process cairosvg (1 thread)"] = min(best.get("in-process cairosvg (1 thread)", 1e9), secs)
        ref = imgs
        key = "in-process, worker's raw path (1 thread)"
        best[key] = min(best.get(key, 1e9), in_process_worker_path(svgs, args.size))
        for label, pool, _ in started:
            for renderer in renderers:
                key = f"{label} {renderer} ({args.workers} workers)"
                secs, results = pooled(pool, svgs, args.size, renderer)
                best[key] = min(best.get(key, 1e9), secs)
                failures[key] = sum(not r.ok for r in results)
                if renderer == "cairosvg":
                    mismatch[key] = sum(1 for r, im in zip(results, ref)
                                        if (r.ok != (im is not None)) or (r.ok and not np.array_equal(r.image, im)))
    for _, pool, _ in started:
        pool.shutdown()

    base_best = best["in-process cairosvg (1 thread)"]
    print(f"\n{'configuration':<44} {'icons/s':>8} {'ms/icon':>8} {'vs in-process':>14} {'failed':>7} {'pixels differ':>14}")
    for key, secs in best.items():
        rate = len(svgs) / secs
        rows.append((key, rate))
        print(f"{key:<44} {rate:8.1f} {1000 * secs / len(svgs):8.2f} {base_best / secs:13.2f}x "
              f"{failures.get(key, sum(i is None for i in ref)):7d} {mismatch.get(key, 0) if key in mismatch else '-':>14}")
    print()
    for label, _pool, secs in started:
        print(f"{label}: pool start + warm-up of {args.workers} workers: {secs:.2f} s")


if __name__ == "__main__":
    main()
