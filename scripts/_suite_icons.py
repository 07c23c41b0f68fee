"""Icons for sarena-mini: the open-licensed icon sets, their normalisation, and the icon
generation tasks (``Icon/generation``: text2svg, img2svg, caption.jsonl).

Every icon becomes a 128x128 SVG in one fixed shape, which the understanding questions and the
edit transforms rely on::

    <svg xmlns=... viewBox="0 0 128 128" width="128" height="128">
    <g transform="scale(k)" fill=... stroke=... ...>     the icon's root attributes, k = 128/size
    <path .../>                                           the icon's shapes, one per line
    </g>
    </svg>

``currentColor`` is replaced by a palette colour picked per icon (seeded), so renders are not
black-only and Color questions have an answer that can be read off the SVG.
"""

from __future__ import annotations

import json
import random
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from _suite_common import (
    CANVAS, IMG2SVG_PROMPT, PALETTE, NpmSource, caption_record, element_text, fmt,
    generation_prompt, local_name, record, svg_document, write_jsonl, write_reference,
)

LUCIDE = NpmSource("lucide-static", "1.62.0", "ISC", "https://lucide.dev")
TABLER = NpmSource("@tabler/icons", "3.52.0", "MIT", "https://tabler.io/icons")
BOOTSTRAP = NpmSource("bootstrap-icons", "1.13.2", "MIT", "https://icons.getbootstrap.com")
ICON_SOURCES = (LUCIDE, TABLER, BOOTSTRAP)

PRIMITIVES = ("path", "circle", "rect", "ellipse", "line", "polyline", "polygon")
# Root attributes that carry over to the scaling group (the rest: class, size, xmlns, are dropped).
_ROOT_STYLE = ("fill", "stroke", "stroke-width", "stroke-linecap", "stroke-linejoin",
               "fill-rule", "clip-rule")
_MAX_SHAPES = 8
_MAX_BYTES = 1400
_MAX_WORDS = 2          # longer names ("device desktop flame") make poor semantic questions
_BAD_TOKENS = {"off", "letter", "number", "brand", "fill", "filled", "alt", "ne", "nw", "se", "sw"}
_TABLER_SKIP_CATEGORIES = {"Brand", "Letters", "Numbers", "Math"}

# Icon sets: (key, source, folder inside the package, style, file filter)
ICON_SETS: tuple[tuple[str, NpmSource, str, str], ...] = (
    ("lucide", LUCIDE, "icons", "line"),
    ("tabler-outline", TABLER, "icons/outline", "line"),
    ("tabler-filled", TABLER, "icons/filled", "solid"),
    ("bootstrap", BOOTSTRAP, "icons", "solid"),
)


@dataclass
class Icon:
    """One normalised icon: its shapes, the scaling group's attributes and where it came from."""

    key: str                      # "<set>/<file stem>", unique within the suite
    name: str                     # human-readable name, e.g. "shopping cart"
    source: NpmSource
    file: str                     # path inside the npm package
    style: str                    # "line" (stroked) or "solid" (filled)
    color: str                    # palette name of the icon's colour
    scale: float                  # 128 / original viewBox size
    group: dict[str, str]         # attributes of the scaling group (transform first)
    shapes: list[str] = field(default_factory=list)   # serialised child elements
    tags: list[str] = field(default_factory=list)     # their tag names, in order

    @property
    def hex(self) -> str:
        return PALETTE[self.color]

    def body(self, extra: dict[str, str] | None = None) -> str:
        """The scaling group with the shapes; ``extra`` adds attributes to the group."""
        attrs = {**self.group, **(extra or {})}
        head = "<g" + "".join(f' {k}="{v}"' for k, v in attrs.items()) + ">"
        return "\n".join([head, *self.shapes, "</g>"])

    def svg(self) -> str:
        """The reference SVG document of this icon."""
        return svg_document(self.body())

    def count(self, tag: str) -> int:
        return self.tags.count(tag)

    @property
    def described(self) -> str:
        """e.g. "a simple blue line icon of a shopping cart"."""
        kind = "line icon" if self.style == "line" else "solid icon"
        return f"a simple {self.color} {kind} of {with_article(self.name)}"


def with_article(name: str) -> str:
    """"a cart", "an anchor", "scissors" (plural-looking names get none)."""
    if name.endswith("s") and not name.endswith(("ss", "us", "is", "as")):
        return name
    return ("an " if name[0] in "aeiou" else "a ") + name


def human_name(stem: str) -> str | None:
    """A readable name from an icon file stem, or None when the stem is not a plain name."""
    tokens = [t for t in stem.split("-") if t not in ("fill", "filled")]
    if not tokens or len(tokens) > _MAX_WORDS:
        return None
    if any(not t.isalpha() or len(t) < 2 or t in _BAD_TOKENS for t in tokens):
        return None
    return " ".join(tokens)


