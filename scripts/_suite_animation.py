"""The ``animation/`` part of the bundled ``sarena-mini`` suite (text2sani and video2sani).

    build(root)   # root = svgarena/tasks/data/sarena-mini

Every animation here is written by this module: small SMIL animations on SArena's 128x128
canvas, produced from parameterised families (sliding, spinning, pulsing, colour cycling,
fading, path morphing, motion along a path, bouncing, heart beat, stroke drawing, traffic
light, loading dots, equaliser, pendulum). Each family gives two variants with different
parameters: the first is a text2sani sample, the second a video2sani sample, so the two task
files share ``svg/``, ``video/`` and ``overall/`` with distinct ids.

Layout (as SArena's release):

    animation/text2sani.jsonl      {"id", "conversations": [human prompt, gpt reference SVG]}
    animation/video2sani.jsonl     the same plus "video": "video/<id>.mp4"
    animation/svg/<id>.svg         reference SVGs
    animation/video/<id>.mp4       references rendered at 448x448, 150 frames at 30 fps
    animation/overall/<id>.mp4     the same captured at 128x128 (FVD reference set)
    animation/README.md

Videos come from ``svgarena.sandboxes._browser.BrowserAnimationRenderer.render_mp4``: SArena's
Chromium capture (``setCurrentTime(i / 30)``, i = 0..149) encoded as H.264 yuv420p.
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _suite_common import PALETTE, record, write_jsonl  # noqa: E402

SVG_NS = "http://www.w3.org/2000/svg"
MAX_BYTES = 2_500_000

TEXT2SANI_HEADER = (
    "As an expert in SVG animation, you will be given an instruction. Please generate an "
    "animated SVG (SMIL animation, 128x128 viewBox) that satisfies the instruction. Instruction: "
)
VIDEO2SANI_PROMPT = (
    "As an expert in SVG animation, you will be given a video of an animation (5 seconds at "
    "30 frames per second). Please generate an animated SVG (SMIL animation, 128x128 viewBox) "
    "that reproduces the video as faithfully as possible. Instruction: Convert the animation in "
    "the video into an animated SVG."
)
# SArena's evaluator takes the ViCLIP text as the part after "Instruction: " in every record of
# both files, so video2sani prompts carry that marker too.


def _n(x: float) -> str:
    s = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if s in ("", "-0") else s


def _doc(body: str) -> str:
    return (f'<svg xmlns="{SVG_NS}" viewBox="0 0 128 128" width="128" height="128">\n'
            f"{body}\n</svg>\n")


def _secs(d: float) -> str:
    return f"{_n(d)} second" + ("" if d == 1 else "s")


# ---------------------------------------------------------------- families
# Each returns (svg, instruction). ``c`` names are keys of PALETTE.


def slide(c: str, axis: str, dur: float) -> tuple[str, str]:
    attr = "cx" if axis == "x" else "cy"
    fixed = "cy" if axis == "x" else "cx"
    body = (f'<circle {attr}="20" {fixed}="64" r="14" fill="{PALETTE[c]}">\n'
            f'<animate attributeName="{attr}" values="20;108;20" dur="{_n(dur)}s" '
            f'repeatCount="indefinite"/>\n</circle>')
    where = "from the left edge to the right edge" if axis == "x" else "from the top to the bottom"
    return _doc(body), (f"A {c} circle slides {where} and back, taking {_secs(dur)} per round "
                        "trip, repeating forever.")


def spin(c: str, clockwise: bool, dur: float) -> tuple[str, str]:
    end = 360 if clockwise else -360
    body = (f'<rect x="36" y="36" width="56" height="56" rx="6" fill="{PALETTE[c]}">\n'
            f'<animateTransform attributeName="transform" type="rotate" from="0 64 64" '
            f'to="{end} 64 64" dur="{_n(dur)}s" repeatCount="indefinite"/>\n</rect>')
    way = "clockwise" if clockwise else "counterclockwise"
    return _doc(body), (f"A {c} rounded square spins {way} around the center, one full turn "
                        f"every {_secs(dur)}.")


def pulse(c: str, r0: float, r1: float, dur: float) -> tuple[str, str]:
    body = (f'<circle cx="64" cy="64" r="{_n(r0)}" fill="{PALETTE[c]}">\n'
            f'<animate attributeName="r" values="{_n(r0)};{_n(r1)};{_n(r0)}" dur="{_n(dur)}s" '
            f'repeatCount="indefinite"/>\n</circle>')
    return _doc(body), (f"A {c} circle in the center pulses, its radius growing from {_n(r0)} to "
                        f"{_n(r1)} and shrinking back every {_secs(dur)}.")


def colour_cycle(cs: list[str], dur: float, shape: str) -> tuple[str, str]:
    values = ";".join(PALETTE[c] for c in [*cs, cs[0]])
    anim = f'<animate attributeName="fill" values="{values}" dur="{_n(dur)}s" repeatCount="indefinite"/>'
    if shape == "square":
        body = f'<rect x="24" y="24" width="80" height="80" rx="12" fill="{PALETTE[cs[0]]}">\n{anim}\n</rect>'
    else:
        body = f'<circle cx="64" cy="64" r="42" fill="{PALETTE[cs[0]]}">\n{anim}\n</circle>'
    names = ", ".join(cs[:-1]) + f" and {cs[-1]}"
    return _doc(body), (f"A large {shape} smoothly changes colour through {names} and back, "
                        f"cycling every {_secs(dur)}.")


def _star_points(cx: float, cy: float, r_out: float, r_in: float, n: int = 5) -> str:
    pts = []
    for k in range(2 * n):
        r = r_out if k % 2 == 0 else r_in
        a = -math.pi / 2 + k * math.pi / n
        pts.append(f"{_n(cx + r * math.cos(a))},{_n(cy + r * math.sin(a))}")
    return " ".join(pts)


def fade(c: str, dur: float, shape: str) -> tuple[str, str]:
    anim = f'<animate attributeName="opacity" values="1;0;1" dur="{_n(dur)}s" repeatCount="indefinite"/>'
    if shape == "star":
        body = f'<polygon points="{_star_points(64, 66, 50, 20)}" fill="{PALETTE[c]}">\n{anim}\n</polygon>'
    else:
        body = f'<polygon points="64,18 112,104 16,104" fill="{PALETTE[c]}">\n{anim}\n</polygon>'
    return _doc(body), (f"A {c} {shape} fades out completely and fades back in, every "
                        f"{_secs(dur)}.")


def _poly_path(pts: list[tuple[float, float]]) -> str:
    return "M" + " L".join(f"{_n(x)} {_n(y)}" for x, y in pts) + " Z"


def morph(c: str, n: int, dur: float) -> tuple[str, str]:
    """A regular n-gon morphs into an n-pointed star (same 2n vertices) and back."""
    poly, star = [], []
    for k in range(2 * n):
        a = -math.pi / 2 + k * math.pi / n
        if k % 2 == 0:
            poly.append((64 + 46 * math.cos(a), 64 + 46 * math.sin(a)))
            star.append((64 + 50 * math.cos(a), 64 + 50 * math.sin(a)))
        else:  # midpoint of the polygon edge vs. the star's inner vertex
            a0, a1 = a - math.pi / n, a + math.pi / n
            poly.append((64 + 23 * (math.cos(a0) + math.cos(a1)), 64 + 23 * (math.sin(a0) + math.sin(a1))))
            star.append((64 + 18 * math.cos(a), 64 + 18 * math.sin(a)))
    p0, p1 = _poly_path(poly), _poly_path(star)
    body = (f'<path d="{p0}" fill="{PALETTE[c]}">\n'
            f'<animate attributeName="d" values="{p0};{p1};{p0}" dur="{_n(dur)}s" '
            f'repeatCount="indefinite"/>\n</path>')
    shape = {3: "triangle", 4: "square", 5: "pentagon", 6: "hexagon"}[n]
    return _doc(body), (f"A {c} {shape} morphs into a {n}-pointed star and back into a {shape}, "
                        f"every {_secs(dur)}.")


def orbit(c: str, path_kind: str, dur: float) -> tuple[str, str]:
    if path_kind == "circle":
        d = "M64 24 A40 40 0 1 1 63.99 24 Z"
        desc = "a circular track around a gray dot in the center"
        centre = '<circle cx="64" cy="64" r="6" fill="#757575"/>\n'
    else:
        d = "M20 64 C20 30 64 30 64 64 C64 98 108 98 108 64 C108 30 64 30 64 64 C64 98 20 98 20 64 Z"
        desc = "a figure-eight track"
        centre = ""
    body = (f'<path d="{d}" fill="none" stroke="#bdbdbd" stroke-width="2"/>\n{centre}'
            f'<circle r="9" fill="{PALETTE[c]}">\n'
            f'<animateMotion path="{d}" dur="{_n(dur)}s" repeatCount="indefinite"/>\n</circle>')
    return _doc(body), (f"A small {c} ball travels along {desc}, one lap every {_secs(dur)}.")


def bounce(c: str, dur: float) -> tuple[str, str]:
    body = ('<rect x="8" y="112" width="112" height="6" fill="#757575"/>\n'
            f'<circle cx="64" cy="24" r="12" fill="{PALETTE[c]}">\n'
            f'<animate attributeName="cy" values="24;100;24" keyTimes="0;0.5;1" '
            f'calcMode="spline" keySplines="0.5 0 1 1;0 0 0.5 1" dur="{_n(dur)}s" '
            f'repeatCount="indefinite"/>\n</circle>')
    return _doc(body), (f"A {c} ball falls onto a gray floor, bounces back up and keeps bouncing, "
                        f"one bounce every {_secs(dur)}.")


def heartbeat(c: str, scale: float, dur: float) -> tuple[str, str]:
    heart = ("M0 14 C-20 0 -34 -10 -34 -24 C-34 -36 -24 -42 -16 -42 C-8 -42 -2 -36 0 -30 "
             "C2 -36 8 -42 16 -42 C24 -42 34 -36 34 -24 C34 -10 20 0 0 14 Z")
    body = (f'<g transform="translate(64 78)">\n<path d="{heart}" fill="{PALETTE[c]}">\n'
            f'<animateTransform attributeName="transform" type="scale" '
            f'values="1;{_n(scale)};1;{_n(scale)};1;1" keyTimes="0;0.15;0.3;0.45;0.6;1" '
            f'dur="{_n(dur)}s" repeatCount="indefinite"/>\n</path>\n</g>')
    return _doc(body), (f"A {c} heart beats twice quickly, growing to {_n(scale)} times its size, "
                        f"then rests; the beat repeats every {_secs(dur)}.")


def draw_stroke(c: str, shape: str, dur: float) -> tuple[str, str]:
    if shape == "circle":
        length = 2 * math.pi * 44
        el = 'circle cx="64" cy="64" r="44"'
        extra = ' transform="rotate(-90 64 64)"'
    else:
        length = 4 * 80
        el = 'rect x="24" y="24" width="80" height="80"'
        extra = ""
    L = _n(length)
    body = (f'<{el} fill="none" stroke="{PALETTE[c]}" stroke-width="8" stroke-linecap="round" '
            f'stroke-dasharray="{L}" stroke-dashoffset="{L}"{extra}>\n'
            f'<animate attributeName="stroke-dashoffset" values="{L};0;0" keyTimes="0;0.8;1" '
            f'dur="{_n(dur)}s" repeatCount="indefinite"/>\n</{el.split()[0]}>')
    return _doc(body), (f"The outline of a {c} {shape} is drawn progressively with a thick "
                        f"stroke, then redrawn from scratch every {_secs(dur)}.")


def traffic_light(dur: float, horizontal: bool) -> tuple[str, str]:
    lamps = [("red", "#e53935"), ("yellow", "#fdd835"), ("green", "#43a047")]
    if horizontal:
        box = '<rect x="10" y="40" width="108" height="48" rx="10" fill="#212121"/>'
        pos = [(30, 64), (64, 64), (98, 64)]
    else:
        box = '<rect x="40" y="10" width="48" height="108" rx="10" fill="#212121"/>'
        pos = [(64, 30), (64, 64), (64, 98)]
    parts = [box]
    for k, ((name, col), (x, y)) in enumerate(zip(lamps, pos)):
        kt = ["#555555"] * 3
        kt[k] = col
        values = ";".join(kt + [kt[0]])
        parts.append(f'<circle cx="{x}" cy="{y}" r="14" fill="#555555">\n'
                     f'<animate attributeName="fill" values="{values}" keyTimes="0;0.3333;0.6667;1" '
                     f'calcMode="discrete" dur="{_n(dur)}s" repeatCount="indefinite"/>\n</circle>')
    layout = "horizontal" if horizontal else "vertical"
    return _doc("\n".join(parts)), (f"A {layout} traffic light switches its lamps red, yellow, "
                                     f"green in turn; the full cycle takes {_secs(dur)}.")


def loading_dots(c: str, dur: float, prop: str) -> tuple[str, str]:
    parts = []
    for k, x in enumerate((34, 64, 94)):
        begin = _n(k * dur / 6)
        if prop == "opacity":
            anim = (f'<animate attributeName="opacity" values="1;0.2;1" dur="{_n(dur)}s" '
                    f'begin="{begin}s" repeatCount="indefinite"/>')
        else:
            anim = (f'<animate attributeName="cy" values="64;44;64;64" keyTimes="0;0.25;0.5;1" '
                    f'dur="{_n(dur)}s" begin="{begin}s" repeatCount="indefinite"/>')
        parts.append(f'<circle cx="{x}" cy="64" r="10" fill="{PALETTE[c]}">\n{anim}\n</circle>')
    what = "fade in and out" if prop == "opacity" else "hop up and down"
    return _doc("\n".join(parts)), (f"Three {c} loading dots in a row {what} one after another, "
                                     f"in a wave that repeats every {_secs(dur)}.")


def equaliser(c: str, n: int, dur: float) -> tuple[str, str]:
    parts = []
    w = 80 / (2 * n - 1)
    for k in range(n):
        x = 24 + 2 * k * w
        hs = [20 + 60 * ((k * 37 + j * 53) % 10) / 10 for j in range(3)]
        hv = ";".join(_n(h) for h in [*hs, hs[0]])
        yv = ";".join(_n(104 - h) for h in [*hs, hs[0]])
        d = _n(dur * (0.6 + 0.1 * k))
        parts.append(f'<rect x="{_n(x)}" y="{_n(104 - hs[0])}" width="{_n(w)}" height="{_n(hs[0])}" '
                     f'fill="{PALETTE[c]}">\n'
                     f'<animate attributeName="height" values="{hv}" dur="{d}s" repeatCount="indefinite"/>\n'
                     f'<animate attributeName="y" values="{yv}" dur="{d}s" repeatCount="indefinite"/>\n'
                     '</rect>')
    return _doc("\n".join(parts)), (f"An audio equaliser of {n} {c} vertical bars standing on a "
                                     "common baseline, each bar rising and falling at its own pace.")


def pendulum(c: str, angle: float, dur: float) -> tuple[str, str]:
    a = _n(angle)
    body = ('<rect x="34" y="12" width="60" height="6" rx="3" fill="#757575"/>\n'
            f'<g>\n<animateTransform attributeName="transform" type="rotate" '
            f'values="-{a} 64 16;{a} 64 16;-{a} 64 16" keyTimes="0;0.5;1" calcMode="spline" '
            f'keySplines="0.45 0 0.55 1;0.45 0 0.55 1" dur="{_n(dur)}s" repeatCount="indefinite"/>\n'
            '<line x1="64" y1="16" x2="64" y2="92" stroke="#212121" stroke-width="3"/>\n'
            f'<circle cx="64" cy="96" r="14" fill="{PALETTE[c]}"/>\n</g>')
    return _doc(body), (f"A pendulum with a {c} bob hanging from a gray bar swings {a} degrees to "
                        f"each side, one full swing every {_secs(dur)}.")


# family, text2sani parameters, video2sani parameters
FAMILIES: list[tuple[Callable[..., tuple[str, str]], dict[str, Any], dict[str, Any]]] = [
    (slide, {"c": "red", "axis": "x", "dur": 2.5}, {"c": "blue", "axis": "y", "dur": 2}),
    (spin, {"c": "blue", "clockwise": True, "dur": 2.5}, {"c": "orange", "clockwise": False, "dur": 5}),
    (pulse, {"c": "green", "r0": 16, "r1": 44, "dur": 1.25}, {"c": "purple", "r0": 24, "r1": 40, "dur": 2.5}),
    (colour_cycle, {"cs": ["red", "blue", "green"], "dur": 3, "shape": "square"},
     {"cs": ["orange", "purple"], "dur": 2.5, "shape": "circle"}),
    (fade, {"c": "purple", "dur": 2.5, "shape": "star"}, {"c": "teal", "dur": 1.25, "shape": "triangle"}),
    (morph, {"c": "orange", "n": 5, "dur": 2.5}, {"c": "red", "n": 6, "dur": 5}),
    (orbit, {"c": "red", "path_kind": "circle", "dur": 2.5}, {"c": "blue", "path_kind": "eight", "dur": 5}),
    (bounce, {"c": "blue", "dur": 1.25}, {"c": "green", "dur": 1}),
    (heartbeat, {"c": "red", "scale": 1.3, "dur": 1.25}, {"c": "pink", "scale": 1.5, "dur": 2.5}),
    (draw_stroke, {"c": "teal", "shape": "circle", "dur": 2.5}, {"c": "red", "shape": "square", "dur": 5}),
    (traffic_light, {"dur": 3, "horizontal": False}, {"dur": 1.5, "horizontal": True}),
    (loading_dots, {"c": "gray", "dur": 1.25, "prop": "opacity"}, {"c": "blue", "dur": 1, "prop": "hop"}),
    (equaliser, {"c": "green", "n": 5, "dur": 1.5}, {"c": "purple", "n": 4, "dur": 2}),
    (pendulum, {"c": "orange", "angle": 30, "dur": 2}, {"c": "blue", "angle": 35, "dur": 2.5}),
]


def samples() -> tuple[list[tuple[int, str, str]], list[tuple[int, str, str]]]:
    """(id, svg, instruction) for text2sani and for video2sani; ids distinct across both."""
    t2s, v2s = [], []
    for k, (family, pa, pb) in enumerate(FAMILIES):
        t2s.append((2 * k, *family(**pa)))
        v2s.append((2 * k + 1, *family(**pb)))
    return t2s, v2s


def _folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


async def _render_all(items: list[tuple[int, str]], anim: Path, progress=None) -> tuple[str, float]:
    """Capture and encode every sample's videos; ``progress(done, total, what)`` after each one."""
    import time

    from svgarena.sandboxes._browser import BrowserAnimationRenderer

    async with BrowserAnimationRenderer(pages=2, timeout_s=300) as renderer:
        sem = asyncio.Semaphore(2)
        seconds: list[float] = []

        async def one(sid: int, svg: str) -> None:
            async with sem:
                t0 = time.perf_counter()
                res = await renderer.render_mp4(svg, anim / "video" / f"{sid}.mp4",
                                                anim / "overall" / f"{sid}.mp4")
                if not res.ok:
                    raise RuntimeError(f"animation {sid} did not render: {res.outcome} {res.reason}")
                seconds.append(time.perf_counter() - t0)
                if progress is not None:
                    progress(len(seconds), len(items), f"sample {sid}")

        await asyncio.gather(*(one(sid, svg) for sid, svg in items))
        return renderer.browser_version, sum(seconds) / max(1, len(seconds))


