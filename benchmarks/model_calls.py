"""Throughput and memory of the model-call layer against a local server with 200 ms of added latency per reply.

Measures, side by side in one process and against the same fault-free server (tests/_fault_server.py,
run as its own process): plain HTTP requests (aiohttp: what the server and the event loop allow), and
svgarena's full path (ManagedModel: reply cache lookup, budget, adaptive limiter, retry layer, call
ledger) over each client, the lean OpenAI-compatible one (``client: direct``) and LiteLLM (the default).
The target: N requests at concurrency C finish within 1.25x of the ideal N / C x 0.2 s, with flat memory
(RSS sampled every 0.2 s; the growth over the second half of the run is printed).

    .venv/bin/python benchmarks/model_calls.py [--requests 2000] [--concurrency 64] [--delay 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


async def _drive(call, n: int, concurrency: int) -> tuple[float, float, list[tuple[int, float]]]:
    """``concurrency`` workers share the n requests (like the runner); returns wall, CPU and RSS samples."""
    done = 0
    samples: list[tuple[int, float]] = []
    items = iter(range(n))

    async def worker() -> None:
        nonlocal done
        for i in items:
            await call(i)
            done += 1

    async def sampler() -> None:
        while True:
            samples.append((done, rss_mb()))
            await asyncio.sleep(0.2)

    watch = asyncio.create_task(sampler())
    t0, c0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    watch.cancel()
    samples.append((done, rss_mb()))
    return wall, cpu, samples


def _report(label: str, n: int, wall: float, cpu: float, ideal: float, samples: list[tuple[int, float]]) -> float:
    half = [m for d, m in samples if d >= n // 2]
    growth = (half[-1] - half[0]) if len(half) > 1 else 0.0
    print(f"{label:<36} {wall:7.2f} s   {wall / ideal:5.2f}x ideal   {n / wall:7.1f} req/s   "
          f"CPU {1000 * cpu / n:5.2f} ms/req   RSS {samples[0][1]:6.1f} -> {max(m for _, m in samples):6.1f} MB "
          f"(second half {growth:+.1f} MB)")
    return wall / ideal


async def _managed_path(label: str, cls: type, base: str, args: argparse.Namespace, ideal: float) -> float:
    from svgarena.agents import CallLedger, ManagedModel, ReplyCache, RetryPolicy

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "calls.sqlite"
        inner = cls("openai/test-model", api_base=base, input_usd_per_mtok=0.0, output_usd_per_mtok=0.0,
                    timeout_s=60)
        model = ManagedModel(inner, concurrency=args.concurrency, policy=RetryPolicy(), cache=ReplyCache(db),
                             ledger=CallLedger(db))

        async def managed(i: int) -> None:
            reply = await model.call([{"role": "user", "content": f"{label} request {i}"}])
            assert reply.error is None and reply.retries == 0, reply.error

        await _drive(lambda i: managed(-1 - i), args.concurrency, args.concurrency)  # warm the connections
        wall, cpu, samples = await _drive(managed, args.requests, args.concurrency)
        ratio = _report(label, args.requests, wall, cpu, ideal, samples)
        calls = model.ledger.summary()[inner.name]["calls"]
        assert calls == args.requests + args.concurrency, calls  # every request made exactly one call
        await model.aclose()
        model.cache.close()
        model.ledger.close()
    return ratio


async def main_async(args: argparse.Namespace) -> None:
    import aiohttp

    from svgarena.agents import DirectModel, LiteLLMModel, import_litellm

    server = subprocess.Popen([sys.executable, "-m", "tests._fault_server", "--delay", str(args.delay)], cwd=REPO,
                              stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline().split()[1])
        base = f"http://127.0.0.1:{port}/v1"
        ideal = args.requests / args.concurrency * args.delay
        print(f"{args.requests} requests, concurrency {args.concurrency}, {args.delay * 1000:.0f} ms per reply: "
              f"ideal {ideal:.2f} s; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
        body = {"model": "test-model", "messages": [{"role": "user", "content": "x"}]}
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.concurrency)) as session:
            async def raw(i: int) -> None:
                async with session.post(f"{base}/chat/completions", json=body) as resp:
                    resp.raise_for_status()
                    await resp.json()

            await _drive(raw, args.concurrency, args.concurrency)  # warm the connections
            wall, cpu, samples = await _drive(raw, args.requests, args.concurrency)
            floor = _report("plain HTTP (aiohttp, no svgarena)", args.requests, wall, cpu, ideal, samples)
        direct = await _managed_path("svgarena, client direct", DirectModel, base, args, ideal)
        import_litellm()
        routed = await _managed_path("svgarena, client litellm", LiteLLMModel, base, args, ideal)
        print(f"vs plain HTTP: direct {direct / floor:.2f}x, litellm {routed / floor:.2f}x; "
              f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; target <= 1.25x ideal: "
              f"direct {'met' if direct <= 1.25 else 'NOT met'}, litellm {'met' if routed <= 1.25 else 'NOT met'}")
    finally:
        server.kill()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--delay", type=float, default=0.2)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