def candidate_files(packages: dict[str, Path]) -> dict[str, list[Path]]:
    """Per icon set, the sorted SVG files whose names are plain words (brands/letters left out)."""
    tabler_meta = json.loads((packages[TABLER.name] / "icons.json").read_text(encoding="utf-8"))
    out: dict[str, list[Path]] = {}
    for key, src, folder, _style in ICON_SETS:
        files = sorted((packages[src.name] / folder).glob("*.svg"))
        if key == "bootstrap":
            files = [f for f in files if f.stem.endswith("-fill")]
        if src is TABLER:
            files = [f for f in files
                     if tabler_meta.get(f.stem, {}).get("category") not in _TABLER_SKIP_CATEGORIES]
        out[key] = [f for f in files if human_name(f.stem)]
    return out


def load_icon(path: Path, set_key: str, src: NpmSource, package: Path, style: str,
              color: str) -> Icon | None:
    """Parse and normalise one icon file; None if it is too big or uses more than primitives."""
    if path.stat().st_size > _MAX_BYTES:
        return None
    root = ET.parse(path).getroot()
    vb = [float(v) for v in root.get("viewBox", "").replace(",", " ").split()]
    if len(vb) != 4 or vb[0] or vb[1] or vb[2] != vb[3]:
        return None
    hex_ = PALETTE[color]
    group = {"transform": f"scale({fmt(CANVAS / vb[2])})"}
    for k in _ROOT_STYLE:
        if k in root.attrib:
            group[k] = hex_ if root.get(k) == "currentColor" else root.get(k, "")
    shapes: list[str] = []
    tags: list[str] = []
    for child in root:
        tag = local_name(child.tag)
        if tag not in PRIMITIVES or len(child):
            return None
        if child.get("stroke") == "none" and child.get("fill") == "none":
            continue  # tabler's invisible 24x24 bounding-box path
        for k, v in list(child.attrib.items()):
            if v == "currentColor":
                child.set(k, hex_)
        shapes.append(element_text(child))
        tags.append(tag)
    if not shapes or len(shapes) > _MAX_SHAPES:
        return None
    name = human_name(path.stem)
    assert name is not None
    return Icon(key=f"{set_key}/{path.stem}", name=name, source=src,
                file=str(path.relative_to(package)), style=style, color=color,
                scale=CANVAS / vb[2], group=group, shapes=shapes, tags=tags)


class IconPicker:
    """Draws distinct icons (no name used twice in the suite) in a seeded, reproducible order."""

    def __init__(self, packages: dict[str, Path], rng: random.Random) -> None:
        self.rng = rng
        self.packages = packages
        self.queues: dict[str, list[Path]] = {}
        for key, files in candidate_files(packages).items():
            files = list(files)
            rng.shuffle(files)
            self.queues[key] = files
        self.all_names = sorted({human_name(f.stem) or "" for q in self.queues.values() for f in q})
        self.used_names: set[str] = set()
        self.used: list[Icon] = []

    def draw(self, style: str | None = None, accept: Callable[[Icon], bool] | None = None) -> Icon:
        """The next icon of the given style ("line", "solid" or None for any) that ``accept`` likes."""
        sets = [s for s in ICON_SETS if style is None or s[3] == style]
        for _ in range(10_000):
            key, src, _folder, st = self.rng.choice(sets)
            queue = self.queues[key]
            if not queue:
                continue
            path = queue.pop()
            name = human_name(path.stem)
            if name in self.used_names:
                continue
            icon = load_icon(path, key, src, self.packages[src.name], st, self.rng.choice(list(PALETTE)))
            if icon is None or (accept is not None and not accept(icon)):
                continue
            self.used_names.add(icon.name)
            self.used.append(icon)
            return icon
        raise RuntimeError(f"no icon left for style={style}")


    def discard(self, icon: Icon) -> None:
        """Forget a drawn icon that was not used (its name stays taken, so it is not drawn again)."""
        self.used.remove(icon)


# ---------------------------------------------------------------- Icon/generation


def text2svg_instruction(icon: Icon) -> str:
    """What the model is asked to draw for an icon (name, style and colour)."""
    kind = "a simple line icon" if icon.style == "line" else "a simple solid (filled) icon"
    return f"Draw {kind} of {with_article(icon.name)} in {icon.color}."


def build_generation(root: Path, picker: IconPicker, n: int = 14) -> dict[str, int]:
    """``Icon/generation``: n icons, each both a text2svg and an img2svg sample (shared ids)."""
    folder = root / "Icon" / "generation"
    text_rows, image_rows, captions = [], [], []
    styles = ["line", "solid"] * n
    for sid in range(n):
        icon = picker.draw(styles[sid])
        svg = icon.svg()
        write_reference(folder, sid, svg)
        text_rows.append(record(sid, generation_prompt(text2svg_instruction(icon)), svg))
        image_rows.append(record(sid, IMG2SVG_PROMPT, svg, image=f"images/{sid}.png"))
        captions.append(caption_record(sid, icon.described))
    return {
        "Icon/generation/text2svg.jsonl": write_jsonl(folder / "text2svg.jsonl", text_rows),
        "Icon/generation/img2svg.jsonl": write_jsonl(folder / "img2svg.jsonl", image_rows),
        "Icon/generation/caption.jsonl": write_jsonl(folder / "caption.jsonl", captions),
    }
