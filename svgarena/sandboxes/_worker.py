"""The render worker: a long-lived child process that turns untrusted SVG into RGB pixels.

Run as ``python -I path/to/_worker.py LIMITS_JSON`` (or ``python -m svgarena.sandboxes._worker``).
It imports only the standard library, cairosvg and Pillow (never svgarena or numpy), so it
starts fast and holds no state worth stealing. It lowers its own resource limits before it
reads any SVG, then serves requests over stdin/stdout until stdin closes.

Wire format, both ways: ``>II`` (header length, body length), a UTF-8 JSON header, raw body.
Request header: ``{"width", "height", "background", "renderer"}``, body: the SVG bytes.
Reply header: ``{"outcome", "reason", "width", "height", "seconds"}``, body: RGB bytes
(height * width * 3) when the outcome is ``ok``, else empty. Outcome strings are the values
of ``svgarena.outcome.Outcome``. The first frame a worker writes is ``{"ready": true}``.
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


def _render_cairosvg(svg: bytes, req: dict) -> tuple[bytes, int, int]:
    import cairosvg

    png = cairosvg.svg2png(
        bytestring=svg,
        background_color=req["background"],
        output_width=req["width"],
        output_height=req["height"],
    )
    return _to_rgb(png)


def _render_resvg(svg: bytes, req: dict) -> tuple[bytes, int, int]:
    try:
        import resvg_py
    except ImportError:
        raise RuntimeError("the resvg renderer needs resvg-py; install it with `pip install resvg-py`") from None
    png = resvg_py.svg_to_bytes(svg_string=svg.decode("utf-8", "replace"), width=req["width"], height=req["height"])
    return _to_rgb(bytes(png), background=req["background"])


_WARMUP = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 8 8"><rect width="4" height="4"/></svg>'

_RENDERERS = {"cairosvg": _render_cairosvg, "resvg": _render_resvg}


def render(svg: bytes, req: dict) -> tuple[dict, bytes]:
    """SArena's static render: the SVG must parse as XML, then cairosvg draws it to RGB."""
    import xml.etree.ElementTree as ET

    start = time.perf_counter()
    head = {"width": req["width"], "height": req["height"]}
    try:
        ET.fromstring(svg)
    except ET.ParseError as exc:
        return {**head, "outcome": "parse_error", "reason": f"ParseError: {exc}",
                "seconds": time.perf_counter() - start}, b""
    except Exception as exc:  # noqa: BLE001 - anything the parser raises means "not XML"
        return {**head, "outcome": "parse_error", "reason": f"{type(exc).__name__}: {exc}",
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
    return {"outcome": "ok", "reason": "", "width": width, "height": height,
            "seconds": time.perf_counter() - start}, body


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
    except Exception as exc:  # noqa: BLE001
        _write(stdout, {"ready": False, "reason": f"{type(exc).__name__}: {exc}"})
        return 2
    apply_limits(limits)
    warm, _ = render(_WARMUP, {"width": 8, "height": 8, "background": "white", "renderer": "cairosvg"})
    if warm["outcome"] != "ok":
        _write(stdout, {"ready": False, "reason": f"a warm-up render failed under the limits: {warm['reason']}"})
        return 2
    _write(stdout, {"ready": True, "pid": os.getpid()})
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


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    limits = dict(DEFAULT_LIMITS)
    if argv:
        limits.update(json.loads(argv[0]))
    return serve(limits)


if __name__ == "__main__":
    sys.exit(main())
