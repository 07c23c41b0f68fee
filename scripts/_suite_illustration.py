"""``illustration/``: multi-colour emoji illustrations from OpenMoji (CC BY-SA 4.0).

SArena's illustrations are multi-colour, longer SVGs than icons. OpenMoji's colour SVGs are the
closest open-licensed match: flat colour fills with black outlines on a 72x72 canvas. Small,
single-code-point emoji without gradients, text or embedded images are picked, two from each of
six groups, and scaled to the 128x128 canvas with one wrapping group.
"""

from __future__ import annotations

import json
import random
import xml.etree.ElementTree as ET
from pathlib import Path

from _suite_common import (
    CANVAS, IMG2SVG_PROMPT, NpmSource, caption_record, element_text, fmt, generation_prompt,
    record, svg_document, wrap, write_jsonl, write_reference,
)
from _suite_icons import with_article

OPENMOJI = NpmSource("openmoji", "17.0.0", "CC-BY-SA-4.0", "https://openmoji.org")
GROUPS = ("smileys-emotion", "animals-nature", "food-drink", "travel-places", "activities", "objects")
PER_GROUP = 2
_MAX_BYTES = 2200
_FORBIDDEN = ("url(", "<text", "<image", "style=", "currentColor")


def candidates(package: Path) -> dict[str, list[dict]]:
    """Per group, the OpenMoji entries (sorted by hexcode) simple enough for the mini suite."""
    entries = json.loads((package / "data" / "openmoji.json").read_text(encoding="utf-8"))
    out: dict[str, list[dict]] = {g: [] for g in GROUPS}
    for e in entries:
        if e["group"] not in out or e["skintone"] or "-" in e["hexcode"]:
            continue
        path = package / "color" / "svg" / f"{e['hexcode']}.svg"
        if not path.is_file() or path.stat().st_size > _MAX_BYTES:
            continue
        text = path.read_text(encoding="utf-8")
        if any(bad in text for bad in _FORBIDDEN):
            continue
        out[e["group"]].append(e)
    return {g: sorted(v, key=lambda e: e["hexcode"]) for g, v in out.items()}


def normalise(path: Path) -> str:
    """An OpenMoji SVG on the 128x128 canvas: its content inside one scaling group."""
    root = ET.parse(path).getroot()
    vb = [float(v) for v in root.get("viewBox", "").split()]
    if vb[:2] != [0, 0] or vb[2] != vb[3]:
        raise ValueError(f"{path}: unexpected viewBox {vb}")
    body = "\n".join(element_text(child) for child in root)
    return svg_document(wrap(body, transform=f"scale({fmt(CANVAS / vb[2])})"))


def pick(package: Path, rng: random.Random) -> list[dict]:
    """PER_GROUP seeded choices from each group, in group order."""
    chosen: list[dict] = []
    for group, entries in candidates(package).items():
        chosen += rng.sample(entries, PER_GROUP)
    return chosen


def build_illustration(root: Path, package: Path, rng: random.Random) -> tuple[dict[str, int], list[str]]:
    """Write ``illustration/``; returns the record counts and the OpenMoji files used."""
    folder = root / "illustration"
    text_rows, image_rows, captions, used = [], [], [], []
    for sid, entry in enumerate(pick(package, rng)):
        path = package / "color" / "svg" / f"{entry['hexcode']}.svg"
        svg = normalise(path)
        write_reference(folder, sid, svg)
        subject = with_article(entry["annotation"])
        instruction = f"Draw a colorful flat emoji-style illustration of {subject}."
        text_rows.append(record(sid, generation_prompt(instruction), svg))
        image_rows.append(record(sid, IMG2SVG_PROMPT, svg, image=f"images/{sid}.png"))
        captions.append(caption_record(sid, f"a colorful flat emoji illustration of {subject}"))
        used.append(f"color/svg/{entry['hexcode']}.svg ({entry['annotation']}, by {entry['openmoji_author']})")
    counts = {
        "illustration/text2svg.jsonl": write_jsonl(folder / "text2svg.jsonl", text_rows),
        "illustration/img2svg.jsonl": write_jsonl(folder / "img2svg.jsonl", image_rows),
        "illustration/caption.jsonl": write_jsonl(folder / "caption.jsonl", captions),
    }
    return counts, used
