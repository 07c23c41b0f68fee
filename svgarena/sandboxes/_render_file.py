"""One SVG file to one PNG or MP4, for people (``svgarena render``)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from svgarena.sandboxes._types import RenderResult, RenderSpec

ANIMATION_MODES = ("sarena-exact", "fast")


def read_svg(path: str | os.PathLike[str]) -> str:
    """The file's text; bytes that are not UTF-8 are kept (as surrogates) so that the sandboxed
    parser, not this process, reports them."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such file")
    return p.read_bytes().decode("utf-8", "surrogateescape")


def check_output_suffix(output: Path, animate: bool) -> None:
    """Refuse an output name whose extension does not match what will be written (a PNG or an MP4)."""
    want = ".mp4" if animate else ".png"
    if output.suffix.lower() != want:
        what = "with --animate the output is an MP4 video" if animate else "the output is a PNG image (--animate for MP4)"
        got = f"{output.suffix!r}" if output.suffix else "no extension"
        raise ValueError(f"{output}: {what}; give a {want} name (got {got})")


def render_file(
    path: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    renderer: str = "cairosvg",
    backend: str = "local",
    size: int = 448,
    timeout_s: float = 10.0,
    animate: bool = False,
    mode: str = "sarena-exact",
) -> RenderResult:
    """Render ``path`` in the sandbox and write ``output`` (PNG, or MP4 with ``animate``).

    ``mode`` ``sarena-exact`` writes SArena's 150 frames (5 s at 30 fps); ``fast`` writes only
    the 8 frames the metrics read (one after another at 30 fps). Nothing is written on failure.
    Raises ValueError/FileNotFoundError/RuntimeError for what the user can fix.
    """
    from svgarena.sandboxes._backends import check_choice, open_backend

    out = Path(output)
    check_output_suffix(out, animate)  # before anything is read or rendered
    svg = read_svg(path)
    if size < 2 or size > 8192:
        raise ValueError(f"--size must be between 2 and 8192, got {size}")
    if animate:
        if mode not in ANIMATION_MODES:
            raise ValueError(f"unknown animation mode {mode!r}; use one of {', '.join(ANIMATION_MODES)}")
        if size % 2:
            raise ValueError("an H.264 video needs an even --size")
        return asyncio.run(_animate(svg, out, size, timeout_s, mode))
    check_choice(backend, renderer)
    pool = open_backend(backend, 1)
    try:
        result = pool.render_svg(svg, RenderSpec(width=size, height=size, timeout_s=timeout_s, renderer=renderer))
    finally:
        pool.shutdown()
    if result.ok:
        from PIL import Image

        out.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(result.image).save(out, format="PNG")
    return result


async def _animate(svg: str, out: Path, size: int, timeout_s: float, mode: str) -> RenderResult:
    from svgarena.sandboxes._browser import BrowserAnimationRenderer, fast_times, sarena_times
    from svgarena.sandboxes._video import encode_mp4

    async with BrowserAnimationRenderer(pages=1, timeout_s=max(timeout_s, 10.0)) as browser:
        times = sarena_times() if mode == "sarena-exact" else fast_times(8)
        result = await browser.capture(svg, times, size)
    if result.ok:
        await asyncio.to_thread(encode_mp4, result.meta["frames"], out)
        result.meta.pop("frames", None)
        result.meta["mp4"] = str(out)
    return result
