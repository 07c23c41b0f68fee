"""``chemistry/``: 2D structure drawings of named molecules, made with RDKit.

SArena's chemistry samples are RDKit-style 2D depictions asked for by molecule name. The SMILES
below are written for this suite (public-domain chemical facts); RDKit draws each on a 128x128
canvas. Only the XML declaration and header comment are removed and the size attributes
normalised, so the drawing itself is RDKit's output unchanged.
"""

from __future__ import annotations

import re
from pathlib import Path

from _suite_common import IMG2SVG_PROMPT, generation_prompt, record, write_jsonl, write_reference

# (name used in the prompt, SMILES)
MOLECULES: tuple[tuple[str, str], ...] = (
    ("ethanol", "CCO"),
    ("benzene", "c1ccccc1"),
    ("aspirin", "CC(=O)Oc1ccccc1C(=O)O"),
    ("caffeine", "Cn1cnc2c1c(=O)n(C)c(=O)n2C"),
    ("acetic acid", "CC(=O)O"),
    ("phenol", "Oc1ccccc1"),
    ("pyridine", "c1ccncc1"),
    ("acetone", "CC(C)=O"),
    ("glycine", "NCC(=O)O"),
    ("paracetamol", "CC(=O)Nc1ccc(O)cc1"),
    ("ibuprofen", "CC(C)Cc1ccc(cc1)C(C)C(=O)O"),
    ("naphthalene", "c1ccc2ccccc2c1"),
    ("urea", "NC(N)=O"),
    ("cyclohexane", "C1CCCCC1"),
)


def draw(smiles: str) -> str:
    """RDKit's 128x128 SVG of a molecule, tidied to the suite's root attributes."""
    from rdkit import Chem
    from rdkit.Chem.Draw import rdMolDraw2D

    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f"RDKit cannot parse SMILES {smiles!r}")
    drawer = rdMolDraw2D.MolDraw2DSVG(128, 128)
    drawer.DrawMolecule(mol)
    drawer.FinishDrawing()
    svg = drawer.GetDrawingText()
    svg = re.sub(r"^<\?xml[^>]*\?>\s*", "", svg)
    svg = svg.replace("<!-- END OF HEADER -->\n", "")
    svg = svg.replace("width='128px' height='128px'", "width='128' height='128'")
    if "viewBox='0 0 128 128'" not in svg or "width='128' height='128'" not in svg:
        raise ValueError("unexpected RDKit SVG header; update draw()")
    return svg


def build_chemistry(root: Path) -> dict[str, int]:
    """Write ``chemistry/`` (text2svg and img2svg share ids and reference files; no captions)."""
    folder = root / "chemistry"
    text_rows, image_rows = [], []
    for sid, (name, smiles) in enumerate(MOLECULES):
        svg = draw(smiles)
        write_reference(folder, sid, svg)
        text_rows.append(record(sid, generation_prompt(f"Generate an SVG of the chemical structure of {name}."), svg))
        image_rows.append(record(sid, IMG2SVG_PROMPT, svg, image=f"images/{sid}.png"))
    return {
        "chemistry/text2svg.jsonl": write_jsonl(folder / "text2svg.jsonl", text_rows),
        "chemistry/img2svg.jsonl": write_jsonl(folder / "img2svg.jsonl", image_rows),
    }
