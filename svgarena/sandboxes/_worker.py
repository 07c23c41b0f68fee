"""The render worker: a long-lived child process that turns untrusted SVG into RGB pixels.

Run as ``python -I path/to/_worker.py LIMITS_JSON`` (or ``python -m svgarena.sandboxes._worker``),
inside a jail (bubblewrap, ``unshare -rn``, a container) where the machine has one. It imports
only the standard library, cairosvg, Pillow and (when installed) resvg-py, never svgarena or
numpy, so it starts fast, runs in a bare container, and holds no state worth stealing. It lowers
its own resource limits before it reads any SVG, then serves requests over stdin/stdout until
stdin closes. ``LIMITS_JSON`` may carry ``sys_path`` (folders to import from, for a jail that
binds the packages somewhere else). ``--probe`` prints (as JSON) the files of every module a
render imports, so a jail can bind exactly those.

Wire format, both ways: ``>II`` (header length, body length), a UTF-8 JSON header, raw body.
Request header: ``{"width", "height", "background", "renderer", "cpu_s", "max_depth",
"encoding"}``, body: the SVG bytes. Reply header: ``{"outcome", "reason", "width", "height",
"seconds", "encoding"}``, body: RGB bytes (height * width * 3; zlib-compressed when the request
asked for ``"encoding": "zlib"``) when the outcome is ``ok``, else empty; the image always has the
requested size. Outcome strings are the values of ``svgarena.outcome.Outcome``. The first frame
a worker writes is ``{"ready": true, "pid", "renderers": {name: version or null}}``.

Hostile input is handled in layers: the parse is the standard library's expat (entity
amplification is refused; external entities are never fetched), nesting deeper than
``max_depth`` is refused before a renderer sees it (deep trees overflow cairosvg's recursion and
crash resvg), cairosvg refuses entities and gets a URL fetcher that serves only ``data:`` URLs,
and resvg gets the document with every ``href`` that leaves it removed. The jail and rlimits bound whatever is left.
"""

from __future__ import annotations

import io
import json
import os
import resource
import signal
import struct
import sys
import time

_FRAME = struct.Struct(">II")
MAX_HEADER = 1 << 20

MAX_DEPTH = 128  # element nesting a render may have (resvg-py crashes past about 220)
# Limits applied when the parent passes none (the parent normally passes all of them).
DEFAULT_LIMITS: dict[str, int] = {
    "as_bytes": 2 << 30,  # address space: a hostile SVG cannot take the machine's memory
    "cpu_s": 6 * 3600,  # hard CPU budget over the worker's life (per render: see _cpu_budget)
    "render_cpu_s": 30,  # soft CPU budget per render, re-armed before each one
    "fsize_bytes": 0,  # a renderer never needs to write a file
    "nofile": 256,
    "nproc": 0,  # no forks (not enforced for root, which bypasses RLIMIT_NPROC)
}


