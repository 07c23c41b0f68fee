"""Shared pieces of the sarena-mini builder: SArena rendering, records, prompts, SVG text, npm.

Everything here exists to make the bundled suite byte-for-byte like the released SArena data:
the same record shape, the same 128x128 canvas and the same cairosvg rendering, so that the
harness (which renders predictions the same way) gives the oracle SSIM 1.0 and PSNR 100.
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

CANVAS = 128          # every SArena SVG uses a 0 0 128 128 viewBox
RENDER_SIZE = 448     # SArena rasterises at 448x448 on a white background
SEED = 20251013       # the SArena release date; fixes every random choice of the suite

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"

# Concrete colours used to resolve ``currentColor``; the names are what Color questions ask about.
PALETTE: dict[str, str] = {
    "red": "#e53935",
    "blue": "#1e88e5",
    "green": "#43a047",
    "orange": "#fb8c00",
    "purple": "#8e24aa",
    "teal": "#00897b",
    "pink": "#d81b60",
    "brown": "#6d4c41",
    "black": "#212121",
    "gray": "#757575",
}
COLOR_NAMES: dict[str, str] = {hex_: name for name, hex_ in PALETTE.items()}

# ---------------------------------------------------------------- prompts (the paper's style)

GENERATION_HEADER = (
    "As an expert in SVG generation, you will be given an instruction. "
    "Please generate an SVG that satisfies the instruction. Instruction: "
)
IMG2SVG_PROMPT = (
    "As an expert in SVG generation, you will be given an image. "
    "Please convert the given image into SVG code that reproduces it as faithfully as possible. "
    "Use a 128x128 canvas (viewBox=\"0 0 128 128\")."
)
EDIT_HEADER = (
    "As an expert in SVG editing, you will be given an SVG code and an editing instruction. "
    "Please modify the SVG code according to the instruction."
)
# The official inference appends this to every edit prompt at run time (inference_edit.py), so
# the released records do not contain it. Set to True to bake it into the records instead.
EDIT_SUFFIX = "\nOnly output the svg code, no other text."
EDIT_SUFFIX_IN_RECORD = False
CHOICE_HEADER = (
    "As an expert in SVG understanding, you will be given an SVG code and a multiple-choice "
    "question about it. Please choose the correct option."
)
CHOICE_FOOTER = 'Answer with exactly one of "A.", "B.", "C.", "D."'
LETTERS = "ABCD"


def generation_prompt(instruction: str) -> str:
    """text2svg prompt: the paper's generation wrapper around one instruction."""
    return GENERATION_HEADER + instruction


def edit_prompt(svg: str, instruction: str) -> str:
    """Edit prompt: the source SVG code, then the instruction (as in SArena's edit records)."""
    prompt = f"{EDIT_HEADER}\nSVG code:\n{svg}\nInstruction: {instruction}"
    return prompt + EDIT_SUFFIX if EDIT_SUFFIX_IN_RECORD else prompt


def choice_prompt(svg: str, question: str, options: list[str]) -> str:
    """Multiple-choice prompt over an SVG code with four lettered options."""
    lines = [CHOICE_HEADER, "SVG code:", svg, f"Question: {question}", "Options:"]
    lines += [f"{LETTERS[i]}. {opt}" for i, opt in enumerate(options)]
    lines.append(CHOICE_FOOTER)
    return "\n".join(lines)


# ---------------------------------------------------------------- records and files


def record(sample_id: int, prompt: str, answer: str, **extra: Any) -> dict[str, Any]:
    """One SArena jsonl record: id, the two-turn conversation, then extra fields (image, Subject)."""
    rec: dict[str, Any] = {
        "id": sample_id,
        "conversations": [{"from": "human", "value": prompt}, {"from": "gpt", "value": answer}],
    }
    rec.update(extra)
    return rec


def caption_record(sample_id: int, caption: str) -> dict[str, Any]:
    """One caption.jsonl line, keyed by the reference render's file name."""
    return {"image": f"{sample_id}.png", "caption": [{"generated_text": caption}]}


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write records one per line (UTF-8, no ASCII escaping); returns how many were written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def render(svg: str):
    """Rasterise exactly as SArena does: cairosvg at 448x448 on white, converted to RGB."""
    import cairosvg
    from PIL import Image

    png = cairosvg.svg2png(bytestring=svg.encode("utf-8"), background_color="white",
                           output_width=RENDER_SIZE, output_height=RENDER_SIZE)
    return Image.open(io.BytesIO(png)).convert("RGB")


def write_reference(folder: Path, sample_id: int, svg: str) -> None:
    """Store ``svg/<id>.svg`` and its SArena render ``images/<id>.png`` under ``folder``."""
    check_svg(svg)
    (folder / "svg").mkdir(parents=True, exist_ok=True)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "svg" / f"{sample_id}.svg").write_text(svg, encoding="utf-8", newline="\n")
    render(svg).save(folder / "images" / f"{sample_id}.png", optimize=True)


