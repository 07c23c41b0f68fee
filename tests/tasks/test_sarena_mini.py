"""The bundled sarena-mini suite (static part): SArena layout, record format and references.

These tests read the suite files directly (not through the svgarena.tasks loader), so they check
the data as shipped. The suite is rebuilt with ``python scripts/build_sarena_mini.py``.
"""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SUITE = Path(__file__).resolve().parents[2] / "svgarena" / "tasks" / "data" / "sarena-mini"
SVG_NS = "{http://www.w3.org/2000/svg}"
EDIT_SUBTASKS = ("color_simple", "crop", "flip", "rotate", "scale", "translate", "opacity", "outline")
SUBJECTS = {"Color", "Geometry", "Quantity", "Semantic"}
# The palette the builder resolves currentColor to (scripts/_suite_common.py), copied here so the
# Color answers are checked against the shipped SVG code independently of the builder.
PALETTE_NAMES = {
    "#e53935": "red", "#1e88e5": "blue", "#43a047": "green", "#fb8c00": "orange",
    "#8e24aa": "purple", "#00897b": "teal", "#d81b60": "pink", "#6d4c41": "brown",
    "#212121": "black", "#757575": "gray",
}

# jsonl (relative to the suite) -> (folder holding svg/ and images/, minimum number of records)
SVG_TASKS: dict[str, tuple[str, int]] = {
    **{f"Icon/edit/data/{t}.jsonl": (f"Icon/edit/data/{t}", 10) for t in EDIT_SUBTASKS},
    "Icon/generation/text2svg.jsonl": ("Icon/generation", 12),
    "Icon/generation/img2svg.jsonl": ("Icon/generation", 12),
    "illustration/text2svg.jsonl": ("illustration", 10),
    "illustration/img2svg.jsonl": ("illustration", 10),
    "chemistry/text2svg.jsonl": ("chemistry", 10),
    "chemistry/img2svg.jsonl": ("chemistry", 10),
}
UNDERSTANDING = "Icon/understanding/sarena_un.jsonl"
CAPTIONS = {"Icon/generation/caption.jsonl": "Icon/generation/text2svg.jsonl",
            "illustration/caption.jsonl": "illustration/text2svg.jsonl"}
REFERENCE_DIRS = sorted({folder for folder, _ in SVG_TASKS.values()})
STATIC_PARTS = ("Icon", "illustration", "chemistry", "LICENSES", "SOURCES.md")