def apply_limits(limits: dict[str, int]) -> None:
    """Lower this process's resource limits; each one that the OS refuses is skipped."""
    wanted = {
        resource.RLIMIT_AS: limits.get("as_bytes"),
        resource.RLIMIT_CPU: limits.get("cpu_s"),
        resource.RLIMIT_FSIZE: limits.get("fsize_bytes"),
        resource.RLIMIT_NOFILE: limits.get("nofile"),
        resource.RLIMIT_CORE: 0,  # no core files from a crash
    }
    if limits.get("nproc") is not None and hasattr(resource, "RLIMIT_NPROC"):
        wanted[resource.RLIMIT_NPROC] = limits["nproc"]
    for which, value in wanted.items():
        if value is None:
            continue
        try:
            _soft, hard = resource.getrlimit(which)
            value = int(value) if hard == resource.RLIM_INFINITY else min(int(value), hard)
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            pass
    # Writing past RLIMIT_FSIZE fails with EFBIG instead of killing the process.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _cpu_budget(seconds: int) -> None:
    """Re-arm the soft CPU limit so that this render alone may use ``seconds`` of CPU."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = int(usage.ru_utime + usage.ru_stime) + 1
    soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    new = used + max(1, seconds)
    if hard != resource.RLIM_INFINITY:
        new = min(new, hard)
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (new, hard))
    except (ValueError, OSError):
        pass


def _read_exact(stream, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = stream.read(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def _write(stream, header: dict, body: bytes = b"") -> None:
    head = json.dumps(header).encode()
    stream.write(_FRAME.pack(len(head), len(body)))
    stream.write(head)
    if body:
        stream.write(body)
    stream.flush()


def _to_rgb(png: bytes, background: str | None = None) -> tuple[bytes, int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        if background is not None and im.mode in ("RGBA", "LA", "P"):
            base = Image.new("RGBA", im.size, background)
            base.alpha_composite(im.convert("RGBA"))
            im = base
        rgb = im.convert("RGB")
        return rgb.tobytes(), rgb.width, rgb.height


def _data_only_fetcher(url: str, resource_type: str) -> bytes:
    """cairosvg's ``safe_fetch`` (its default since 2.7), kept on older releases too: only
    ``data:`` URLs are read; anything else (file, http, relative) resolves to an empty 1x1 SVG."""
    if url and url.startswith("data:"):
        from urllib.request import urlopen

        with urlopen(url) as response:  # a data: URL never touches the network or the disk
            return response.read(64 << 20)
    return b'<svg width="1" height="1"></svg>'


_RAW_SURFACE = None


def _raw_surface_class():
    """cairosvg's PNG surface that keeps the cairo pixels instead of writing a PNG.

    svg2png encodes a PNG that SArena then decodes again; for an opaque image (any opaque
    background) the pixels read straight from the surface are the same bytes, without the
    zlib round trip (about half the time of a typical icon render)."""
    global _RAW_SURFACE
    if _RAW_SURFACE is None:
        from cairosvg.surface import PNGSurface, Surface

        class RawSurface(PNGSurface):
            raw = None

            def finish(self):
                surface = self.cairo
                surface.flush()
                self.raw = (bytes(surface.get_data()), surface.get_width(), surface.get_height(),
                            surface.get_stride())
                return Surface.finish(self)

        _RAW_SURFACE = RawSurface
    return _RAW_SURFACE


def _render_cairosvg(svg: bytes, req: dict) -> tuple[bytes, int, int]:
    from cairosvg.parser import Tree
    from PIL import Image

    # svg2png's own steps (PNGSurface.convert), plus the fetcher, which svg2png does not pass on.
    tree = Tree(bytestring=svg, unsafe=False, url_fetcher=_data_only_fetcher)
    surface = _raw_surface_class()(tree, None, 96, None, None, None, 1, req["width"], req["height"],
                                   req["background"], map_rgba=None, map_image=None)
    surface.finish()
    data, width, height, stride = surface.raw
    im = Image.frombuffer("RGBA", (width, height), data, "raw", "BGRA", stride, 1)
    if im.getchannel("A").getextrema()[0] == 255:  # opaque: premultiplied == straight colour
        rgb = im.convert("RGB")
        return rgb.tobytes(), width, height
    # Some transparency (no or a translucent background): cairo's own PNG unpremultiply, as svg2png.
    import cairocffi

    surf = cairocffi.ImageSurface.create_for_data(bytearray(data), cairocffi.FORMAT_ARGB32, width, height, stride)
    png = io.BytesIO()
    surf.write_to_png(png)
    return _to_rgb(png.getvalue())


def _local_refs_only(svg: bytes) -> bytes:
    """The SVG without ``href``s that point outside it: resvg opens absolute paths and
    ``file:`` URLs in ``<image>``/``<feImage>`` itself (seen: a canary file opened by a
    worker without a jail), so only ``#fragment`` and ``data:`` references are kept."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(svg)
    changed = False
    for el in root.iter():
        for key in [k for k in el.attrib if k == "href" or k.endswith("}href")]:
            value = el.attrib[key].strip()
            if not (value.startswith("#") or value[:5].lower() == "data:"):
                del el.attrib[key]
                changed = True
    return ET.tostring(root) if changed else svg


def _render_resvg(svg: bytes, req: dict) -> tuple[bytes, int, int]:
    try:
        import resvg_py
    except ImportError:
        raise RuntimeError("the resvg renderer needs resvg-py; install it with `pip install resvg-py`") from None
    svg = _local_refs_only(svg)
    png = resvg_py.svg_to_bytes(svg_string=svg.decode("utf-8", "replace"), width=req["width"], height=req["height"])
    return _to_rgb(bytes(png), background=req["background"])


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name, dist in (("cairosvg", "cairosvg"), ("resvg", "resvg-py")):
        try:
            from importlib.metadata import version

            out[name] = version(dist)
        except Exception:  # noqa: BLE001 - not installed, or no metadata in a jail
            out[name] = None
    return out


def _depth(root) -> int:
    """Nesting depth of an ElementTree element, without recursion."""
    deepest, stack = 0, [(root, 1)]
    while stack:
        node, d = stack.pop()
        if d > deepest:
            deepest = d
        stack.extend((child, d + 1) for child in node)
    return deepest


def _force_size(body: bytes, width: int, height: int, want_w: int, want_h: int) -> bytes:
    """Resize an RGB image to the requested size (a renderer that kept the aspect ratio)."""
    from PIL import Image

    im = Image.frombytes("RGB", (width, height), body)
    return im.resize((want_w, want_h), Image.Resampling.BILINEAR).tobytes()


_WARMUP = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 8 8"><rect width="4" height="4"/></svg>'

_RENDERERS = {"cairosvg": _render_cairosvg, "resvg": _render_resvg}


