"""Write a small folder in SArena's released layout, as a third party's data would look."""

from __future__ import annotations

import io
import json
from pathlib import Path

ICON = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 128 128" width="128" height="128">'
        '<circle cx="64" cy="64" r="{r}" fill="{fill}"/></svg>')


def png_of(svg: str) -> bytes:
    import cairosvg
    from PIL import Image

    png = cairosvg.svg2png(bytestring=svg.encode(), background_color="white", output_width=448, output_height=448)
    buf = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").save(buf, format="PNG")
    return buf.getvalue()


def record(i: int, prompt: str, answer: str, **extra) -> str:
    return json.dumps({"id": i, "conversations": [{"from": "human", "value": prompt},
                                                  {"from": "gpt", "value": answer}], **extra})


def make_layout(root: Path, n: int = 3) -> Path:
    """Icon img2svg, text2svg (with captions), one edit subtask, understanding and chemistry text2svg."""
    gen = root / "Icon" / "generation"
    (gen / "images").mkdir(parents=True)
    (gen / "svg").mkdir()
    img_lines, txt_lines, cap_lines = [], [], []
    for i in range(n):
        svg = ICON.format(r=20 + 10 * i, fill=["red", "green", "blue", "black"][i % 4])
        (gen / "svg" / f"{i}.svg").write_text(svg)
        (gen / "images" / f"{i}.png").write_bytes(png_of(svg))
        img_lines.append(record(i, "Convert this image to SVG.", svg, image=f"images/{i}.png"))
        txt_lines.append(record(i, f"As an expert... Instruction: a circle {i}", svg))
        cap_lines.append(json.dumps({"image": f"{i}.png", "caption": [{"generated_text": f" a circle {i} "}]}))
    (gen / "img2svg.jsonl").write_text("\n".join(img_lines) + "\n")
    (gen / "text2svg.jsonl").write_text("\n".join(txt_lines) + "\n")
    (gen / "caption.jsonl").write_text("\n".join(cap_lines) + "\n")

    edit = root / "Icon" / "edit" / "data"
    (edit / "flip" / "images").mkdir(parents=True)
    (edit / "flip" / "svg").mkdir()
    lines = []
    for i in range(n):
        svg = ICON.format(r=30, fill="orange")
        (edit / "flip" / "svg" / f"{i}.svg").write_text(svg)
        (edit / "flip" / "images" / f"{i}.png").write_bytes(png_of(svg))
        lines.append(record(i, f"Flip this SVG horizontally.\n{svg}\nOnly output the svg code, no other text.", svg))
    (edit / "flip.jsonl").write_text("\n".join(lines) + "\n")

    un = root / "Icon" / "understanding"
    un.mkdir(parents=True)
    (un / "sarena_un.jsonl").write_text("\n".join(
        record(i, "What colour is the circle? A. red B. green C. blue D. black", "ABCD"[i % 4] + ". x",
               Subject=["Color", "Quantity"][i % 2]) for i in range(n)) + "\n")

    chem = root / "chemistry"
    (chem / "images").mkdir(parents=True)
    lines = []
    for i in range(n):
        svg = ICON.format(r=40, fill="gray")
        (chem / "images" / f"{i}.png").write_bytes(png_of(svg))
        lines.append(record(i, "Instruction: draw ethanol", svg))
    (chem / "text2svg.jsonl").write_text("\n".join(lines) + "\n")
    return root
