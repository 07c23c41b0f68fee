"""Ray executor overhead: renders/s and animations/s in Ray actors against the local pools, one machine.

Side by side in one process, on the same SVGs (sarena-mini's static SVGs, repeated to ``--n``; its
animation SVGs, repeated to ``--anims``), with the same number of workers (``--workers``):

* static: the local backend (``LocalRenderer``, ``--workers`` jailed workers) against
  ``RayRenderer`` (``--workers`` render actors, each holding one jailed worker), all renders in
  flight at once from one asyncio loop, as the runner sends them;
* animations (``fast`` mode: the 8 metric frames at 448): one ``BrowserAnimationRenderer`` with
  ``--workers`` pages against ``RayAnimation`` (``--workers`` actors, one Chromium each).

Ray runs as a local cluster started here (``ray.init`` with ``--workers`` CPUs, 200 MB object
store, no dashboard, HOME in a temporary folder) unless ``--address`` names one. Everything is
warmed first (pools started, one round rendered); the best of ``--rounds`` counts. Static
renders are checked to be byte-identical between the two. The ratio is Ray over local throughput.

    .venv/bin/python benchmarks/ray_render.py [--n 200] [--anims 8] [--workers 2] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MINI = ROOT / "svgarena" / "tasks" / "data" / "sarena-mini"


def _svgs(n: int, animated: bool) -> list[str]:
    files = sorted(p for p in MINI.rglob("*.svg") if ("animation" in p.parts) == animated)
    base = [p.read_text(encoding="utf-8") for p in files]
    return [base[i % len(base)] for i in range(n)]


async def _timed(fn, items: list[str], rounds: int) -> tuple[float, list]:
    best, results = float("inf"), []
    for _ in range(rounds):
        t0 = time.perf_counter()
        results = await asyncio.gather(*(fn(s) for s in items))
        best = min(best, time.perf_counter() - t0)
    return best, results


async def _static(renderer, svgs: list[str], rounds: int) -> tuple[float, list]:
    from svgarena.sandboxes import RenderSpec

    spec = RenderSpec()
    await asyncio.gather(*(renderer.render(s, spec) for s in svgs[:8]))  # warm: workers started
    return await _timed(lambda s: renderer.render(s, spec), svgs, rounds)


async def _anim(capturer, svgs: list[str], rounds: int) -> tuple[float, list]:
    from svgarena.sandboxes import fast_times

    times = fast_times(8)
    await asyncio.gather(*(capturer.capture(s, times, 448) for s in svgs[:4]))
    return await _timed(lambda s: capturer.capture(s, times, 448), svgs, rounds)


async def run(args: argparse.Namespace) -> None:
    from svgarena.sandboxes import BrowserAnimationRenderer, LocalRenderer, RayAnimation, RayRenderer, chromium_path

    static, anims = _svgs(args.n, False), _svgs(args.anims, True)
    rows = []

    local = LocalRenderer(args.workers)
    t_local, res_local = await _static(local, static, args.rounds)
    await local.close()
    t0 = time.perf_counter()
    ray_r = await asyncio.to_thread(RayRenderer, "local", args.workers, address=args.address)
    start_ray = time.perf_counter() - t0
    t_ray, res_ray = await _static(ray_r, static, args.rounds)
    await ray_r.close()
    same = all(a.ok and b.ok and a.image.tobytes() == b.image.tobytes() for a, b in zip(res_local, res_ray))
    rows.append(("static renders/s", len(static) / t_local, len(static) / t_ray, f"byte-identical: {same}"))

    if chromium_path() and args.anims:
        browser = BrowserAnimationRenderer(pages=args.workers)
        a_local, _ = await _anim(browser, anims, args.rounds)
        await browser.close()
        ray_a = await asyncio.to_thread(RayAnimation, args.workers, address=args.address)
        a_ray, res = await _anim(ray_a, anims, args.rounds)
        await ray_a.close()
        ok = sum(r.ok for r in res)
        rows.append(("animations/s (fast, 8 frames)", len(anims) / a_local, len(anims) / a_ray, f"{ok}/{len(res)} ok"))

    print(f"{args.workers} workers, {len(static)} static SVGs, {len(anims)} animations, best of {args.rounds}; "
          f"Ray render actors started in {start_ray:.1f} s")
    print(f"{'':32} {'local':>10} {'ray':>10} {'ray/local':>10}")
    for name, lo, ra, note in rows:
        print(f"{name:32} {lo:10.1f} {ra:10.1f} {ra / lo:10.2f}   {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--anims", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--address", default=None, help="an existing cluster (default: start a local one)")
    args = parser.parse_args()
    if args.address is None:  # the local cluster binds to 127.0.0.1 only (read by ray at import)
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    import ray

    home = tempfile.mkdtemp(prefix="svgarena-ray-bench-")
    os.environ["HOME"] = home  # Ray 2.6x writes ~/.ray
    if args.address is None:
        ray.init(num_cpus=args.workers, object_store_memory=200 * 1024 * 1024, include_dashboard=False,
                 log_to_driver=False, _node_ip_address="127.0.0.1")
    try:
        asyncio.run(run(args))
    finally:
        ray.shutdown()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