def render(svg: bytes, req: dict) -> tuple[dict, bytes]:
    """SArena's static render: the SVG must parse as XML, then the requested renderer draws it to RGB."""
    import xml.etree.ElementTree as ET

    start = time.perf_counter()
    head = {"width": req["width"], "height": req["height"]}
    try:
        root = ET.fromstring(svg)
    except ET.ParseError as exc:
        return {**head, "outcome": "parse_error", "reason": f"ParseError: {exc}",
                "seconds": time.perf_counter() - start}, b""
    except Exception as exc:  # noqa: BLE001 - anything the parser raises means "not XML"
        return {**head, "outcome": "parse_error", "reason": f"{type(exc).__name__}: {exc}",
                "seconds": time.perf_counter() - start}, b""
    max_depth = int(req.get("max_depth") or MAX_DEPTH)
    depth = _depth(root)
    del root
    if depth > max_depth:
        return {**head, "outcome": "render_error",
                "reason": f"SVG nesting is {depth} elements deep, over the limit of {max_depth}",
                "seconds": time.perf_counter() - start}, b""
    fn = _RENDERERS.get(req.get("renderer", "cairosvg"))
    if fn is None:
        return {**head, "outcome": "render_error",
                "reason": f"unknown renderer {req.get('renderer')!r}; use one of {', '.join(_RENDERERS)}",
                "seconds": time.perf_counter() - start}, b""
    try:
        body, width, height = fn(svg, req)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - every render failure is reported, never raised
        message = str(exc) or repr(exc)
        return {**head, "outcome": "render_error", "reason": f"{type(exc).__name__}: {message}"[:2000],
                "seconds": time.perf_counter() - start}, b""
    if (width, height) != (req["width"], req["height"]):
        body = _force_size(body, width, height, req["width"], req["height"])
        width, height = req["width"], req["height"]
    head = {"outcome": "ok", "reason": "", "width": width, "height": height}
    if req.get("encoding") == "zlib":  # for streams that cost per byte (a container's attach stream)
        import zlib

        body = zlib.compress(body, 1)
        head["encoding"] = "zlib"
    head["seconds"] = time.perf_counter() - start
    return head, body


def serve(limits: dict[str, int]) -> int:
    """Apply the limits, load the renderer, then answer requests until stdin closes."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    # Nothing else may write to the protocol stream.
    sys.stdout = sys.stderr
    try:
        # Load the renderer before the limits: cairocffi locates libcairo with helper processes
        # and temp files. No SVG has been read yet, so nothing hostile runs unlimited.
        import cairosvg  # noqa: F401
        import PIL.Image  # noqa: F401
        import PIL.PngImagePlugin  # noqa: F401
    except Exception as exc:  # noqa: BLE001
        _write(stdout, {"ready": False, "reason": f"{type(exc).__name__}: {exc}"})
        return 2
    try:
        import resvg_py  # noqa: F401 - optional; loaded now so a jail never needs it later
    except Exception:  # noqa: BLE001
        pass
    versions = _versions()
    apply_limits(limits)
    warm, _ = render(_WARMUP, {"width": 8, "height": 8, "background": "white", "renderer": "cairosvg"})
    if warm["outcome"] != "ok":
        _write(stdout, {"ready": False, "reason": f"a warm-up render failed under the limits: {warm['reason']}"})
        return 2
    _write(stdout, {"ready": True, "pid": os.getpid(), "renderers": versions})
    render_cpu = int(limits.get("render_cpu_s", DEFAULT_LIMITS["render_cpu_s"]))
    while True:
        frame = _read_exact(stdin, _FRAME.size)
        if frame is None:
            return 0
        hlen, blen = _FRAME.unpack(frame)
        if hlen > MAX_HEADER:
            return 3
        head = _read_exact(stdin, hlen)
        svg = _read_exact(stdin, blen) if blen else b""
        if head is None or svg is None:
            return 0
        req = json.loads(head)
        _cpu_budget(int(req.get("cpu_s", render_cpu)))
        try:
            reply, body = render(svg, req)
        except MemoryError:
            # Report it, then exit: the parent replaces a worker whose heap may be damaged.
            _write(stdout, {"outcome": "render_error", "reason": "MemoryError: the render exceeded the memory limit",
                            "width": req["width"], "height": req["height"], "seconds": 0.0, "exit": True})
            return 4
        _write(stdout, reply, body)


def probe() -> int:
    """Print the files of every module a render loads (both renderers), as a JSON list."""
    sys.stdout, out = sys.stderr, sys.stdout
    for name in ("cairosvg", "resvg"):
        try:
            render(_WARMUP, {"width": 8, "height": 8, "background": "white", "renderer": name})
        except Exception:  # noqa: BLE001
            pass
    import importlib.metadata  # noqa: F401 - _versions() reads the packages' metadata

    _versions()
    files = sorted({getattr(m, "__file__", None) or "" for m in list(sys.modules.values())} - {""})
    out.write(json.dumps(files))
    out.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--probe":
        return probe()
    limits = dict(DEFAULT_LIMITS)
    if argv:
        limits.update(json.loads(argv[0]))
    for folder in reversed(limits.get("sys_path") or []):
        sys.path.insert(0, folder)
    return serve(limits)


if __name__ == "__main__":
    sys.exit(main())