def check_svg(svg: str) -> None:
    """Fail loudly if an SVG would not parse the way SArena's rasteriser requires."""
    root = ET.fromstring(svg)
    if root.tag != f"{{{SVG_NS}}}svg":
        raise ValueError(f"not an svg root: {root.tag}")
    if root.get("width") != str(CANVAS) or root.get("height") != str(CANVAS):
        raise ValueError("reference SVGs must be width=height=128")


# ---------------------------------------------------------------- SVG text


def fmt(x: float, digits: int = 6) -> str:
    """A short decimal for an SVG attribute: no trailing zeros, no exponent, no ``-0``."""
    s = f"{x:.{digits}f}".rstrip("0").rstrip(".")
    return "0" if s in ("", "-0") else s


def _escape(value: str) -> str:
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def local_name(tag: str) -> str:
    """``{ns}path`` -> ``path``."""
    return tag.rsplit("}", 1)[-1]


def _attr_name(key: str) -> str:
    if key.startswith(f"{{{XLINK_NS}}}"):
        return "xlink:" + key.split("}", 1)[1]
    if key.startswith("{http://www.w3.org/XML/1998/namespace}"):
        return "xml:" + key.split("}", 1)[1]
    return local_name(key)


def attrs_text(attrs: dict[str, str]) -> str:
    """`` k="v"`` pairs in the given order."""
    return "".join(f' {k}="{_escape(v)}"' for k, v in attrs.items())


def element_text(elem: ET.Element, drop: frozenset[str] = frozenset({"class", "id"})) -> str:
    """Serialise one element and its subtree, one element per line, without namespace prefixes.

    Element tails (text between elements) are dropped: the sources hold only whitespace there.
    """
    attrs = {_attr_name(k): v for k, v in elem.attrib.items() if _attr_name(k) not in drop}
    inner = "\n".join(element_text(child, drop) for child in elem)
    text = _escape((elem.text or "").strip())
    tag = local_name(elem.tag)
    if not inner and not text:
        return f"<{tag}{attrs_text(attrs)}/>"
    if not inner:
        return f"<{tag}{attrs_text(attrs)}>{text}</{tag}>"
    return f"<{tag}{attrs_text(attrs)}>{text}\n{inner}\n</{tag}>"


def svg_document(body: str, viewbox: str = f"0 0 {CANVAS} {CANVAS}", xlink: bool = False) -> str:
    """A complete 128x128 SVG around ``body`` (one or more element lines)."""
    ns = f' xmlns:xlink="{XLINK_NS}"' if xlink else ""
    return (f'<svg xmlns="{SVG_NS}"{ns} viewBox="{viewbox}" width="{CANVAS}" height="{CANVAS}">\n'
            f"{body}\n</svg>\n")


def wrap(body: str, **attrs: str) -> str:
    """Put ``body`` inside a ``<g>`` with the given attributes (``stroke_width`` -> ``stroke-width``)."""
    named = {k.replace("_", "-"): v for k, v in attrs.items()}
    return f"<g{attrs_text(named)}>\n{body}\n</g>"


def svg_body(svg: str) -> str:
    """The lines between the root ``<svg ...>`` line and ``</svg>`` of a document we wrote."""
    lines = svg.strip().split("\n")
    if not (lines[0].startswith("<svg") and lines[-1] == "</svg>"):
        raise ValueError("not a document made by svg_document()")
    return "\n".join(lines[1:-1])


# ---------------------------------------------------------------- npm sources


@dataclass(frozen=True)
class NpmSource:
    """A pinned npm package the suite takes content from."""

    name: str
    version: str
    licence: str
    homepage: str

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"


def npm_fetch(src: NpmSource, workdir: Path) -> Path:
    """``npm pack`` the pinned package into ``workdir`` and unpack it; returns its ``package/`` dir.

    A tarball already in ``workdir`` is reused, so ``--cache DIR`` makes rebuilds offline.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    tarball_name = src.name.lstrip("@").replace("/", "-") + f"-{src.version}.tgz"
    tarball = workdir / tarball_name
    if not tarball.is_file():
        subprocess.run(["npm", "pack", src.spec, "--silent", "--pack-destination", str(workdir)],
                       check=True, stdout=subprocess.DEVNULL)
    if not tarball.is_file():
        raise FileNotFoundError(f"npm pack {src.spec} did not produce {tarball}")
    dest = workdir / tarball_name.removesuffix(".tgz")
    if not (dest / "package").is_dir():
        with tarfile.open(tarball) as tf:
            tf.extractall(dest, filter="data")
    return dest / "package"
