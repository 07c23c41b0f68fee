#!/usr/bin/env python
"""Build the bundled ``sarena-mini`` suite: a small, offline, open-licensed SArena look-alike.

    python scripts/build_sarena_mini.py [--out DIR] [--cache DIR] [--no-animation]

It writes SArena's released layout and record format (``Icon/``, ``illustration/``,
``chemistry/``; ``animation/`` comes from ``scripts/_suite_animation.py`` when that module is
present) plus ``SOURCES.md`` and ``LICENSES/``. Content is fetched with ``npm pack`` at pinned
versions and every choice is seeded, so a rebuild gives the same files. Needs ``npm``, RDKit and
cairosvg (``pip install -e .[suite]``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _suite_chemistry import MOLECULES, build_chemistry  # noqa: E402
from _suite_common import SEED, NpmSource, npm_fetch  # noqa: E402
from _suite_edits import build_edits  # noqa: E402
from _suite_icons import ICON_SOURCES, IconPicker, build_generation  # noqa: E402
from _suite_illustration import OPENMOJI, build_illustration  # noqa: E402
from _suite_understanding import build_understanding  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "svgarena" / "tasks" / "data" / "sarena-mini"
STATIC_PARTS = ("Icon", "illustration", "chemistry", "LICENSES", "SOURCES.md")

# package -> (file in the npm package, name under LICENSES/)
LICENCE_FILES: dict[str, tuple[str, str]] = {
    "lucide-static": ("LICENSE", "lucide-static-ISC.txt"),
    "@tabler/icons": ("LICENSE", "tabler-icons-MIT.txt"),
    "bootstrap-icons": ("LICENSE", "bootstrap-icons-MIT.txt"),
    "openmoji": ("LICENSE.txt", "openmoji-CC-BY-SA-4.0.txt"),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="suite folder to (re)write")
    parser.add_argument("--cache", type=Path, default=None,
                        help="keep npm tarballs here and reuse them (default: a temporary folder)")
    parser.add_argument("--no-animation", action="store_true", help="skip the animation part")
    return parser.parse_args(argv)


def clean_static(out: Path) -> None:
    """Remove what this builder writes, leaving ``animation/`` (another builder's) alone."""
    for part in STATIC_PARTS:
        path = out / part
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def fetch_all(workdir: Path, step=None) -> dict[str, Path]:
    """npm-pack every pinned source; package name -> its unpacked ``package/`` folder."""
    packages: dict[str, Path] = {}
    for src in (*ICON_SOURCES, OPENMOJI):
        print(f"fetching {src.spec}")
        packages[src.name] = npm_fetch(src, workdir)
        if step is not None:
            step.update(advance=1, what=f"fetched {src.name}")
    return packages


def build_static(out: Path, packages: dict[str, Path]) -> tuple[dict[str, int], IconPicker, list[str]]:
    """Write Icon/, illustration/ and chemistry/; each part has its own seeded generator."""
    picker = IconPicker(packages, random.Random(SEED))
    counts: dict[str, int] = {}
    counts |= build_generation(out, picker)
    counts |= build_understanding(out, picker, random.Random(SEED + 1))
    counts |= build_edits(out, picker, random.Random(SEED + 2))
    ill_counts, openmoji_files = build_illustration(out, packages[OPENMOJI.name], random.Random(SEED + 3))
    counts |= ill_counts
    counts |= build_chemistry(out)
    return counts, picker, openmoji_files


def write_licences(out: Path, packages: dict[str, Path]) -> None:
    """Copy each source package's licence text into ``LICENSES/``."""
    folder = out / "LICENSES"
    folder.mkdir(parents=True, exist_ok=True)
    for name, (inside, dest) in LICENCE_FILES.items():
        shutil.copyfile(packages[name] / inside, folder / dest)


def _source_section(src: NpmSource, files: list[str], how: str) -> list[str]:
    lines = [f"### {src.name} {src.version} ({src.licence})", "",
             f"- npm: `npm pack {src.spec}`; project: {src.homepage}",
             f"- licence text: `LICENSES/{LICENCE_FILES[src.name][1]}`",
             f"- transformation: {how}",
             f"- files used ({len(files)}):", ""]
    lines += [f"  - `{f}`" for f in sorted(files)]
    return lines + [""]


def write_sources(out: Path, picker: IconPicker, openmoji_files: list[str]) -> None:
    """SOURCES.md: where every piece of the suite comes from and how it was changed."""
    from rdkit import rdBase

    icon_how = ("root `<svg>` replaced by a 128x128 one; the icon's shapes wrapped in "
                "`<g transform=\"scale(128/size)\">` carrying the original root presentation "
                "attributes; `currentColor` replaced by a seeded palette colour; `class`/`id` "
                "attributes, comments and invisible bounding-box paths removed. Edit targets "
                "apply one further transform (see `scripts/_suite_edits.py`).")
    lines = [
        "# sarena-mini: sources and licences",
        "",
        "A small offline suite in SArena's released layout (InternSVG paper, ICLR 2026), built by",
        "`scripts/build_sarena_mini.py` from the pinned open-licensed sources below. The questions,",
        "prompts, captions, edit instructions and edit transforms are this project's own work.",
        "The `animation/` part is the project's own work too (written by",
        "`scripts/_suite_animation.py`, no third-party content).",
        "",
        "The OpenMoji illustrations are adaptations (rescaled) of OpenMoji graphics and are shared",
        "under the same licence, CC BY-SA 4.0: \"All emojis designed by OpenMoji - the open-source",
        "emoji and icon project. License: CC BY-SA 4.0\" (https://openmoji.org).",
        "",
        "## Sources",
        "",
    ]
    by_source: dict[str, list[str]] = {}
    for icon in picker.used:
        by_source.setdefault(icon.source.name, []).append(icon.file)
    for src in ICON_SOURCES:
        lines += _source_section(src, by_source.get(src.name, []), icon_how)
    lines += _source_section(OPENMOJI, openmoji_files,
                             "content of the colour SVG wrapped in `<g transform=\"scale(128/72)\">` "
                             "inside a 128x128 root; `id` attributes removed.")
    lines += [
        f"### RDKit {rdBase.rdkitVersion} (BSD-3-Clause), chemistry drawings", "",
        "- SMILES written for this suite; drawings made with `rdMolDraw2D.MolDraw2DSVG(128, 128)`;",
        "  XML declaration and header comment removed, `width`/`height` set to `128`.",
        f"- molecules ({len(MOLECULES)}): " + ", ".join(name for name, _ in MOLECULES),
        "",
        "## Rendering",
        "",
        "Every `images/<id>.png` is `cairosvg.svg2png(bytestring=svg, background_color=\"white\",",
        "output_width=448, output_height=448)` converted to RGB with Pillow, exactly as SArena",
        "rasterises SVGs; img2svg inputs are these same renders.",
        "",
    ]
    (out / "SOURCES.md").write_text("\n".join(lines), encoding="utf-8", newline="\n")


def build_animation(out: Path) -> None:
    """The animation part, with its video captures counted (a bar on a terminal, lines otherwise)."""
    from svgarena.harness import StepProgress

    with StepProgress("animation videos", unit="samples") as bar:
        _build_animation(out, bar)


def _build_animation(out: Path, progress) -> None:
    """Run ``scripts/_suite_animation.py``'s ``build(root)`` if that module exists."""
    try:
        module = importlib.import_module("_suite_animation")
    except ModuleNotFoundError as exc:
        if exc.name != "_suite_animation":
            raise
        print("note: scripts/_suite_animation.py not found; animation part skipped")
        return
    build = getattr(module, "build", None)
    if build is None:
        print("note: scripts/_suite_animation.py has no build(root); animation part skipped")
        return
    build(out, progress=progress)


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    clean_static(out)
    from svgarena.harness import StepProgress

    steps = len(ICON_SOURCES) + 1 + 1 + 2  # fetch each source (icons, OpenMoji), the static parts, licences + sources
    with tempfile.TemporaryDirectory(prefix="sarena-mini-npm-") as tmp, \
            StepProgress("static part", total=steps, unit="steps") as step:
        step.update(0, what="fetching sources")
        packages = fetch_all(args.cache.resolve() if args.cache else Path(tmp), step)
        counts, picker, openmoji_files = build_static(out, packages)
        step.update(advance=1, what="static parts written")
        write_licences(out, packages)
        write_sources(out, picker, openmoji_files)
        step.update(advance=2, what="licences and sources written")
    for name, n in counts.items():
        print(f"{n:4d}  {name}")
    static = sum(folder_size(out / p) if (out / p).is_dir() else (out / p).stat().st_size
                 for p in STATIC_PARTS if (out / p).exists())
    print(f"static part: {static / 1e6:.2f} MB in {out}")
    if not args.no_animation:
        build_animation(out)
    print(f"suite total: {folder_size(out) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
