"""How fast the real local model answers: SmolLM2-135M-Instruct served by ``svgarena serve gguf`` (llama-cpp-python).

Starts the server on a free port, sends a few requests through LiteLLM (as ``svgarena run --model smollm2``
does), and prints generated tokens per second (completion tokens over wall time per call, prompt time
included) next to the prompt size; then a short run-shaped prompt (an understanding question) for the
per-sample latency a run sees.

    .venv/bin/python benchmarks/smollm2_throughput.py [--calls 5] [--max-tokens 256] [--threads 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

LONG = "Write a long, detailed story about a red circle that travels across a white page. Do not stop early."
QUESTION = ("Which shape does this SVG draw? <svg viewBox='0 0 128 128'><circle cx='64' cy='64' r='40' "
            "fill='red'/></svg>\nA. square\nB. circle\nC. star\nD. line\nAnswer with the letter.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, SVGARENA_CONFIG_DIR=tmp)
        serve = subprocess.Popen([sys.executable, "-m", "svgarena.cli", "serve", "gguf", "--port", str(port),
                                  "--threads", str(args.threads), "--log-dir", tmp], env=env,
                                 stderr=subprocess.PIPE, text=True)
        try:
            t0 = time.perf_counter()
            for line in serve.stderr:
                if "serving smollm2" in line:
                    break
            else:
                raise SystemExit("the server did not start")
            print(f"server ready in {time.perf_counter() - t0:.1f} s (cores {os.cpu_count()}, "
                  f"load average {os.getloadavg()[0]:.1f})")
            asyncio.run(measure(f"http://127.0.0.1:{port}/v1", args))
        finally:
            serve.send_signal(2)
            serve.wait(timeout=30)


async def measure(base: str, args: argparse.Namespace) -> None:
    from svgarena.agents import LiteLLMModel

    model = LiteLLMModel("openai/smollm2", api_base=base, max_tokens=args.max_tokens, timeout_s=600)
    await model.complete([{"role": "user", "content": "hi"}])  # warm up
    rates = []
    for i in range(args.calls):
        reply = await model.complete([{"role": "user", "content": f"{LONG} ({i})"}])
        assert reply.error is None, reply.error
        u = reply.usage
        rates.append(u.output_tokens / u.latency_s)
        print(f"  long answer {i}: {u.input_tokens} prompt + {u.output_tokens} generated tokens in "
              f"{u.latency_s:.2f} s = {rates[-1]:.1f} tokens/s")
    rates.sort()
    print(f"generation: median {rates[len(rates) // 2]:.1f} tokens/s (min {rates[0]:.1f}, max {rates[-1]:.1f})")
    model.max_tokens = 512
    lat = []
    for i in range(3):
        reply = await model.complete([{"role": "user", "content": f"{QUESTION} ({i})"}])
        assert reply.error is None, reply.error
        lat.append(reply.usage.latency_s)
    print(f"understanding-style question: {reply.usage.input_tokens} prompt tokens, "
          f"median latency {sorted(lat)[1]:.2f} s")


if __name__ == "__main__":
    main()