def _readme(version: str, n_t2s: int, n_v2s: int) -> str:
    from svgarena.sandboxes._browser import CHROMIUM_ARGS

    fam = ", ".join(f.__name__.replace("_", " ") for f, _, _ in FAMILIES)
    return f"""# sarena-mini: animation

Small SMIL animations in SArena's `animation/` layout: {n_t2s} text2sani and {n_v2s} video2sani
samples. All of them (SVGs, instructions, prompts and videos) are this project's own work,
generated by `scripts/_suite_animation.py` from parameterised families ({fam}); each family
gives one text2sani and one video2sani variant with different parameters. No third-party
content. Licence: the same as the project, Apache-2.0.

## Files

- `text2sani.jsonl`, `video2sani.jsonl`: `{{"id", "conversations": [prompt, reference SVG]}}`;
  video2sani records add `"video": "video/<id>.mp4"`. Ids are distinct across both files. Every
  prompt ends with `Instruction: ...` (SArena's evaluator takes the ViCLIP text from there).
- `svg/<id>.svg`: the reference SVGs (viewBox 0 0 128 128).
- `video/<id>.mp4`: the references at 448x448, 150 frames at 30 fps (5 s), H.264 yuv420p.
- `overall/<id>.mp4`: the references at 128x128 (the FVD reference set), same timing.

## How the videos were made

`svgarena.sandboxes._browser.BrowserAnimationRenderer.render_mp4`, SArena's procedure
(`utils/svg_animate.py`): the SVG is inlined in a page whose body fills the viewport, the root
svg gets width/height 100%, `preserveAspectRatio="xMidYMid meet"` and a white background rect
covering its viewBox; the SMIL timeline is paused and set with `setCurrentTime(i / 30)` for
i = 0..149 and one screenshot is taken per frame. The 128x128 videos are a second capture in a
128x128 viewport (as SArena does), not a resize of the 448 frames. Frames were encoded with
libx264 (`-preset medium -crf 23 -pix_fmt yuv420p`) by the ffmpeg binary of `imageio-ffmpeg`.

- Browser: Chromium {version} (Debian package), Playwright, new headless mode, software
  rendering (`--disable-gpu`), device scale factor 1, JavaScript disabled in the page.
- Chromium flags: `{' '.join(CHROMIUM_ARGS)}`.

Rebuild with `python scripts/build_sarena_mini.py` (or `_suite_animation.build(root)`); a
different Chromium version can change antialiasing by a few levels.
"""


