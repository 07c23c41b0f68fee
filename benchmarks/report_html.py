"""Size and build time of `report --html` on a synthetic run of 10,000 samples.

    PYTHONPATH=$PWD python benchmarks/report_html.py [--samples 10000] [--limits 0,100]

The store is written through the RunStore API: icon/img2svg, two models of samples/2 samples each,
one round per sample with a small distinct PNG render (64 px) and a short SVG, a suite folder in
SArena layout with one small input PNG per sample, 10% of samples failing with a reason. For each
``--gallery-limit`` it prints the page size, the image folder size (auto mode), the number of cards
and the build time; the tables and intervals always cover all samples.
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def _png(rng: np.random.Generator, size: int = 64) -> bytes:
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (size, size), "white")
    d = ImageDraw.Draw(im)
    for _ in range(3):
        x, y = rng.integers(0, size - 8, 2)
        w, h = rng.integers(6, size // 2, 2)
        d.ellipse([int(x), int(y), int(x + w), int(y + h)], fill=tuple(int(c) for c in rng.integers(0, 255, 3)))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def build(root: Path, n: int) -> Path:
    from svgarena.harness import ArtifactStore, RunStore, TrajectoryKey

    rng = np.random.default_rng(0)
    per_model = n // 2
    gen = root / "suite" / "Icon" / "generation"
    (gen / "images").mkdir(parents=True)
    (gen / "svg").mkdir()
    lines = []
    for i in range(per_model):
        svg = f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><circle cx="32" cy="32" r="{i % 30}"/></svg>'
        (gen / "svg" / f"{i}.svg").write_text(svg)
        (gen / "images" / f"{i}.png").write_bytes(_png(rng))
        lines.append(json.dumps({"id": i, "image": f"images/{i}.png", "conversations": [
            {"from": "human", "value": "Convert this image to SVG."}, {"from": "gpt", "value": svg}]}))
    (gen / "img2svg.jsonl").write_text("\n".join(lines) + "\n")

    run_dir = root / "runs" / "bench"
    store = RunStore(run_dir / "run.sqlite")
    store.init_run("bench", {"suite": str(root / "suite"), "solver": "direct", "seed": 0}, {})
    artifacts = ArtifactStore(run_dir / "artifacts")
    for model in ("model-a", "model-b"):
        for i in range(per_model):
            tid = store.start_trajectory(TrajectoryKey("icon/img2svg", model, "direct", str(i)))
            ok = rng.random() > 0.1
            svg = artifacts.put_text(f'<svg xmlns="http://www.w3.org/2000/svg"><!-- {model} {i} --><rect/></svg>')
            media = {"png": artifacts.put(_png(rng), "png")} if ok else {}
            store.add_attempt(tid, {"round": 0, "outcome": "ok" if ok else "parse_error",
                                    "reason": None if ok else "mismatched tag: line 1, column 40",
                                    "reply": "...", "answer": svg, "media": media, "input_tokens": 100,
                                    "output_tokens": 50})
            scores = [(m, float(rng.uniform(0.3, 0.9)) if ok else 0.0, ok, None) for m in ("dino", "ssim", "lpips", "psnr")]
            store.finish_trajectory(tid, outcome="ok" if ok else "parse_error", answer=svg, media=media,
                                    scores=scores, round_scores=[(0, *s) for s in scores])
    store.set_status("done")
    store.close()
    return run_dir


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--limits", default="0,100", help="--gallery-limit values to measure (0: every sample)")
    ap.add_argument("--bootstrap", type=int, default=1000)
    args = ap.parse_args()
    from svgarena.harness import build_html

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        run_dir = build(Path(tmp), args.samples)
        print(f"synthetic store: {args.samples} samples in {time.perf_counter() - t0:.1f} s")
        for limit in (int(x) for x in args.limits.split(",")):
            rep = build_html(run_dir, Path(tmp) / f"report-{limit}.html", gallery_limit=limit,
                             bootstrap=args.bootstrap)
            folder = f", {rep.files_bytes / 1e6:.1f} MB of thumbnails in {rep.files_dir.name}/" if rep.files_dir else \
                ", thumbnails embedded"
            print(f"--gallery-limit {limit}: {rep.shown} of {rep.samples} samples shown, page "
                  f"{rep.page_bytes / 1e6:.2f} MB{folder}, {rep.images} thumbnails, built in {rep.seconds:.1f} s")


if __name__ == "__main__":
    main()
