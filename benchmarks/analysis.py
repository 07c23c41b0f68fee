"""Time `report --rounds` and `compare` on a synthetic multi-round store, with peak memory per phase.

10,000 samples x 3 models x up to 4 refine rounds (a fifth of the trajectories stop after round 1),
five metrics per round (DINO, SSIM, LPIPS, PSNR, token length), 1,000 bootstrap resamples. Each
phase runs in a fresh child process so its peak RSS is its own:

    PYTHONPATH=$PWD python benchmarks/analysis.py [--samples N] [--rounds R] [--bootstrap B]

`report --rounds` is what the CLI does: the headline report with intervals plus the rounds analytics.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TASK = "icon/img2svg"
METRICS = ("dino", "ssim", "lpips", "psnr", "token_length")
ARM = json.dumps({"solver": "refine", "feedback": "render", "rounds": 4, "oracle": False, "selection": "last"})


def build(run_dir: Path, n: int, rounds: int) -> None:
    from svgarena.harness import RunStore

    run_dir.mkdir(parents=True)
    arts = run_dir / "artifacts"
    names = []
    for k in range(500):  # a pool of real SVG artifacts, so the SVG-length column reads files
        text = f'<svg xmlns="http://www.w3.org/2000/svg">{"<rect/>" * (k % 50 + 1)}</svg>'.encode()
        digest = hashlib.sha256(text).hexdigest()
        (arts / digest[:2]).mkdir(parents=True, exist_ok=True)
        (arts / digest[:2] / f"{digest}.svg").write_bytes(text)
        names.append(f"{digest}.svg")
    store = RunStore(run_dir / "run.sqlite")
    store.init_run("bench", {"seed": 0, "suite": "synthetic"}, {})
    rng = np.random.default_rng(0)
    with store._tx():
        for m, shift in (("a", 0.0), ("b", 0.01), ("c", -0.01)):
            for i in range(n):
                last = 1 if rng.random() < 0.2 else rounds - 1
                ok = rng.random(last + 1) > 0.1
                base = rng.uniform(0.3, 0.7)
                tid = store.db.execute(
                    "INSERT INTO trajectories (task, model, solver, sample_id, epoch, status, outcome, started, "
                    "stop_reason, selection, selected_round, arm) VALUES (?, ?, 'refine', ?, 0, 'done', ?, 0, ?, "
                    "'last', ?, ?)",
                    (TASK, m, str(i), "ok" if ok[-1] else "parse_error",
                     "done marker" if last < rounds - 1 else "rounds exhausted", last, ARM)).lastrowid
                store.db.executemany(
                    "INSERT INTO attempts (trajectory_id, round, outcome, answer, input_tokens, output_tokens, "
                    "cost_usd, latency_s, svg_hash, model_chose, created) VALUES (?,?,?,?,?,?,?,?,?,?,0)",
                    [(tid, r, "ok" if ok[r] else "parse_error", names[int(rng.integers(500))], 500 + 400 * r, 300,
                      0.001, 1.5, f"h{i}-{r if rng.random() > 0.1 else r - 1}", int(r == last and last < rounds - 1))
                     for r in range(last + 1)])
                vals = [(tid, r, k, float(base + shift + 0.03 * r + rng.normal(0, 0.02)), int(ok[r]))
                        for r in range(last + 1) for k in METRICS]
                store.db.executemany("INSERT INTO round_scores VALUES (?,?,?,?,?,NULL)", vals)
                store.db.executemany("INSERT INTO scores VALUES (?,?,?,?,NULL)",
                                     [(tid, k, v, o) for t_, r, k, v, o in vals if r == last])
    store.close()


def phase(name: str, store: Path, n_boot: int) -> None:
    from svgarena.harness import compare_runs, load_results, load_rounds

    t, cpu = time.perf_counter(), time.process_time()
    if name == "report --rounds":
        load_results(store, bootstrap=n_boot)
        load_rounds(store, bootstrap=n_boot)
    else:
        compare_runs([store], n_boot=n_boot)
    seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"phase": name, "seconds": seconds, "cpu_seconds": cpu, "peak_rss_mib": rss}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--phase")
    ap.add_argument("--store")
    args = ap.parse_args()
    if args.phase:
        phase(args.phase, Path(args.store), args.bootstrap)
        return
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "bench"
        t = time.perf_counter()
        build(run_dir, args.samples, args.rounds)
        print(f"built {args.samples} samples x 3 models x up to {args.rounds} rounds in {time.perf_counter() - t:.0f} s")
        for name in ("report --rounds", "compare"):
            out = subprocess.run([sys.executable, __file__, "--phase", name, "--store", str(run_dir / "run.sqlite"),
                                  "--bootstrap", str(args.bootstrap)], capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{name}: {r['seconds']:.1f} s wall ({r['cpu_seconds']:.1f} s CPU), peak RSS {r['peak_rss_mib']:.0f} MiB "
                  f"({args.bootstrap} resamples)")


if __name__ == "__main__":
    main()
