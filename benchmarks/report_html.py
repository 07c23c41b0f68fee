"""Size and build time of `report --html` on a synthetic run of 10,000 samples.

    PYTHONPATH=$PWD python benchmarks/report_html.py [--samples 10000] [--limits 0,100] [--jobs N]

The store is written through the RunStore API and looks like a real img2svg run's: icon/img2svg, two
models of samples/2 samples each, one round per sample. Each sample is a distinct drawing of 9-13
filled, outlined polygons on a 128 px canvas: its reference SVG (2.4-3.8 KB of paths) and its 448 px
PNG render (about 7 KB; the bundled suite's are 4-17 KB) are the suite folder's (SArena layout, the
suite's real img2svg prompt); each model answers a perturbed copy (shapes moved, one dropped) in a
chat-style reply around a fenced SVG, stored with its own 448 px render, and 10% of answers fail
with a truncated SVG and a reason. The images are drawn and PNG-encoded in ``--jobs`` processes
(about 15,000 PNGs at 10,000 samples). For each ``--gallery-limit`` it prints the page size, the
image folder size (auto mode), the number of cards and the build time; the tables and intervals
always cover all samples.
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import time
from pathlib import Path

import numpy as np


MODELS = ("model-a", "model-b")
CANVAS = 128  # the SVG's viewBox, as SArena's icons
RENDER = 448  # px of a stored render and of a suite image, as SArena's
# The bundled suite's img2svg instruction, word for word.
PROMPT = ("As an expert in SVG generation, you will be given an image. Please convert the given image into SVG code "
          "that reproduces it as faithfully as possible. Use a 128x128 canvas (viewBox=\"0 0 128 128\").")

Shapes = list[tuple[str, np.ndarray]]  # (fill colour, polygon points in viewBox units)


def _shapes(rng: np.random.Generator) -> Shapes:
    out = []
    for _ in range(int(rng.integers(9, 14))):
        cx, cy = rng.uniform(10, CANVAS - 10, 2)
        k = int(rng.integers(10, 18))
        angles = np.sort(rng.uniform(0, 2 * np.pi, k))
        radii = rng.uniform(6, CANVAS / 3) * rng.uniform(0.6, 1.0, k)
        points = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], 1).clip(0, CANVAS)
        out.append(("#%02x%02x%02x" % tuple(int(c) for c in rng.integers(0, 255, 3)), np.round(points, 2)))
    return out


def _perturb(rng: np.random.Generator, shapes: Shapes) -> Shapes:
    """A model's imperfect copy: every shape moved a little, one dropped."""
    drop = int(rng.integers(0, len(shapes)))
    return [(c, np.round((p + rng.normal(0, 2.0, 2)).clip(0, CANVAS), 2)) for j, (c, p) in enumerate(shapes)
            if j != drop]


def _svg(shapes: Shapes) -> str:
    paths = "\n".join(
        f'  <path d="M{p[0, 0]:.2f} {p[0, 1]:.2f} ' + " ".join(f"L{x:.2f} {y:.2f}" for x, y in p[1:])
        + f' Z" fill="{c}" stroke="#1f2937" stroke-width="0.75" stroke-linejoin="round"/>' for c, p in shapes)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {CANVAS} {CANVAS}" width="{CANVAS}" '
            f'height="{CANVAS}">\n<g id="layer-1">\n{paths}\n</g>\n</svg>\n')


