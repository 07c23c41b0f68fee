"""What a refine solver shows the model after a round, for each named feedback mode.

- ``render``: the round's own render (PNG; an animation as a contact sheet of its metric frames,
  each labelled with its time), plus the typed failure reason when the SVG did not extract,
  parse or render.
- ``render+target``: the render beside the task's input: img2svg its input image, edit the render
  of the source SVG, video2sani a contact sheet of the input video's frames. Text tasks have no
  target image; the text says so and the attempt records it (``extra["target"]``).
- ``oracle``: ``render+target`` plus the round's SSIM and PSNR against the reference, computed by
  the harness (``SolverContext.oracle``). It leaks the reference: an upper bound, never a result.
- ``none``: a plain review turn with no render (the control for "merely another turn").
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from svgarena.agents._trajectory import Attempt
from svgarena.outcome import Outcome

DONE_MARKER = "<done/>"
FEEDBACK_MODES = ("render", "render+target", "oracle", "none")
TARGET_MODES = frozenset({"render+target", "oracle"})

_ASK = ("Reply with an improved, complete SVG in one <svg>...</svg> block. If your SVG is already right, "
        f"reply with it unchanged and add {DONE_MARKER} to stop.")
_RENDER_TEXT = "Above is how your SVG rendered. Compare it with the task and " + _ASK[0].lower() + _ASK[1:]
_TARGET_TEXT = ("Above are two images: first how your SVG rendered, then the target ({what}). Compare them and "
                + _ASK[0].lower() + _ASK[1:])
_NONE_TEXT = "Review and improve your SVG. " + _ASK
_BLIND_NOTE = "(You cannot see images, so the render is not shown; only its outcome is reported.)"
_NO_TARGET = "There is no target image to compare with ({note}); compare your render with the task's description."
_SOURCE_SVG = re.compile(r"<svg\b.*?</svg>", re.DOTALL | re.IGNORECASE)


@dataclass
class Target:
    """The task's own input as an image to compare against (``png`` None when the task has none)."""

    png: bytes | None
    what: str  # "the input image", "the source SVG's render", "the input video's frames"
    note: str = ""  # why there is no target image, recorded on the attempt
    extra: dict[str, Any] = field(default_factory=dict)