def build(root: Path, progress=None) -> None:
    """(Re)write ``root/animation``: jsonl files, reference SVGs, 448 and 128 videos, README.
    ``progress(done, total, what)`` follows the video captures, the long part."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    root = Path(root)
    anim = root / "animation"
    if anim.exists():
        shutil.rmtree(anim)
    for sub in ("svg", "video", "overall"):
        (anim / sub).mkdir(parents=True, exist_ok=True)

    t2s, v2s = samples()
    for sid, svg, _ in (*t2s, *v2s):
        (anim / "svg" / f"{sid}.svg").write_text(svg, encoding="utf-8", newline="\n")

    write_jsonl(anim / "text2sani.jsonl",
                (record(sid, TEXT2SANI_HEADER + text, svg) for sid, svg, text in t2s))
    write_jsonl(anim / "video2sani.jsonl",
                (record(sid, VIDEO2SANI_PROMPT, svg, video=f"video/{sid}.mp4") for sid, svg, _ in v2s))

    items = [(sid, svg) for sid, svg, _ in sorted((*t2s, *v2s))]
    if progress is not None:
        progress(0, len(items), "")
    version, per_video = asyncio.run(_render_all(items, anim, progress))
    (anim / "README.md").write_text(_readme(version, len(t2s), len(v2s)), encoding="utf-8", newline="\n")

    size = _folder_size(anim)
    print(f"animation: {len(t2s)} text2sani + {len(v2s)} video2sani, {size / 1e6:.2f} MB, "
          f"{per_video:.1f} s per sample (448 + 128 capture and encode), Chromium {version}")
    if size > MAX_BYTES:
        raise RuntimeError(f"animation/ is {size / 1e6:.2f} MB, over the {MAX_BYTES / 1e6:.1f} MB budget")


if __name__ == "__main__":
    build(Path(__file__).resolve().parent.parent / "svgarena" / "tasks" / "data" / "sarena-mini")