def _png(shapes: Shapes) -> bytes:
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (RENDER, RENDER), "white")
    draw = ImageDraw.Draw(im)
    scale = RENDER / CANVAS
    for colour, p in shapes:
        draw.polygon([(float(x * scale), float(y * scale)) for x, y in p], fill=colour, outline="#1f2937", width=2)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def _sample(i: int) -> dict:
    """Sample ``i`` (seeded by its index, so any process makes the same): its reference SVG and render, and each
    model's answer (SVG, reply, render or None when it failed)."""
    rng = np.random.default_rng([0, i])
    ref = _shapes(rng)
    out = {"ref_svg": _svg(ref), "ref_png": _png(ref), "answers": {}}
    for model in MODELS:
        mine = _perturb(rng, ref)
        svg = _svg(mine)
        ok = bool(rng.random() > 0.1)
        if not ok:  # cut off mid-element, as a reply that ran out of tokens
            svg = svg[: int(len(svg) * rng.uniform(0.4, 0.9))]
        reply = (f"Here is the SVG code that reproduces the image on a {CANVAS}x{CANVAS} canvas. The shapes are "
                 f"drawn back to front as filled paths with a thin dark outline.\n\n```svg\n{svg}"
                 + ("```\n" if ok else ""))
        out["answers"][model] = {"ok": ok, "svg": svg, "reply": reply, "png": _png(mine) if ok else None,
                                 "scores": [float(v) for v in rng.uniform(0.3, 0.9, 4)]}
    return out


def build(root: Path, n: int, jobs: int | None = None) -> Path:
    from concurrent.futures import ProcessPoolExecutor

    from svgarena.harness import ArtifactStore, RunStore, TrajectoryKey

    per_model = n // 2
    gen = root / "suite" / "Icon" / "generation"
    (gen / "images").mkdir(parents=True)
    (gen / "svg").mkdir()
    run_dir = root / "runs" / "bench"
    store = RunStore(run_dir / "run.sqlite")
    store.init_run("bench", {"suite": str(root / "suite"), "solver": "direct", "seed": 0}, {})
    artifacts = ArtifactStore(run_dir / "artifacts")
    lines = []
    svg_bytes = png_bytes = pngs = 0
    with ProcessPoolExecutor(max_workers=jobs) as pool:  # drawing and PNG encoding: about 15 ms an image
        for i, s in enumerate(pool.map(_sample, range(per_model), chunksize=32)):
            (gen / "svg" / f"{i}.svg").write_text(s["ref_svg"])
            (gen / "images" / f"{i}.png").write_bytes(s["ref_png"])
            svg_bytes, png_bytes, pngs = svg_bytes + len(s["ref_svg"]), png_bytes + len(s["ref_png"]), pngs + 1
            lines.append(json.dumps({"id": i, "image": f"images/{i}.png", "conversations": [
                {"from": "human", "value": PROMPT}, {"from": "gpt", "value": s["ref_svg"]}]}))
            for model, a in s["answers"].items():  # both models' answers as they come, as a run writes them
                media = {"png": artifacts.put(a["png"], "png")} if a["ok"] else {}
                png_bytes, pngs = png_bytes + len(a["png"] or b""), pngs + (a["png"] is not None)
                svg = artifacts.put_text(a["svg"])
                tid = store.start_trajectory(TrajectoryKey("icon/img2svg", model, "direct", str(i)))
                outcome = "ok" if a["ok"] else "parse_error"
                store.add_attempt(tid, {"round": 0, "outcome": outcome,
                                        "reason": None if a["ok"] else "no closing </svg> tag: the reply was cut off",
                                        "reply": a["reply"], "answer": svg, "media": media,
                                        "input_tokens": 1250, "output_tokens": 1100})
                scores = [(m, v if a["ok"] else 0.0, a["ok"], None)
                          for m, v in zip(("dino", "ssim", "lpips", "psnr"), a["scores"])]
                store.finish_trajectory(tid, outcome=outcome, answer=svg, media=media,
                                        scores=scores, round_scores=[(0, *sc) for sc in scores])
    (gen / "img2svg.jsonl").write_text("\n".join(lines) + "\n")
    print(f"  reference SVGs {svg_bytes / max(1, per_model) / 1e3:.1f} KB on average, "
          f"{pngs} PNGs of {RENDER} px, {png_bytes / max(1, pngs) / 1e3:.1f} KB on average")
    store.set_status("done")
    store.close()
    return run_dir


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--limits", default="0,100", help="--gallery-limit values to measure (0: every sample)")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=None, help="processes drawing the synthetic images (default: CPUs)")
    args = ap.parse_args()
    from svgarena.harness import build_html

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        run_dir = build(Path(tmp), args.samples, args.jobs)
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
