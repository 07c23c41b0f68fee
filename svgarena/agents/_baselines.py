"""Built-in baselines, addressed like models: the ceiling, the floor, and a classical tracer.

- ``baseline/oracle`` answers with the reference (the target letter, or the reference SVG): the
  ceiling, and a check that extraction, rendering and scoring agree with the references.
- ``baseline/blank`` answers with nothing: the floor, where every sample ends ``no_svg``.
- ``baseline/vtracer`` traces the input image with VTracer, the classical tracer the InternSVG
  paper reports on icon img2svg (SSIM .875).

Baseline replies cost nothing; their latency is measured like a model's.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

from svgarena.agents._types import Reply, Usage
from svgarena.tasks import TASKS, AnswerKind, Sample, Task

# SArena's SVGs are 128x128; the traced 448 px image is scaled onto that canvas.
SARENA_SIZE = 128

# VTracer settings for flat-coloured icons: full colour, stacked layers, spline curves, fine
# colour quantisation (so anti-aliased edges and light tints are kept) and small speckles dropped.
VTRACER_PARAMS: dict[str, Any] = {
    "colormode": "color",
    "hierarchical": "stacked",
    "mode": "spline",
    "filter_speckle": 4,
    "color_precision": 6,
    "layer_difference": 16,
    "corner_threshold": 60,
    "length_threshold": 4.0,
    "max_iterations": 10,
    "splice_threshold": 45,
    "path_precision": 3,
}


class OracleBaseline:
    """Answers with the reference: ``"B."`` for a choice task, the reference SVG text otherwise."""

    name = "baseline/oracle"

    def supports(self, task: Task) -> str | None:
        return None

    async def respond(self, sample: Sample, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
                      temperature: float | None = None) -> Reply:
        start = time.perf_counter()
        task = TASKS.get(sample.task)
        choice = task.answer is AnswerKind.CHOICE if task is not None else _is_letter(sample.target)
        if choice:
            text = f"{sample.target.strip()[:1]}."
        else:
            text = sample.target
        return Reply(text=text, usage=Usage(latency_s=time.perf_counter() - start))


class BlankBaseline:
    """Answers with an empty reply: the floor."""

    name = "baseline/blank"

    def supports(self, task: Task) -> str | None:
        return None

    async def respond(self, sample: Sample, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
                      temperature: float | None = None) -> Reply:
        return Reply(text="", usage=Usage(latency_s=0.0))


class VTracerBaseline:
    """Traces the input image (img2svg) or the first video frame (video2sani) with VTracer.

    The 448 px input is traced at full resolution and the SVG's root is given
    ``viewBox="0 0 W H"`` with width and height 128, SArena's convention, so that rendering it at
    448 px reproduces the trace. Tracing runs in a worker thread to keep the event loop free.
    """

    name = "baseline/vtracer"

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        self.params = {**VTRACER_PARAMS, **(params or {})}

    def supports(self, task: Task) -> str | None:
        if task.kind in ("img2svg", "video2sani"):
            return None
        if task.answer is AnswerKind.CHOICE:
            return f"baseline/vtracer only traces images into SVG; {task.id} asks for a choice letter."
        return f"baseline/vtracer needs an input image; {task.id} has none."

    async def respond(self, sample: Sample, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
                      temperature: float | None = None) -> Reply:
        start = time.perf_counter()
        try:
            svg = await asyncio.to_thread(self._trace_sample, sample)
        except Exception as exc:
            return Reply(
                error=f"{type(exc).__name__}: {exc}",
                usage=Usage(latency_s=time.perf_counter() - start),
                raw={"error_type": type(exc).__name__},
            )
        return Reply(text=svg, usage=Usage(latency_s=time.perf_counter() - start))

    def _trace_sample(self, sample: Sample) -> str:
        if sample.image is not None:
            return trace_image(Path(sample.image).read_bytes(), self.params)
        if sample.video is not None:
            from svgarena.agents._messages import sample_frames

            frames = sample_frames(sample.video, 1)
            if not frames:
                raise ValueError(f"video {sample.video} has no frames to trace.")
            return trace_image(frames[0][1], self.params)
        raise ValueError(f"sample {sample.id} has no input image or video to trace.")


def trace_image(data: bytes, params: dict[str, Any] | None = None, size: int = SARENA_SIZE) -> str:
    """Trace image bytes (any format Pillow reads) into an SVG of ``size`` x ``size`` user units.

    Transparency is flattened onto white first, as SArena's references are rendered on white.
    """
    import io

    import vtracer
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        img.load()
        if img.mode in ("RGBA", "LA", "P", "PA"):
            rgba = img.convert("RGBA")
            flat = Image.new("RGB", rgba.size, "white")
            flat.paste(rgba, mask=rgba.getchannel("A"))
        else:
            flat = img.convert("RGB")
    width, height = flat.size
    buf = io.BytesIO()
    flat.save(buf, format="PNG")
    svg = vtracer.convert_raw_image_to_svg(buf.getvalue(), img_format="png", **(params or VTRACER_PARAMS))
    return _fit_root(svg, width, height, size)


_ROOT = re.compile(r"<svg\b[^>]*>", re.DOTALL)
_SIZE_ATTR = re.compile(r"""\s(?:width|height|viewBox)\s*=\s*("[^"]*"|'[^']*')""")


def _fit_root(svg: str, width: int, height: int, size: int) -> str:
    """Give the root ``<svg>`` the traced image's viewBox and a ``size`` x ``size`` canvas; drop any prolog."""
    m = _ROOT.search(svg)
    if m is None:
        raise ValueError("vtracer returned no <svg> element.")
    attrs = _SIZE_ATTR.sub("", m.group(0)[len("<svg") : -1]).rstrip("/").strip()
    root = f'<svg {attrs} width="{size}" height="{size}" viewBox="0 0 {width} {height}">'
    return root + svg[m.end() :].rstrip()


def _is_letter(target: str) -> bool:
    t = target.strip()
    return bool(t) and t[0] in "ABCD" and (len(t) == 1 or not t[1].isalnum())