def read_jsonl(rel: str) -> list[dict]:
    with open(SUITE / rel, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def render(svg: str) -> Image.Image:
    """SArena's rasterisation: cairosvg at 448x448 on white, as RGB."""
    import cairosvg

    png = cairosvg.svg2png(bytestring=svg.encode("utf-8"), background_color="white",
                           output_width=448, output_height=448)
    return Image.open(io.BytesIO(png)).convert("RGB")


def choice_parts(prompt: str) -> tuple[str, str, dict[str, str]]:
    """(svg code, question, {letter: option}) of an understanding prompt."""
    svg = prompt.split("SVG code:\n", 1)[1].split("\nQuestion: ", 1)[0]
    question = prompt.split("\nQuestion: ", 1)[1].split("\n", 1)[0]
    options = dict(re.findall(r"^([ABCD])\. (.*)$", prompt, re.M))
    return svg, question, options


def test_suite_exists() -> None:
    assert SUITE.is_dir(), "run scripts/build_sarena_mini.py to build the bundled suite"
    for rel in [*SVG_TASKS, UNDERSTANDING, *CAPTIONS, "SOURCES.md"]:
        assert (SUITE / rel).is_file(), rel


@pytest.mark.parametrize("rel", [*SVG_TASKS, UNDERSTANDING])
def test_record_format(rel: str) -> None:
    rows = read_jsonl(rel)
    ids = []
    for rec in rows:
        assert isinstance(rec["id"], int) and not isinstance(rec["id"], bool)
        conv = rec["conversations"]
        assert [c["from"] for c in conv] == ["human", "gpt"]
        assert all(isinstance(c["value"], str) and c["value"] for c in conv)
        ids.append(rec["id"])
        if rel.endswith("img2svg.jsonl"):
            assert rec["image"] == f"images/{rec['id']}.png"
            assert (SUITE / rel).parent.joinpath(rec["image"]).is_file()
        if rel == UNDERSTANDING:
            assert rec["Subject"] in SUBJECTS
    assert len(ids) == len(set(ids)), "ids must be unique within a jsonl"
    minimum = SVG_TASKS[rel][1] if rel in SVG_TASKS else 16
    assert len(rows) >= minimum


def test_prompts_follow_the_paper() -> None:
    for rel in ("Icon/generation/text2svg.jsonl", "illustration/text2svg.jsonl", "chemistry/text2svg.jsonl"):
        for rec in read_jsonl(rel):
            assert rec["conversations"][0]["value"].startswith(
                "As an expert in SVG generation, you will be given an instruction. "
                "Please generate an SVG that satisfies the instruction. Instruction: ")
    chem = [r["conversations"][0]["value"] for r in read_jsonl("chemistry/text2svg.jsonl")]
    assert any(p.endswith("chemical structure of caffeine.") for p in chem)
    for rec in read_jsonl(UNDERSTANDING):
        assert 'exactly one of "A.", "B.", "C.", "D."' in rec["conversations"][0]["value"]


@pytest.mark.parametrize("rel", list(SVG_TASKS))
def test_answers_are_the_reference_svgs(rel: str) -> None:
    folder = SUITE / SVG_TASKS[rel][0]
    for rec in read_jsonl(rel):
        svg_path = folder / "svg" / f"{rec['id']}.svg"
        assert svg_path.is_file() and (folder / "images" / f"{rec['id']}.png").is_file()
        assert rec["conversations"][1]["value"] == svg_path.read_text(encoding="utf-8")


@pytest.mark.parametrize("subtask", EDIT_SUBTASKS)
def test_edits_give_source_and_change_it(subtask: str) -> None:
    for rec in read_jsonl(f"Icon/edit/data/{subtask}.jsonl"):
        prompt, target = (c["value"] for c in rec["conversations"])
        source = prompt.split("SVG code:\n", 1)[1].split("\nInstruction: ", 1)[0]
        ET.fromstring(source)
        assert source.strip() != target.strip()
        assert "Instruction: " in prompt
        # the edit must change the picture visibly, or copying the source would score perfectly
        before = np.asarray(render(source), dtype=np.int16)
        after = np.asarray(Image.open(SUITE / f"Icon/edit/data/{subtask}/images/{rec['id']}.png"), dtype=np.int16)
        assert (np.abs(before - after).max(axis=-1) > 32).mean() >= 0.01, (subtask, rec["id"])


@pytest.mark.parametrize("folder", REFERENCE_DIRS)
def test_reference_svgs_are_128_canvas(folder: str) -> None:
    svgs = sorted((SUITE / folder / "svg").glob("*.svg"))
    assert svgs
    for path in svgs:
        root = ET.parse(path).getroot()
        assert root.tag == f"{SVG_NS}svg"
        assert root.get("width") == "128" and root.get("height") == "128", path
        x, y, w, h = (float(v) for v in root.get("viewBox", "").split())
        if folder.endswith("/crop"):
            # a crop keeps a square sub-region of the 128x128 canvas
            assert w == h and 0 <= x and 0 <= y and x + w <= 128 and y + h <= 128, path
        else:
            assert (x, y, w, h) == (0, 0, 128, 128), path


@pytest.mark.parametrize("folder", REFERENCE_DIRS)
def test_reference_pngs_are_448_rgb(folder: str) -> None:
    pngs = sorted((SUITE / folder / "images").glob("*.png"))
    assert len(pngs) == len(list((SUITE / folder / "svg").glob("*.svg")))
    for path in pngs:
        with Image.open(path) as im:
            assert im.size == (448, 448) and im.mode == "RGB", path


@pytest.mark.parametrize("folder", REFERENCE_DIRS)
def test_reference_pngs_equal_fresh_render(folder: str) -> None:
    svgs = sorted((SUITE / folder / "svg").glob("*.svg"), key=lambda p: int(p.stem))
    for path in svgs[:2]:
        fresh = np.asarray(render(path.read_text(encoding="utf-8")))
        stored = np.asarray(Image.open(path.parent.parent / "images" / f"{path.stem}.png"))
        assert np.array_equal(fresh, stored), path
        assert (fresh < 250).any(), f"{path} renders blank"


@pytest.mark.parametrize("rel", list(CAPTIONS))
def test_captions(rel: str) -> None:
    rows = read_jsonl(rel)
    ids = sorted(int(r["id"]) for r in read_jsonl(CAPTIONS[rel]))
    assert sorted(int(Path(r["image"]).stem) for r in rows) == ids
    for r in rows:
        assert r["image"].endswith(".png")
        assert isinstance(r["caption"][0]["generated_text"], str) and r["caption"][0]["generated_text"].strip()


def test_understanding_answers_match_the_svg() -> None:
    rows = read_jsonl(UNDERSTANDING)
    assert {r["Subject"] for r in rows} == SUBJECTS
    for rec in rows:
        prompt, answer = (c["value"] for c in rec["conversations"])
        svg, question, options = choice_parts(prompt)
        letter = answer[0]
        assert letter in "ABCD" and answer == f"{letter}. {options[letter]}"
        assert sorted(options) == list("ABCD") and len(set(options.values())) == 4
        root = ET.fromstring(svg)
        elems = list(root.iter())
        if rec["Subject"] == "Quantity":
            tag = re.search(r"<(\w+)>", question).group(1)
            assert int(options[letter]) == sum(e.tag == f"{SVG_NS}{tag}" for e in elems)
        elif rec["Subject"] == "Color":
            attr = "stroke" if "stroke" in question else "fill"
            used = {PALETTE_NAMES[e.get(attr)] for e in elems if e.get(attr) in PALETTE_NAMES}
            assert used == {options[letter]}
        elif rec["Subject"] == "Geometry":
            present = {e.tag.removeprefix(SVG_NS) for e in elems}
            for opt_letter, opt in options.items():
                assert (opt.strip("<>") in present) == (opt_letter == letter)


def test_sources_and_licences() -> None:
    sources = (SUITE / "SOURCES.md").read_text(encoding="utf-8")
    for pkg in ("lucide-static", "@tabler/icons", "bootstrap-icons", "openmoji", "RDKit", "animation"):
        assert pkg in sources
    licences = list((SUITE / "LICENSES").glob("*.txt"))
    assert len(licences) >= 4 and all(p.stat().st_size > 500 for p in licences)


def test_static_part_is_small() -> None:
    total = 0
    for part in STATIC_PARTS:
        path = SUITE / part
        total += sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else path.stat().st_size
    assert total < 10 * 1024 * 1024, f"static part is {total / 1e6:.1f} MB"
