"""The refine solver's own overhead per round, as a ratio to the direct solver's per-call overhead.

Both go through the runner's real per-trajectory path (``_run_one``: solver, sandboxed render in the
local worker pool, feedback image, every round scored, the store and artifacts written) with a model
that answers at once (no network, no latency), so what is timed is the harness alone. Each refine
round answers a different SVG, so every trajectory runs all its rounds.

    PYTHONPATH=$PWD python benchmarks/refine.py [--samples 12] [--rounds 3] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from svgarena.agents import Reply, get_solver

SVG = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 128 128"><rect width="128" height="128" fill="#fff"/>'
       '<circle cx="64" cy="64" r="{r}" fill="#3b82f6"/><path d="M20 100 Q64 {q} 108 100" stroke="#111" '
       'stroke-width="4" fill="none"/></svg>')


class ZeroLatency:
    """Answers every request at once with a new SVG (so no identical-SVG stop cuts a trajectory short)."""

    name = "bench/zero-latency"
    video_format = None
    images = True

    def __init__(self) -> None:
        self.calls = 0

    def supports(self, task: Any) -> str | None:
        return None

    async def respond(self, sample: Any, messages: list[dict[str, Any]]) -> Reply:
        self.calls += 1
        return Reply(text=SVG.format(r=10 + self.calls % 50, q=10 + self.calls % 80))


async def _time_arm(solver: str, feedback: str, samples: list, task: Any, rounds: int, tmp: Path, tag: str) -> tuple[float, int]:
    from svgarena.harness import RunConfig
    from svgarena.harness._artifacts import ArtifactStore
    from svgarena.harness._runner import _LazyAnimation, _run_one
    from svgarena.harness._store import RunStore
    from svgarena.sandboxes import RenderSpec, open_backend
    from svgarena.scoring import get_token_counter

    config = RunConfig(solver=solver, rounds=rounds, feedback=feedback, out=str(tmp), run_id=tag, workers=1)
    config.run_dir.mkdir(parents=True)
    store = RunStore(config.run_dir / "run.sqlite")
    store.init_run(tag, config.to_dict(), {})
    artifacts = ArtifactStore(config.run_dir / "artifacts")
    tokens = get_token_counter("utf8-bytes")
    renderer = await asyncio.to_thread(open_backend, "local", 1)
    model = ZeroLatency()
    animation = _LazyAnimation()
    solve = get_solver(solver)
    try:
        await renderer.render(SVG.format(r=5, q=5), RenderSpec())  # the worker is warm before timing
        start = time.perf_counter()
        for sample in samples:
            await _run_one(task, sample, 0, model, config, store, artifacts, renderer, animation, RenderSpec(),
                           solve, tokens)
        elapsed = time.perf_counter() - start
    finally:
        await renderer.close()
        store.close()
    return elapsed, model.calls


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=12)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from svgarena.tasks import get_task, iter_samples, resolve_suite

    task = get_task("icon/img2svg")
    root = resolve_suite("sarena-mini")
    samples = [s for _, s in zip(range(args.samples), iter_samples(root, task))]
    arms = (("direct", "render"), ("refine", "none"), ("refine", "render"), ("refine", "render+target"))
    per_call: dict[str, list[float]] = {f"{s}/{f}": [] for s, f in arms}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeats):  # interleaved, so a busy machine slows every arm alike
            for solver, feedback in arms:
                seconds, calls = asyncio.run(_time_arm(solver, feedback, samples, task, args.rounds, Path(tmp),
                                                       f"{solver}-{feedback.replace('+', '-')}-{rep}"))
                per_call[f"{solver}/{feedback}"].append(seconds / calls)
    direct = statistics.median(per_call["direct/render"])
    print(f"{len(samples)} samples of {task.id} from sarena-mini, refine with {args.rounds} rounds, "
          f"median of {args.repeats} repeats, zero-latency model:")
    for arm, values in per_call.items():
        med = statistics.median(values)
        print(f"  {arm:22s} {1000 * med:7.1f} ms per call   x{med / direct:.2f} of direct")


if __name__ == "__main__":
    main()
