"""Time `report` intervals and `compare` on a synthetic store: 10,000 samples x 3 models, 5 metrics.

    PYTHONPATH=$PWD python benchmarks/analysis_ci.py [--samples N] [--bootstrap B]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from svgarena.harness import RunStore, compare_runs, load_results


def build(path: Path, n: int) -> None:
    store = RunStore(path)
    store.init_run("bench", {"seed": 0}, {})
    rng = np.random.default_rng(0)
    with store._tx():
        for m, shift in (("a", 0.0), ("b", 0.01), ("c", -0.01)):
            for i in range(n):
                ok = bool(rng.random() > 0.1)
                tid = store.db.execute(
                    "INSERT INTO trajectories (task, model, solver, sample_id, epoch, status, outcome, started) "
                    "VALUES ('icon/edit/color_simple', ?, 'direct', ?, 0, 'done', ?, 0)",
                    (m, str(i), "ok" if ok else "parse_error")).lastrowid
                store.db.executemany("INSERT INTO scores VALUES (?,?,?,?,NULL)",
                                     [(tid, k, float(rng.uniform(0.3, 0.8) + shift), int(ok))
                                      for k in ("dino", "ssim", "lpips", "psnr", "token_length")])
    store.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--bootstrap", type=int, default=1000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench" / "run.sqlite"
        path.parent.mkdir()
        build(path, args.samples)
        t = time.perf_counter()
        load_results(path, bootstrap=args.bootstrap)
        t_report = time.perf_counter() - t
        t = time.perf_counter()
        compare_runs([path], n_boot=args.bootstrap)
        t_compare = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.samples} samples x 3 models, {args.bootstrap} resamples: report {t_report:.1f} s, "
          f"compare {t_compare:.1f} s, peak RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
