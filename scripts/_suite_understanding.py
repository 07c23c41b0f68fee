"""``Icon/understanding/sarena_un.jsonl``: multiple-choice questions about icon SVG code.

The four SArena subjects, each answered from the SVG itself (parsed again after it is written),
never from bookkeeping that could drift from the code the model sees:

- Color: the icon's one concrete stroke (line icons) or fill (solid icons) colour, by name.
- Quantity: how many elements of one tag the SVG holds.
- Geometry: which basic shape element (circle, rect, ...) the SVG uses, the others being absent.
- Semantic: what the icon depicts, from its name in the icon set, with unrelated names as
  distractors.
"""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from _suite_common import COLOR_NAMES, LETTERS, PALETTE, choice_prompt, local_name, record, write_jsonl
from _suite_icons import Icon, IconPicker

SUBJECTS = ("Color", "Geometry", "Quantity", "Semantic")
BASIC_SHAPES = ("circle", "rect", "ellipse", "line", "polyline", "polygon")
GEOMETRY_CYCLE = ("circle", "rect", "line", "ellipse")   # spreads the Geometry answers
COLOR_QUESTION = "What is the {kind} color of the icon?"
QUANTITY_QUESTION = "How many <{tag}> elements does the SVG contain?"
GEOMETRY_QUESTION = "Which of the following basic shape elements is used in the SVG code?"
SEMANTIC_QUESTION = "What does this icon most likely depict?"


@dataclass(frozen=True)
class SvgFacts:
    """What the questions ask about, read from an SVG document."""

    stroke_colors: frozenset[str]   # palette names used as stroke
    fill_colors: frozenset[str]     # palette names used as fill
    counts: Counter                 # tag name -> number of elements


def svg_facts(svg: str) -> SvgFacts:
    """Parse an SVG and collect its palette colours and element counts."""
    strokes: set[str] = set()
    fills: set[str] = set()
    counts: Counter = Counter()
    for elem in ET.fromstring(svg).iter():
        counts[local_name(elem.tag)] += 1
        if elem.get("stroke", "").lower() in COLOR_NAMES:
            strokes.add(COLOR_NAMES[elem.get("stroke", "").lower()])
        if elem.get("fill", "").lower() in COLOR_NAMES:
            fills.add(COLOR_NAMES[elem.get("fill", "").lower()])
    return SvgFacts(frozenset(strokes), frozenset(fills), counts)


Question = tuple[str, str, list[str]]   # (question text, correct option, three distractors)


def lettered(correct: str, distractors: list[str], pos: int) -> tuple[list[str], str]:
    """Four options with the correct one at index ``pos``; returns (options, answer string)."""
    options = list(distractors[:3])
    options.insert(pos, correct)
    return options, f"{LETTERS[pos]}. {correct}"


def color_question(icon: Icon, rng: random.Random) -> Question:
    """Color: the single palette colour of the stroke (line icon) or fill (solid icon)."""
    facts = svg_facts(icon.svg())
    kind = "stroke" if icon.style == "line" else "fill"
    used = facts.stroke_colors if kind == "stroke" else facts.fill_colors
    if len(used) != 1:
        raise ValueError(f"{icon.key}: expected one {kind} colour, found {sorted(used)}")
    correct = next(iter(used))
    others = rng.sample(sorted(set(PALETTE) - {correct}), 3)
    return COLOR_QUESTION.format(kind=kind), correct, others


def quantity_question(icon: Icon, rng: random.Random, tag: str) -> Question:
    """Quantity: the number of ``tag`` elements that the icon uses."""
    n = svg_facts(icon.svg()).counts[tag]
    pool = [k for k in range(max(1, n - 3), n + 5) if k != n]
    others = [str(k) for k in sorted(rng.sample(pool, 3))]
    return QUANTITY_QUESTION.format(tag=tag), str(n), others


def geometry_question(icon: Icon, rng: random.Random, shape: str) -> Question:
    """Geometry: a basic shape element (``shape``) that the SVG uses among three it does not use."""
    facts = svg_facts(icon.svg())
    absent = sorted(s for s in BASIC_SHAPES if not facts.counts[s])
    if not facts.counts[shape] or len(absent) < 3:
        raise ValueError(f"{icon.key}: no geometry question about <{shape}> possible")
    correct = shape
    return GEOMETRY_QUESTION, f"<{correct}>", [f"<{s}>" for s in rng.sample(absent, 3)]


def semantic_question(icon: Icon, rng: random.Random, all_names: list[str]) -> Question:
    """Semantic: the icon's name against three names sharing no word with it."""
    words = set(icon.name.split())
    pool = [n for n in all_names if n and not words & set(n.split())]
    others = rng.sample(pool, 3)
    return SEMANTIC_QUESTION, icon.name, others


def _repeated_shapes(icon: Icon) -> list[str]:
    """Basic shapes the icon uses at least twice (counting them is a real question)."""
    return sorted(t for t in BASIC_SHAPES if icon.count(t) >= 2)


def build_understanding(root: Path, picker: IconPicker, rng: random.Random,
                        per_subject: int = 8) -> dict[str, int]:
    """Write ``Icon/understanding/sarena_un.jsonl`` with ``per_subject`` questions per subject."""
    rows = []
    sid = 0
    positions = [i % 4 for i in range(per_subject * len(SUBJECTS))]  # each letter equally often
    rng.shuffle(positions)
    for round_ in range(per_subject):
        for subject in SUBJECTS:
            if subject == "Geometry":
                shape = GEOMETRY_CYCLE[round_ % len(GEOMETRY_CYCLE)]
                icon = picker.draw("line", accept=lambda i: shape in i.tags)
                q = geometry_question(icon, rng, shape)
            elif subject == "Color":
                icon = picker.draw()
                q = color_question(icon, rng)
            elif subject == "Quantity":
                # alternate: count the paths of any icon / count another primitive of a line icon
                if round_ % 2:
                    icon = picker.draw(accept=lambda i: i.count("path") >= 2)
                    tag = "path"
                else:
                    icon = picker.draw("line", accept=lambda i: bool(_repeated_shapes(i)))
                    tag = rng.choice(_repeated_shapes(icon))
                q = quantity_question(icon, rng, tag)
            else:
                icon = picker.draw()
                q = semantic_question(icon, rng, picker.all_names)
            question, correct, distractors = q
            options, answer = lettered(correct, distractors, positions[sid])
            rows.append(record(sid, choice_prompt(icon.svg(), question, options), answer, Subject=subject))
            sid += 1
    return {"Icon/understanding/sarena_un.jsonl":
            write_jsonl(root / "Icon" / "understanding" / "sarena_un.jsonl", rows)}
