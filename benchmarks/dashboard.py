"""What the live dashboard costs a run: the same `svgarena run`, drawn on a pseudo-terminal (Rich Live)
and with --no-live (line log to a pipe), interleaved, side by side; goal: overhead ratio < 2%.

The model is a real local OpenAI-compatible server (tests/_fault_server.py, a fixed delay per reply)
so the run exercises model calls, renders and scoring; --no-cache keeps every repeat honest. Each
run is measured in wall time and in CPU time (user + system of the whole process tree, from
``RUSAGE_CHILDREN``), which a shared, loaded machine disturbs far less than wall time. Also timed:
one dashboard frame (store snapshot + Rich render) on the finished store, and so the share of one
core the drawing thread takes at its redraw rate.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/dashboard.py [--repeats 3] [--task 'icon/edit/*'] [--limit N]
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pexpect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests._fault_server import FaultServer  # noqa: E402

CLI = [sys.executable, "-m", "svgarena.cli"]


def _args(root: Path, models: Path, run_id: str, task: str, limit: int | None) -> list[str]:
    args = ["run", "--task", task, "--model", "bench", "--models-file", str(models), "--no-cache",
            "--out", str(root), "--run-id", run_id]
    return args + (["--limit", str(limit)] if limit else [])


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}


def _cpu() -> float:
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def measured(fn, args: list[str]) -> tuple[float, float]:
    """(wall s, CPU s of the run's process tree) of one run."""
    cpu = _cpu()
    wall = fn(args)
    return wall, _cpu() - cpu


def live_run(args: list[str]) -> float:
    t = time.perf_counter()
    child = pexpect.spawn(CLI[0], [*CLI[1:], *args], dimensions=(50, 200), timeout=1800, encoding="utf-8",
                          env=_env())
    child.expect(pexpect.EOF)  # reading the terminal as a user's terminal would
    child.close()
    took = time.perf_counter() - t
    if child.exitstatus != 0:
        raise SystemExit(f"live run failed ({child.exitstatus}): {child.before[-2000:]}")
    return took


def plain_run(args: list[str]) -> float:
    t = time.perf_counter()
    done = subprocess.run([*CLI, *args, "--no-live"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=_env())
    took = time.perf_counter() - t
    if done.returncode != 0:
        raise SystemExit(f"--no-live run failed ({done.returncode}): {done.stderr[-2000:]}")
    return took


def frame_cost(store_path: Path, n: int = 40) -> float:
    """CPU seconds to read one snapshot from the store and render it (what each redraw costs); CPU
    time, not wall time, so other work on a shared machine does not inflate it."""
    from rich.console import Console

    from svgarena.harness._watch import _read, render

    console = Console(file=io.StringIO(), force_terminal=True, width=200)
    t = time.thread_time()
    for _ in range(n):
        console.print(render(_read(store_path)))
    return (time.thread_time() - t) / n


def main() -> None:
    from svgarena.harness._dashboard import FRAME_S

    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--task", default="icon/edit/*")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--delay", type=float, default=0.05, help="seconds the local server takes per reply")
    opts = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="svgarena-dash-"))
    live_s: list[tuple[float, float]] = []
    plain_s: list[tuple[float, float]] = []
    try:
        with FaultServer(delay=opts.delay, usage=(100, 50)) as srv:
            models = root / "models.yaml"
            models.write_text(f'models:\n  bench: {{route: openai/bench, api_base: "{srv.api_base}", concurrency: 8, '
                              f'price: {{input: 1.0, output: 2.0}}}}\n')
            for i in range(opts.repeats):  # interleaved, so drift in the machine's load hits both alike
                live_s.append(measured(live_run, _args(root, models, f"live{i}", opts.task, opts.limit)))
                plain_s.append(measured(plain_run, _args(root, models, f"plain{i}", opts.task, opts.limit)))
                print(f"repeat {i}: live {live_s[-1][0]:.2f} s wall, {live_s[-1][1]:.2f} s CPU; "
                      f"--no-live {plain_s[-1][0]:.2f} s wall, {plain_s[-1][1]:.2f} s CPU", flush=True)
        frame = frame_cost(root / f"live{opts.repeats - 1}" / "run.sqlite")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for i, what in ((0, "wall"), (1, "CPU")):
        live, plain = statistics.median(r[i] for r in live_s), statistics.median(r[i] for r in plain_s)
        print(f"{opts.task} (limit {opts.limit or 'none'}), {opts.repeats} repeats each, median {what} time: live "
              f"dashboard on a pty {live:.2f} s, --no-live {plain:.2f} s; overhead {100 * (live / plain - 1):+.1f}% "
              f"(goal < 2%)")
    print(f"one frame (snapshot + render): {1000 * frame:.1f} ms CPU; at most {1 / FRAME_S:g} frame/s, so the drawing "
          f"thread takes at most {100 * frame / FRAME_S:.1f}% of one core")


if __name__ == "__main__":
    main()