def png_bytes(image: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def contact_sheet(frames: Any, times: list[float], cols: int = 4, cell: int = 224) -> np.ndarray:
    """The frames in a grid, each scaled to ``cell`` px and labelled with its time (``t=1.40 s``)."""
    from PIL import Image, ImageDraw

    frames = [np.asarray(f, dtype=np.uint8) for f in frames]
    if not frames:
        raise ValueError("a contact sheet needs at least one frame")
    cols = max(1, min(cols, len(frames)))
    rows = (len(frames) + cols - 1) // cols
    label_h = 16
    sheet = Image.new("RGB", (cols * cell, rows * (cell + label_h)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, frame in enumerate(frames):
        x, y = (i % cols) * cell, (i // cols) * (cell + label_h)
        sheet.paste(Image.fromarray(frame[..., :3]).resize((cell, cell)), (x, y + label_h))
        t = times[i] if i < len(times) else float("nan")
        draw.text((x + 4, y + 2), f"t={t:.2f} s", fill=(0, 0, 0))
    return np.asarray(sheet)


def metric_frame_times(n: int) -> list[float]:
    """When the metric frames of an animated answer were taken (SArena's 8 of 150 frames at 30 fps)."""
    from svgarena.sandboxes import fast_times

    return fast_times(n)


def render_view(attempt: Attempt) -> np.ndarray | None:
    """The round's render as one image: the PNG, or the metric frames' contact sheet for an animation."""
    if attempt.image is not None:
        return attempt.image
    if attempt.frames is not None and len(attempt.frames):
        return contact_sheet(list(attempt.frames), metric_frame_times(len(attempt.frames)))
    return None


async def load_target(sample: Any, task: Any, renderer: Any = None, spec: Any = None) -> Target:
    """The target image of ``render+target`` feedback for this sample (computed once per trajectory)."""
    if task.kind == "img2svg" and sample.image is not None:
        from PIL import Image

        with Image.open(sample.image) as im:
            return Target(png_bytes(np.asarray(im.convert("RGB"))), "the input image")
    if task.kind == "video2sani" and sample.video is not None:
        import asyncio

        from PIL import Image

        from svgarena.agents._messages import sample_frames

        shots = await asyncio.to_thread(sample_frames, sample.video, 8, "labelled")
        frames = [np.asarray(Image.open(io.BytesIO(png)).convert("RGB")) for _t, png in shots]
        if frames:
            return Target(png_bytes(contact_sheet(frames, [t for t, _ in shots])), "the input video's frames")
        return Target(None, "", note=f"the input video {sample.video} gave no frames")
    if task.kind == "edit":
        match = _SOURCE_SVG.search(sample.prompt or "")
        if match is None:
            return Target(None, "", note="the edit prompt holds no source <svg>")
        if renderer is None:
            return Target(None, "", note="no renderer to draw the source SVG")
        result = await renderer.render(match.group(0), spec) if spec is not None else await renderer.render(match.group(0))
        if not result.ok or result.image is None:
            return Target(None, "", note=f"the source SVG did not render: {result.outcome.value}: {result.reason}")
        return Target(png_bytes(result.image), "the source SVG's render, before your edit")
    return Target(None, "", note=f"{task.id} has no target image: it gives a description only")


def format_oracle(scores: dict[str, float | None], ok: bool) -> str:
    """The oracle's line: the round's SSIM/PSNR against the reference (it leaks the reference)."""
    shown = []
    for name, label, fmt in (("ssim", "SSIM", "{:.4f}"), ("psnr", "PSNR", "{:.2f} dB"),
                             ("ssim_video", "SSIM (video)", "{:.4f}"), ("psnr_video", "PSNR (video)", "{:.2f} dB")):
        value = scores.get(name)
        if value is not None:
            shown.append(f"{label} {fmt.format(value)}")
    if not shown:
        return "Oracle scores against the reference: none could be computed for this round."
    failed = "" if ok else " (your answer failed, so it was scored as a black image)"
    return f"Oracle scores against the reference{failed}: {', '.join(shown)}. SSIM 1.0 is a perfect match."


def feedback_turn(attempt: Attempt, mode: str, vision: bool, target: Target | None = None,
                  oracle: dict[str, float | None] | None = None) -> tuple[str, list[bytes], list[dict[str, Any]]]:
    """The text, images (PNG bytes) and user content parts shown to the model after ``attempt``."""
    from svgarena.agents._messages import bytes_data_url

    if mode == "none":
        return _NONE_TEXT, [], [{"type": "text", "text": _NONE_TEXT}]
    failed = "" if attempt.outcome is Outcome.OK else f"Your answer failed: {attempt.outcome.value}: {attempt.reason}. "
    view = render_view(attempt)
    own = png_bytes(view) if view is not None else None
    wants_target = mode in TARGET_MODES
    target_png = target.png if wants_target and target is not None else None
    images: list[bytes] = []
    if vision:
        images = [png for png in (own, target_png) if png is not None]
    if not vision:
        text = f"{failed}{_BLIND_NOTE} " + _ASK
    elif wants_target and target_png is not None:
        if own is None:
            text = (f"{failed}There is no render to show. Above is the target ({target.what}). "  # type: ignore[union-attr]
                    + _ASK[0].lower() + _ASK[1:])
        else:
            text = failed + _TARGET_TEXT.format(what=target.what)  # type: ignore[union-attr]
    elif own is None:
        text = failed + "There is no render to show. Compare your SVG with the task and " + _ASK[0].lower() + _ASK[1:]
    else:
        text = failed + _RENDER_TEXT
    if wants_target and target is not None and target.png is None:
        text = _NO_TARGET.format(note=target.note) + " " + text
    if mode == "oracle" and oracle is not None:
        text = format_oracle(oracle, attempt.outcome is Outcome.OK) + " " + text
    parts: list[dict[str, Any]] = [{"type": "image_url", "image_url": {"url": bytes_data_url(png, "image/png")}}
                                   for png in images]
    parts.append({"type": "text", "text": text})
    return text, images, parts


def check_feedback(mode: str) -> None:
    if mode not in FEEDBACK_MODES:
        raise ValueError(f"unknown feedback mode {mode!r}; use {', '.join(FEEDBACK_MODES)}")
