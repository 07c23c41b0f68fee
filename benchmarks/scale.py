"""One machine, many samples, flat: `svgarena run` over an N-sample suite against a 200 ms model.

Builds an N-sample icon/img2svg suite in SArena layout in a temporary folder (the bundled suite's
samples over and over, ids renumbered 0..N-1, images and reference SVGs hard-linked), starts a
local OpenAI-compatible server in its own process (aiohttp, 127.0.0.1) that answers every chat
request after ``--latency`` seconds with a real SVG (a bundled reference SVG plus one small square
whose place and colour change per request, so every answer and render is distinct), and runs

    svgarena run --suite DIR --task icon/img2svg --model scale --concurrency 256 --no-cache --no-score

(direct solver; the pixel metrics, scored as samples finish; --no-cache because the renumbered
samples repeat the same 14 requests, which the reply cache would otherwise answer). It reports:

- wall time against the ideal: max(calls x latency / concurrency, calls / render throughput), the
  render throughput measured first on the same worker pool (``open_backend('local')``);
- the harness process's resident memory sampled every 0.5 s: peak, and growth over the second half
  of the run (flat: under 50 MB), plus the whole process tree (render workers included);
- throughput in the first and second half of the run (per-sample work that grows with n shows
  as a slower second half);
- sizes of run.sqlite (+WAL), calls.sqlite and artifacts/.

    .venv/bin/python benchmarks/scale.py --samples 1000
    .venv/bin/python benchmarks/scale.py --samples 10000 --json scale-10k.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


# -- the suite ---------------------------------------------------------------------------------------

def build_suite(root: Path, n: int) -> Path:
    """An n-sample icon/img2svg suite in SArena layout made of the bundled samples, ids renumbered."""
    from svgarena.tasks import bundled_suite_path

    src = bundled_suite_path() / "Icon" / "generation"
    records = [json.loads(line) for line in (src / "img2svg.jsonl").read_text().splitlines() if line.strip()]
    dst = root / "Icon" / "generation"
    (dst / "images").mkdir(parents=True)
    (dst / "svg").mkdir()
    with open(dst / "img2svg.jsonl", "w", encoding="utf-8") as fh:
        for i in range(n):
            rec = dict(records[i % len(records)])
            old = rec["id"]
            rec["id"] = i
            rec["image"] = f"images/{i}.png"
            fh.write(json.dumps(rec) + "\n")
            _link(src / "images" / f"{old}.png", dst / "images" / f"{i}.png")
            _link(src / "svg" / f"{old}.svg", dst / "svg" / f"{i}.svg")
    return root


def _link(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


# -- the model server (its own process, so its CPU and memory are not the harness's) ----------------

def serve(port_file: Path, latency: float) -> None:
    """An OpenAI-compatible chat server: every answer after ``latency`` s, a real, distinct SVG."""
    from aiohttp import web

    from svgarena.tasks import bundled_suite_path

    svgs = [p.read_text() for p in sorted((bundled_suite_path() / "Icon" / "generation" / "svg").glob("*.svg"))]
    counter = 0

    async def models(request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "scale", "object": "model"}]})

    async def chat(request: web.Request) -> web.Response:
        nonlocal counter
        await request.read()
        counter += 1
        n = counter
        await asyncio.sleep(latency)
        mark = (f'<rect x="{n % 120}" y="{(n // 120) % 120}" width="8" height="8" '
                f'fill="#{(n * 2654435761) % 0xFFFFFF:06x}"/>')
        svg = re.sub(r"</svg>\s*$", mark + "</svg>", svgs[n % len(svgs)].rstrip())
        text = f"Here is the SVG:\n```svg\n{svg}\n```"
        return web.json_response({
            "id": f"chatcmpl-{n}", "object": "chat.completion", "created": int(time.time()), "model": "scale",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 900, "completion_tokens": len(svg) // 4,
                      "total_tokens": 900 + len(svg) // 4}})

    async def main() -> None:
        app = web.Application(client_max_size=64 * 2**20)
        app.router.add_get("/v1/models", models)
        app.router.add_post("/v1/chat/completions", chat)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=2048)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        tmp = port_file.with_suffix(".tmp")
        tmp.write_text(str(port))
        tmp.replace(port_file)
        await asyncio.Event().wait()

    asyncio.run(main())


def start_server(folder: Path, latency: float) -> tuple[subprocess.Popen, int]:
    port_file = folder / "port"
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port_file), "--latency", str(latency)],
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    deadline = time.monotonic() + 60
    while not port_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            sys.exit("the model server did not start")
        time.sleep(0.1)
    return proc, int(port_file.read_text())


# -- the render pool's throughput ----------------------------------------------------------------

def render_throughput(workers: int | None, n: int = 300) -> float:
    """Static renders per second of the local worker pool (the bundled SVGs, ``n`` renders in flight)."""
    from svgarena.sandboxes import RenderSpec, open_backend
    from svgarena.tasks import bundled_suite_path

    svgs = [p.read_text() for p in sorted((bundled_suite_path() / "Icon" / "generation" / "svg").glob("*.svg"))]

    async def go() -> float:
        backend = await asyncio.to_thread(open_backend, "local", workers, run="scale-bench")
        try:
            spec = RenderSpec()
            await asyncio.gather(*(backend.render(s, spec) for s in svgs))  # warm the workers
            t0 = time.perf_counter()
            await asyncio.gather(*(backend.render(svgs[i % len(svgs)], spec) for i in range(n)))
            return n / (time.perf_counter() - t0)
        finally:
            await backend.close()

    return asyncio.run(go())


# -- memory -------------------------------------------------------------------------------------

def _procs() -> dict[int, tuple[int, int, float]]:
    """pid -> (ppid, resident bytes, CPU seconds used by it and its waited-for children)."""
    page = os.sysconf("SC_PAGE_SIZE")
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            cpu = sum(int(x) for x in fields[11:15]) / tick  # utime, stime, cutime, cstime
            out[int(entry)] = (int(fields[1]), int(fields[21]) * page, cpu)
        except (OSError, IndexError, ValueError):
            continue
    return out


def sample_rss(root: int) -> tuple[int, int, float]:
    """(root's own RSS, RSS summed over root and its descendants, CPU seconds of that tree)."""
    procs = _procs()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    total, cpu, stack = 0, 0.0, [root]
    while stack:
        pid = stack.pop()
        _, rss, used = procs.get(pid, (0, 0, 0.0))
        total += rss
        cpu += used
        stack.extend(children.get(pid, []))
    return procs.get(root, (0, 0, 0.0))[1], total, cpu


def _done(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return con.execute("SELECT count(*) FROM trajectories WHERE status='done'").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return -1


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else 0


# -- the run ------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=256)
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--workers", type=int, default=None, help="render workers (default: one per core)")
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("--max-seconds", type=float, default=None,
                    help="interrupt the run (SIGINT, resumable) after this long and report what finished")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (suite and run)")
    ap.add_argument("--serve", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(Path(args.serve), args.latency)
        return

    folder = Path(tempfile.mkdtemp(prefix="svgarena-scale-"))
    server = None
    try:
        t0 = time.perf_counter()
        suite = build_suite(folder / "suite", args.samples)
        print(f"suite: {args.samples} samples in SArena layout built in {time.perf_counter() - t0:.1f} s", flush=True)
        renders_per_s = render_throughput(args.workers)
        print(f"render pool: {renders_per_s:.1f} static renders/s", flush=True)
        server, port = start_server(folder, args.latency)
        models = folder / "models.yaml"
        models.write_text(f'models:\n  scale: {{route: openai/scale, api_base: "http://127.0.0.1:{port}/v1", '
                          f'concurrency: {args.concurrency}}}\n')
        exe = shutil.which("svgarena", path=str(Path(sys.executable).parent)) or "svgarena"
        cmd = [exe, "run", "--suite", str(suite), "--task", "icon/img2svg", "--model", "scale",
               "--models-file", str(models), "--concurrency", str(args.concurrency), "--no-cache", "--no-score",
               "--out", str(folder / "runs"), "--run-id", "scale", "--json"]
        if args.workers:
            cmd += ["--workers", str(args.workers)]
        db = folder / "runs" / "scale" / "run.sqlite"
        log = open(folder / "harness.log", "w")
        start, start_epoch, load_before = time.perf_counter(), time.time(), os.getloadavg()[0]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, env={**os.environ, "PYTHONPATH": str(REPO)})
        series: list[tuple[float, int, int, int]] = []  # (t, own rss, tree rss, done)
        last_done_t = 0.0
        done = 0
        cpu = 0.0
        loads = []
        interrupted = False
        while proc.poll() is None:
            t = time.perf_counter() - start
            if args.max_seconds and t > args.max_seconds and not interrupted:
                proc.send_signal(signal.SIGINT)  # the run stops as after Ctrl-C: finished samples kept, resumable
                interrupted = True
            own, tree, used = sample_rss(proc.pid)
            cpu = max(cpu, used)
            loads.append(os.getloadavg()[0])
            if t - last_done_t >= 2.0:
                done, last_done_t = max(done, _done(db)), t
            series.append((t, own, tree, done))
            time.sleep(0.5)
        wall = time.perf_counter() - start
        log.close()
        if proc.returncode != 0 and not interrupted:
            sys.exit(f"svgarena run failed ({proc.returncode}); see {folder / 'harness.log'}:\n"
                     + (folder / "harness.log").read_text()[-2000:])
        figures = _figures(args, wall, renders_per_s, series, folder / "runs" / "scale")
        if interrupted:
            figures["interrupted_after_s"] = args.max_seconds
        figures["harness_cpu_s"] = round(cpu, 1)
        figures["harness_cpu_ms_per_sample"] = round(1000 * cpu / max(1, figures["samples"]), 1)
        figures["startup_s"] = round(figures.pop("_first_started") - start_epoch, 1)
        figures["load_average"] = {"before": round(load_before, 1),
                                   "mean_during": round(sum(loads) / max(1, len(loads)), 1)}
        _print(figures)
        if args.json:
            Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    finally:
        if server is not None:
            server.kill()
            server.wait()
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def _figures(args: argparse.Namespace, wall: float, renders_per_s: float,
             series: list[tuple[float, int, int, int]], run_dir: Path) -> dict:
    con = sqlite3.connect(run_dir / "run.sqlite")
    n = con.execute("SELECT count(*) FROM trajectories WHERE status='done'").fetchone()[0]
    outcomes = dict(con.execute("SELECT outcome, count(*) FROM trajectories GROUP BY outcome").fetchall())
    first = con.execute("SELECT min(started), max(finished) FROM trajectories").fetchone()
    times = sorted(r[0] for r in con.execute("SELECT finished FROM trajectories WHERE finished IS NOT NULL"))
    con.close()
    ideal_calls = n * args.latency / args.concurrency
    ideal_render = n / renders_per_s
    half = wall / 2
    own_half = [s[1] for s in series if s[0] >= half]
    at_half = next((s[1] for s in series if s[0] >= half), series[-1][1] if series else 0)
    tree_half = [s[2] for s in series if s[0] >= half]
    tree_at_half = next((s[2] for s in series if s[0] >= half), 0)
    mid = len(times) // 2
    rate = {}
    if len(times) > 10:  # samples/s over the first and the second half of the samples
        rate = {"first_half_per_s": mid / max(1e-9, times[mid] - first[0]),
                "second_half_per_s": (len(times) - mid) / max(1e-9, times[-1] - times[mid])}
    return {
        "_first_started": first[0],
        "samples": n, "outcomes": outcomes, "concurrency": args.concurrency, "latency_s": args.latency,
        "cores": os.cpu_count(), "wall_s": round(wall, 1),
        "ideal_calls_s": round(ideal_calls, 1), "render_per_s": round(renders_per_s, 1),
        "ideal_render_s": round(ideal_render, 1), "ideal_s": round(max(ideal_calls, ideal_render), 1),
        "wall_over_ideal": round(wall / max(ideal_calls, ideal_render), 2),
        "throughput_per_s": round(n / wall, 1), **{k: round(v, 1) for k, v in rate.items()},
        "harness_rss_peak_mb": round(max((s[1] for s in series), default=0) / 2**20, 1),
        "harness_rss_at_half_mb": round(at_half / 2**20, 1),
        "harness_rss_second_half_growth_mb": round((max(own_half, default=0) - at_half) / 2**20, 1),
        # peak over the second half of the samples (by count finished) minus peak over the first half: robust
        # to the in-flight oscillation (256 samples in flight, each holding its render until it is stored)
        "harness_rss_peak_growth_mb": round((max((x[1] for x in series if x[3] >= n / 2), default=0)
                                             - max((x[1] for x in series if 0 < x[3] < n / 2), default=0)) / 2**20, 1),
        # the same while samples are still running: the end-of-run results table (every sample at once) left out
        "harness_rss_peak_growth_running_mb": round((max((x[1] for x in series if n / 2 <= x[3] < n), default=0)
                                                     - max((x[1] for x in series if 0 < x[3] < n / 2), default=0))
                                                    / 2**20, 1),
        "tree_rss_peak_mb": round(max((s[2] for s in series), default=0) / 2**20, 1),
        "tree_rss_second_half_growth_mb": round((max(tree_half, default=0) - tree_at_half) / 2**20, 1),
        "store_mb": round((_size(run_dir / "run.sqlite") + _size(run_dir / "run.sqlite-wal")) / 2**20, 1),
        "calls_db_mb": round((_size(run_dir / "calls.sqlite") + _size(run_dir / "calls.sqlite-wal")) / 2**20, 1),
        "artifacts_mb": round(_size(run_dir / "artifacts") / 2**20, 1),
        "rss_series": [(round(t, 1), round(o / 2**20, 1), round(tr / 2**20, 1), d) for t, o, tr, d in series[::4]],
    }


def _print(f: dict) -> None:
    print(f"scale: {f['samples']} samples ({f['outcomes']}) in {f['wall_s']} s wall on {f['cores']} cores, "
          f"{f['throughput_per_s']}/s")
    print(f"ideal: {f['ideal_s']} s = max(calls x {f['latency_s']} s / {f['concurrency']} = {f['ideal_calls_s']} s, "
          f"calls / {f['render_per_s']} renders/s = {f['ideal_render_s']} s); wall / ideal = {f['wall_over_ideal']}")
    if "first_half_per_s" in f:
        print(f"throughput: first half {f['first_half_per_s']}/s, second half {f['second_half_per_s']}/s")
    print(f"harness RSS: peak {f['harness_rss_peak_mb']} MB, {f['harness_rss_at_half_mb']} MB at half time, "
          f"second half grows {f['harness_rss_second_half_growth_mb']} MB (peak over the second half of the samples "
          f"vs the first: {f['harness_rss_peak_growth_mb']:+} MB, {f['harness_rss_peak_growth_running_mb']:+} MB "
          f"before the last sample finished); process tree peak {f['tree_rss_peak_mb']} MB "
          f"(second half +{f['tree_rss_second_half_growth_mb']} MB)")
    print(f"harness CPU: {f['harness_cpu_s']} s over its process tree, {f['harness_cpu_ms_per_sample']} ms per sample; "
          f"startup (to the first sample) {f['startup_s']} s; load average {f['load_average']['mean_during']} "
          f"during the run on {f['cores']} cores (other users included)")
    print(f"store: run.sqlite {f['store_mb']} MB, calls.sqlite {f['calls_db_mb']} MB, artifacts {f['artifacts_mb']} MB")


if __name__ == "__main__":
    main()
