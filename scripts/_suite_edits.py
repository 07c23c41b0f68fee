"""``Icon/edit/data``: the eight low-level SArena edit subtasks over normalised icons.

Each target SVG is computed exactly from the source SVG by one deterministic transform, and the
instruction states that transform precisely (numbers included), so a perfect edit reproduces
the reference render pixel for pixel. The semantic edits of SArena (color_complex,
styletransform_openmoji) need human judgement and are not part of the mini suite.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Callable

from _suite_common import (
    CANVAS, PALETTE, edit_prompt, fmt, record, render, svg_body, svg_document, wrap, write_jsonl,
    write_reference,
)
from _suite_icons import Icon, IconPicker

C = CANVAS // 2  # the canvas centre, 64

Edit = tuple[str, str]   # (instruction, target SVG)


def edit_color_simple(icon: Icon, rng: random.Random) -> Edit:
    """Replace the icon's one colour by another palette colour everywhere."""
    new = rng.choice(sorted(set(PALETTE) - {icon.color}))
    target = icon.svg().replace(icon.hex, PALETTE[new])
    return (f"Change the color {icon.color} ({icon.hex}) of the icon to {new} ({PALETTE[new]}).",
            target)


_CROPS: tuple[tuple[str, int, int, int], ...] = (
    ("top-left quarter", 0, 0, 64),
    ("top-right quarter", 64, 0, 64),
    ("bottom-left quarter", 0, 64, 64),
    ("bottom-right quarter", 64, 64, 64),
    ("central 64x64 square", 32, 32, 64),
    ("central 96x96 square", 16, 16, 96),
    ("top half's central 64x64 square", 32, 0, 64),
    ("bottom half's central 64x64 square", 32, 64, 64),
)


def edit_crop(icon: Icon, rng: random.Random) -> Edit:
    """Keep one square sub-region by changing the viewBox; the output stays 128x128."""
    label, x, y, size = rng.choice(_CROPS)
    target = svg_document(svg_body(icon.svg()), viewbox=f"{x} {y} {size} {size}")
    return (f"Crop the SVG to its {label}: keep only the region {x} <= x <= {x + size}, "
            f"{y} <= y <= {y + size} of the 128x128 canvas (viewBox=\"{x} {y} {size} {size}\"), "
            f"so that this region fills the whole 128x128 output.", target)


def edit_flip(icon: Icon, rng: random.Random) -> Edit:
    """Mirror the whole icon left-right or top-bottom across the canvas centre."""
    if rng.random() < 0.5:
        matrix, text = f"matrix(-1 0 0 1 {CANVAS} 0)", "horizontally (mirror it left to right)"
    else:
        matrix, text = f"matrix(1 0 0 -1 0 {CANVAS})", "vertically (mirror it top to bottom)"
    target = svg_document(wrap(svg_body(icon.svg()), transform=matrix))
    return f"Flip the icon {text} about the center of the 128x128 canvas.", target


def edit_rotate(icon: Icon, rng: random.Random) -> Edit:
    """Rotate the whole icon about the canvas centre (positive angles turn clockwise on screen)."""
    angle = rng.choice((90, 180, 270, 45, 30, 135))
    target = svg_document(wrap(svg_body(icon.svg()), transform=f"rotate({angle} {C} {C})"))
    return (f"Rotate the icon by {angle} degrees clockwise around the center of the canvas "
            f"({C}, {C}).", target)


def edit_scale(icon: Icon, rng: random.Random) -> Edit:
    """Scale the whole icon uniformly about the canvas centre."""
    factor = rng.choice((0.5, 0.6, 0.75, 0.8, 1.25))
    shift = fmt(C * (1 - factor))
    target = svg_document(wrap(svg_body(icon.svg()),
                               transform=f"translate({shift} {shift}) scale({fmt(factor)})"))
    return (f"Scale the icon by a factor of {fmt(factor)} around the center of the canvas "
            f"({C}, {C}), keeping the canvas size unchanged.", target)


def edit_translate(icon: Icon, rng: random.Random) -> Edit:
    """Shift the whole icon by a whole number of canvas units."""
    steps = (-24, -16, -12, -8, 8, 12, 16, 24)
    dx, dy = rng.choice(steps), rng.choice(steps)
    horiz = f"{abs(dx)} units to the {'right' if dx > 0 else 'left'}"
    vert = f"{abs(dy)} units {'down' if dy > 0 else 'up'}"
    target = svg_document(wrap(svg_body(icon.svg()), transform=f"translate({dx} {dy})"))
    return f"Move the icon {horiz} and {vert} (translate by ({dx}, {dy}) in canvas units).", target


def edit_opacity(icon: Icon, rng: random.Random) -> Edit:
    """Make the whole icon uniformly transparent."""
    alpha = rng.choice((0.3, 0.4, 0.5, 0.6, 0.7))
    target = svg_document(wrap(svg_body(icon.svg()), opacity=fmt(alpha)))
    return f"Make the whole icon semi-transparent with an overall opacity of {fmt(alpha)}.", target


def edit_outline(icon: Icon, rng: random.Random) -> Edit:
    """Add a stroke of a new colour around every (filled) shape of a solid icon."""
    new = rng.choice(sorted(set(PALETTE) - {icon.color}))
    width = rng.choice((2, 3, 4))
    extra = {"stroke": PALETTE[new], "stroke-width": fmt(width / icon.scale),
             "stroke-linejoin": "round"}
    target = svg_document(icon.body(extra))
    return (f"Add an outline to the icon: give every shape a {new} ({PALETTE[new]}) stroke "
            f"with round joins, {width} units wide on the 128x128 canvas.", target)


def visibly_changed(source: str, target: str, min_share: float = 0.01) -> bool:
    """True if at least ``min_share`` of the rendered pixels differ clearly between the two SVGs."""
    import numpy as np

    a = np.asarray(render(source), dtype=np.int16)
    b = np.asarray(render(target), dtype=np.int16)
    return bool((np.abs(a - b).max(axis=-1) > 32).mean() >= min_share)


# subtask -> (which icons it edits, transform)
SUBTASKS: dict[str, tuple[str | None, Callable[[Icon, random.Random], Edit]]] = {
    "color_simple": (None, edit_color_simple),
    "crop": (None, edit_crop),
    "flip": (None, edit_flip),
    "rotate": (None, edit_rotate),
    "scale": (None, edit_scale),
    "translate": (None, edit_translate),
    "opacity": (None, edit_opacity),
    "outline": ("solid", edit_outline),
}


def build_edits(root: Path, picker: IconPicker, rng: random.Random, per_task: int = 10) -> dict[str, int]:
    """Write ``Icon/edit/data/<subtask>.jsonl`` and the reference SVGs and renders of each edit."""
    data = root / "Icon" / "edit" / "data"
    counts: dict[str, int] = {}
    for subtask, (style, transform) in SUBTASKS.items():
        rows = []
        for sid in range(per_task):
            while True:
                icon = picker.draw(style)
                instruction, target = transform(icon, rng)
                if visibly_changed(icon.svg(), target):
                    break
                picker.discard(icon)  # e.g. a vertical flip of a symmetric icon: a trivial sample
            write_reference(data / subtask, sid, target)
            rows.append(record(sid, edit_prompt(icon.svg(), instruction), target))
        counts[f"Icon/edit/data/{subtask}.jsonl"] = write_jsonl(data / f"{subtask}.jsonl", rows)
    return counts
