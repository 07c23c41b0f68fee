"""Animation rendering in headless Chromium, the SArena way (``utils/svg_animate.py``).

The SVG is inlined in an HTML page whose body fills the viewport (448x448 by default). The
root ``<svg>`` gets ``width``/``height`` 100 %, ``preserveAspectRatio="xMidYMid meet"``, a
``viewBox`` if it had none (from its width/height, else the viewport) and a white ``<rect>``
as first child covering the viewBox. For every time ``t`` the SMIL timeline is paused and set
with ``setCurrentTime(t)``, then one screenshot is taken. SArena does this for ``t = i / 30``,
``i = 0..149`` (5 s at 30 fps) at 448x448, and again in a second browser page sized 128x128
for the FVD videos; :meth:`BrowserAnimationRenderer.render_mp4` does the same (the 128 video
is a second capture at 128, not a resize of the 448 frames).

Where this differs from SArena, on purpose:

* CSS animations and transitions are paused and seeked to ``t`` through the Web Animations
  API (``css="seek"``, the default), so their frames are deterministic. SArena leaves them
  running in wall-clock time while it takes screenshots, so its CSS frames depend on machine
  speed; ``css="realtime"`` does that.
* The page is locked down (SArena renders trusted files; svgarena renders model output):
  JavaScript is disabled for the browser context (Playwright's own ``evaluate`` still works
  through the DevTools protocol), ``<script>`` elements, ``on*`` attributes and
  ``javascript:`` links are removed from the DOM before the first frame, a
  Content-Security-Policy allows no network fetch (only ``data:``/``blob:`` images and
  fonts), every request is aborted by a route handler and the context is offline.
* Chromium runs with one fresh profile directory per browser (Playwright makes and removes
  it), ``--disable-gpu`` (software raster), device scale factor 1 and the sRGB colour profile.
* Chromium itself runs jailed by bubblewrap where it works (``_browser_jail``: no network
  namespace to leave by, no host files, as nobody), the third layer against requests; where
  bwrap is missing it runs unjailed with a one-time warning (``jail=False`` forces that).

One browser serves many captures through a small pool of reusable pages (one browser context
each). Each capture has a wall-clock limit; a capture that exceeds it ends as
``Outcome.RENDER_TIMEOUT`` and its page is thrown away.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import os
import shutil
import time
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from svgarena.outcome import Outcome
from svgarena.sandboxes._types import RenderResult, RenderSpec

RENDERER_NAME = "chromium"
_JAIL_WARNED = False
SARENA_FPS = 30
SARENA_N_FRAMES = 150

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--disable-default-apps",
    "--disable-extensions",
    "--mute-audio",
    "--hide-scrollbars",
    "--force-color-profile=srgb",
    # Screenshots otherwise wait for the next 60 Hz vsync (about 17 ms, 33 ms at 128 px);
    # frames are pixel-identical with and without these two flags.
    "--disable-frame-rate-limit",
    "--disable-gpu-vsync",
    # Network, below the page's own blocks: an iframe or a meta refresh made an unjailed Chromium
    # preconnect to its URL (an empty TCP connection, before any request the route handler sees).
    # Every connection goes to a proxy on a closed loopback port instead, loopback included.
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
    "--dns-prefetch-disable",
    "--no-pings",
]

_CSP = (
    "default-src 'none'; img-src data: blob:; font-src data:; media-src data: blob:; "
    "style-src 'unsafe-inline' data:; script-src 'none'; connect-src 'none'; "
    "frame-src 'none'; object-src 'none'; form-action 'none'; base-uri 'none'"
)

# SArena's page (utils/svg_animate.py), with a CSP added to the head.
_HTML_HEAD = f"""<!doctype html>
<html>
<head>
  <meta charset="utf-8" />
  <meta http-equiv="Content-Security-Policy" content="{_CSP}" />
  <style>
    html, body {{
      margin: 0; padding: 0;
      width: 100%; height: 100%;
      background: #ffffff;
      overflow: hidden;
    }}
    #stage {{
      width: 100vw;
      height: 100vh;
      display: block;
    }}
    #stage > svg {{
      width: 100%;
      height: 100%;
      display: block;
    }}
  </style>
</head>
<body>
  <div id="stage">"""
_HTML_TAIL = """</div>
</body>
</html>
"""

# Remove active content, then SArena's normalisation of the root svg (same steps, same order).
_SETUP_JS = """([Width, Height]) => {
  for (const s of Array.from(document.querySelectorAll('script'))) s.remove();
  for (const el of Array.from(document.querySelectorAll('*'))) {
    for (const a of Array.from(el.attributes)) {
      const n = a.name.toLowerCase();
      const v = (a.value || '').replace(/[\\s\\u0000-\\u001f]+/g, '').toLowerCase();
      if (n.startsWith('on') || ((n === 'href' || n.endsWith(':href') || n === 'src' || n === 'action')
          && v.startsWith('javascript:'))) el.removeAttribute(a.name);
    }
  }
  const svg = document.querySelector('svg');
  if (!svg) return false;
  const hasViewBox = svg.hasAttribute('viewBox');
  if (!hasViewBox) {
    const wAttr = parseFloat((svg.getAttribute('width')  || '').replace('px','')) || Width;
    const hAttr = parseFloat((svg.getAttribute('height') || '').replace('px','')) || Height;
    svg.setAttribute('viewBox', `0 0 ${wAttr} ${hAttr}`);
  }
  svg.removeAttribute('x');
  svg.removeAttribute('y');
  svg.setAttribute('width', '100%');
  svg.setAttribute('height', '100%');
  svg.setAttribute('preserveAspectRatio', 'xMidYMid meet');
  const vb = svg.viewBox && svg.viewBox.baseVal;
  let x = 0, y = 0, w, h;
  if (vb && vb.width && vb.height) {
    x = vb.x; y = vb.y; w = vb.width; h = vb.height;
  } else {
    w = Width; h = Height;
  }
  if (!svg.querySelector("rect[data-bg='1']")) {
    const bg = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    bg.setAttribute("x", x);
    bg.setAttribute("y", y);
    bg.setAttribute("width", w);
    bg.setAttribute("height", h);
    bg.setAttribute("fill", "#ffffff");
    bg.setAttribute("data-bg", "1");
    svg.insertBefore(bg, svg.firstChild);
  }
  return true;
}"""

_SEEK_JS = """([t, seekCss]) => {
  const root = document.querySelector('svg');
  // First recreate the root's layout object so every frame is painted in full. Without it
  // Chromium repaints only the damaged region and frames depend on the previous frame (seen: up
  // to 7 levels of difference in half the frames between two captures of the same SVG). It
  // restarts CSS animations, so it must come before they are seeked.
  if (root) {
    root.style.display = 'none'; root.getBoundingClientRect();
    root.style.display = ''; root.getBoundingClientRect();
  }
  if (root && typeof root.pauseAnimations === 'function') root.pauseAnimations();
  if (root && typeof root.setCurrentTime === 'function') root.setCurrentTime(t);
  if (seekCss && typeof document.getAnimations === 'function') {
    for (const a of document.getAnimations()) {
      try { a.pause(); a.currentTime = t * 1000; } catch (e) {}
    }
  }
}"""


def sarena_times(n_frames: int = SARENA_N_FRAMES, fps: int = SARENA_FPS) -> list[float]:
    """SArena's capture times: ``i / 30`` for ``i`` in ``0..149``."""
    return [i / fps for i in range(n_frames)]


async def metric_frames(capture: Callable[..., Awaitable[RenderResult]], svg: str, n448: int, n128: int,
                        timeout_s: float | None) -> RenderResult:
    """``fast`` mode through any ``capture(svg, times, size, timeout_s=)``: ``n448`` frames at 448 in
    ``meta["frames"]``, ``n128`` at 128 in ``meta["frames_128"]`` (the local and the Ray renderer share it)."""
    res = await capture(svg, fast_times(n448), 448, timeout_s=timeout_s)
    if not res.ok or n128 <= 0:
        return res
    res128 = await capture(svg, fast_times(n128), 128, timeout_s=timeout_s)
    if not res128.ok:
        return res128
    res.meta["frames_128"] = res128.meta["frames"]
    res.seconds += res128.seconds
    return res


def fast_times(n: int = 8, n_frames: int = SARENA_N_FRAMES, fps: int = SARENA_FPS) -> list[float]:
    """Times of the frames SArena's metrics read from a ``n_frames`` video.

    The metrics take frames ``np.linspace(0, n_frames - 1, n, dtype=int)`` (truncated, see
    ``_video.sample_indices``); frame ``i`` was captured at ``i / fps``.
    """
    idx = np.linspace(0, n_frames - 1, n, dtype=int) if n > 0 else np.zeros(0, dtype=int)
    return [int(i) / fps for i in idx]


def chromium_path() -> str | None:
    """The Chromium to drive: ``$SVGARENA_CHROMIUM``, else /usr/bin/chromium, else one on PATH."""
    env = os.environ.get("SVGARENA_CHROMIUM")
    if env:
        return env
    if os.path.exists("/usr/bin/chromium"):
        return "/usr/bin/chromium"
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


MAX_SVG_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 128


class _TooDeep(Exception):
    pass


def check_svg(svg: str, max_depth: int | None = None) -> str | None:
    """None when ``svg`` is well-formed XML (the standard library's parser, as SArena checks),
    else the parser's message. Streams the parse and drops each element once closed, so a
    hostile document costs this process little memory; nesting deeper than ``max_depth`` is
    refused. Runs in the harness process: it only parses, it never loads or fetches anything."""
    if not svg.strip():
        return "the SVG is empty"
    parser = ET.XMLPullParser(events=("start", "end"))
    depth = 0
    try:
        data = svg.encode("utf-8", "surrogatepass")
        for i in range(0, len(data), 1 << 16):
            parser.feed(data[i:i + (1 << 16)])
            for event, elem in parser.read_events():
                if event == "start":
                    depth += 1
                    if max_depth is not None and depth > max_depth:
                        raise _TooDeep()
                else:
                    depth -= 1
                    elem.clear()
        parser.close()
        for _ in parser.read_events():
            pass
    except _TooDeep:
        return f"SVG nesting is over the limit of {max_depth} elements"
    except ET.ParseError as exc:
        return f"SVG is not well-formed XML: {exc}"
    except Exception as exc:  # noqa: BLE001 - e.g. ValueError on odd input
        return f"SVG cannot be parsed: {exc}"
    return None


def _size_tuple(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    w, h = size
    return int(w), int(h)


@dataclass
class _Slot:
    context: Any
    page: Any
    cdp: Any
    generation: int


class BrowserAnimationRenderer:
    """Capture frames of animated SVG from one headless Chromium with a small page pool.

    Use as ``async with BrowserAnimationRenderer() as r: res = await r.capture(svg, times)``.
    ``res.meta["frames"]`` is an (N, H, W, 3) uint8 RGB array (one frame per time) and
    ``res.image`` the first frame. Bind an instance to one event loop.
    """

    name = RENDERER_NAME

    def __init__(
        self,
        executable_path: str | None = None,
        pages: int = 2,
        timeout_s: float = 60.0,
        css: Literal["seek", "realtime"] = "seek",
        headless: bool = True,
        jail: bool | None = None,
        max_svg_bytes: int = MAX_SVG_BYTES,
        max_depth: int = MAX_DEPTH,
    ) -> None:
        self.max_svg_bytes = max_svg_bytes
        self.max_depth = max_depth
        self.executable_path = executable_path if executable_path is not None else chromium_path()
        self.jail = jail  # None: jail with bubblewrap where it works
        self.jailed = False
        self._launcher: str | None = None
        self.pages = max(1, int(pages))
        self.timeout_s = float(timeout_s)
        if css not in ("seek", "realtime"):
            raise ValueError("css must be 'seek' or 'realtime'")
        self.css = css
        self.headless = headless
        self._pw: Any = None
        self._browser: Any = None
        self._free: list[_Slot] = []
        self._n_slots = 0
        self._slot_ready: asyncio.Condition | None = None
        self._start_lock: asyncio.Lock | None = None
        self._generation = 0  # bumped at every launch; slots of an older browser are dropped
        self.browser_version: str = ""

    # ----- lifecycle

    async def __aenter__(self) -> BrowserAnimationRenderer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Launch Chromium (done lazily by the first capture)."""
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
            self._slot_ready = asyncio.Condition()
        async with self._start_lock:
            if self._browser is not None and self._browser.is_connected():
                return
            if self._browser is not None:  # crashed: forget its pages
                await self._shutdown()
            try:
                from playwright.async_api import async_playwright
            except ImportError as exc:  # pragma: no cover - depends on the install
                raise RuntimeError(
                    "Animation rendering needs Playwright: pip install playwright "
                    "(and a Chromium, e.g. apt-get install chromium)."
                ) from exc
            self._pw = await async_playwright().start()
            kwargs: dict[str, Any] = {"headless": self.headless, "args": list(CHROMIUM_ARGS)}
            if self.executable_path:
                kwargs["executable_path"] = self._jailed_executable(self.executable_path)
            try:
                self._browser = await self._pw.chromium.launch(**kwargs)
            except Exception:
                await self._pw.stop()
                self._pw = None
                self._drop_launcher()
                raise
            self.browser_version = self._browser.version
            self._generation += 1

    def _jailed_executable(self, chromium: str) -> str:
        """The launcher that runs ``chromium`` under bubblewrap, or ``chromium`` itself."""
        from svgarena.sandboxes._browser_jail import jail_problem, write_launcher

        self.jailed = False
        if self.jail is False:
            return chromium
        problem = jail_problem()
        if problem:
            if self.jail:
                raise RuntimeError(f"cannot jail Chromium: {problem}")
            global _JAIL_WARNED
            if not _JAIL_WARNED:
                _JAIL_WARNED = True
                logging.getLogger("svgarena.sandboxes").warning(
                    "Chromium runs without bubblewrap (%s): requests are blocked by the page layers only", problem)
            return chromium
        self._drop_launcher()
        self._launcher = write_launcher(chromium)
        self.jailed = True
        return self._launcher

    def _drop_launcher(self) -> None:
        if self._launcher:
            try:
                os.unlink(self._launcher)
            except OSError:
                pass
            self._launcher = None

    async def close(self) -> None:
        """Close every page and the browser."""
        if self._start_lock is None:
            return
        async with self._start_lock:
            await self._shutdown()

    async def _shutdown(self) -> None:
        slots, self._free = self._free, []
        self._n_slots = 0
        self._generation += 1  # pages still checked out are dropped when they come back
        for slot in slots:
            await _quietly(slot.context.close(), 5)
        if self._browser is not None:
            await _quietly(self._browser.close(), 10)
            self._browser = None
        if self._pw is not None:
            await _quietly(self._pw.stop(), 10)
            self._pw = None
        self._drop_launcher()

    # ----- page pool

    async def _new_slot(self, size: tuple[int, int]) -> _Slot:
        ctx = await self._browser.new_context(
            viewport={"width": size[0], "height": size[1]},
            device_scale_factor=1,
            java_script_enabled=False,
            offline=True,
            service_workers="block",
            accept_downloads=False,
        )
        try:
            await ctx.route("**/*", _abort_route)
            page = await ctx.new_page()
            cdp = await ctx.new_cdp_session(page)
        except Exception:
            await _quietly(ctx.close(), 5)
            raise
        return _Slot(ctx, page, cdp, self._generation)

    async def _acquire(self, size: tuple[int, int]) -> _Slot:
        await self.start()
        assert self._slot_ready is not None
        async with self._slot_ready:
            while not self._free and self._n_slots >= self.pages:
                await self._slot_ready.wait()
            if self._free:
                return self._free.pop()
            self._n_slots += 1
            generation = self._generation
        try:
            return await self._new_slot(size)
        except BaseException:
            await self._release(None, generation, keep=False)
            raise

    async def _release(self, slot: _Slot | None, generation: int, keep: bool) -> None:
        """Return a slot to the pool (``keep``) or give up its place after it was discarded.

        Slots of a browser that has since been replaced are not counted any more.
        """
        assert self._slot_ready is not None
        async with self._slot_ready:
            if generation == self._generation:
                if keep and slot is not None:
                    self._free.append(slot)
                else:
                    self._n_slots = max(0, self._n_slots - 1)
            self._slot_ready.notify()

    # ----- capture

    async def capture(
        self,
        svg: str,
        times: Sequence[float],
        size: int | Sequence[int] = 448,
        timeout_s: float | None = None,
    ) -> RenderResult:
        """Render ``svg`` at each time in ``times`` (seconds): one screenshot per time.

        Returns ``RenderResult`` with ``outcome`` OK and ``meta["frames"]`` (N, H, W, 3) uint8
        RGB, or PARSE_ERROR (not well-formed XML), RENDER_TIMEOUT (over ``timeout_s``, default
        the renderer's) or RENDER_ERROR with the reason.
        """
        t0 = time.perf_counter()
        wh = _size_tuple(size)
        times = [float(t) for t in times]
        limit = self.timeout_s if timeout_s is None else float(timeout_s)

        def fail(outcome: Outcome, reason: str) -> RenderResult:
            return RenderResult(
                outcome=outcome,
                reason=reason,
                seconds=time.perf_counter() - t0,
                renderer=self.name,
                meta={"times": times, "size": wh},
            )

        size = len(svg.encode("utf-8", "surrogatepass")) if isinstance(svg, str) else 0
        if not isinstance(svg, str) or size > self.max_svg_bytes:
            return fail(Outcome.RENDER_ERROR, f"SVG is {size} bytes, over the {self.max_svg_bytes}-byte limit"
                        if isinstance(svg, str) else f"expected SVG text, got {type(svg).__name__}")
        problem = check_svg(svg, self.max_depth)
        if problem:
            outcome = Outcome.RENDER_ERROR if "nesting" in problem else Outcome.PARSE_ERROR
            return fail(outcome, problem)
        if not times:
            return fail(Outcome.RENDER_ERROR, "no capture times were given")
        if wh[0] <= 0 or wh[1] <= 0:
            return fail(Outcome.RENDER_ERROR, f"bad frame size {wh}")

        try:
            slot = await self._acquire(wh)
        except Exception as exc:
            return fail(Outcome.RENDER_ERROR, f"cannot start Chromium: {exc}")

        healthy = False
        try:
            frames = await asyncio.wait_for(self._capture_on(slot, svg, times, wh), limit)
            healthy = True
        except asyncio.TimeoutError:
            return fail(Outcome.RENDER_TIMEOUT, f"rendering took longer than {limit:g} s")
        except _NoSvg:
            healthy = True
            return fail(Outcome.RENDER_ERROR, "the page has no <svg> element to animate")
        except Exception as exc:  # browser or protocol failure
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return fail(Outcome.RENDER_ERROR, f"Chromium failed: {msg}")
        finally:
            if not healthy:
                await _quietly(slot.context.close(), 5)
            await self._release(slot, slot.generation, keep=healthy)

        return RenderResult(
            outcome=Outcome.OK,
            image=frames[0],
            seconds=time.perf_counter() - t0,
            renderer=self.name,
            meta={
                "frames": frames,
                "times": times,
                "size": wh,
                "browser": f"Chromium {self.browser_version}",
                "jail": "bwrap" if self.jailed else "none",
                "css": self.css,
            },
        )

    async def _capture_on(
        self, slot: _Slot, svg: str, times: list[float], wh: tuple[int, int]
    ) -> np.ndarray:
        page = slot.page
        await page.set_viewport_size({"width": wh[0], "height": wh[1]})
        await page.set_content(_HTML_HEAD + svg + _HTML_TAIL, wait_until="load")
        if not await page.evaluate(_SETUP_JS, [wh[0], wh[1]]):
            raise _NoSvg()
        seek_css = self.css == "seek"
        out = np.empty((len(times), wh[1], wh[0], 3), dtype=np.uint8)
        for i, t in enumerate(times):
            await _seek(slot.cdp, t, seek_css)
            shot = await slot.cdp.send(
                "Page.captureScreenshot", {"format": "png", "optimizeForSpeed": True}
            )
            out[i] = _decode_png(base64.b64decode(shot["data"]), wh)
        # Leave the page empty so a heavy SVG does not keep animating between captures.
        await page.set_content("<!doctype html><html><body></body></html>")
        return out

    # ----- conveniences

    async def render(self, svg: str, spec: RenderSpec | None = None) -> RenderResult:
        """Renderer protocol: one frame at t = 0 at ``spec``'s size and time limit."""
        spec = spec or RenderSpec(renderer=self.name)
        return await self.capture(svg, [0.0], (spec.width, spec.height), timeout_s=spec.timeout_s)

    async def capture_metric_frames(
        self, svg: str, n448: int = 8, n128: int = 16, timeout_s: float | None = None
    ) -> RenderResult:
        """``fast`` mode: only the frames SArena's metrics read, straight from the timeline:
        ``n448`` frames at 448 (frame metrics, ViCLIP) in ``meta["frames"]`` and ``n128`` at 128
        (FVD) in ``meta["frames_128"]``, at the times those frames have in a 150-frame video."""
        return await metric_frames(self.capture, svg, n448, n128, timeout_s)

    async def render_mp4(
        self,
        svg: str,
        out448: str | os.PathLike[str],
        out128: str | os.PathLike[str] | None = None,
        times: Sequence[float] | None = None,
        fps: int = SARENA_FPS,
        timeout_s: float | None = None,
    ) -> RenderResult:
        """SArena's videos: 150 frames at 30 fps captured at 448x448 (and, if ``out128`` is
        given, captured again in a 128x128 viewport), each written as H.264 yuv420p MP4.

        Returns the 448 capture's result; on failure nothing is written.
        """
        from svgarena.sandboxes._video import encode_mp4

        times = list(times) if times is not None else sarena_times()
        res = await self.capture(svg, times, 448, timeout_s=timeout_s)
        if not res.ok:
            return res
        res128 = None
        if out128 is not None:
            res128 = await self.capture(svg, times, 128, timeout_s=timeout_s)
            if not res128.ok:
                return res128
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, encode_mp4, res.meta["frames"], out448, fps)
        res.meta["mp4"] = str(out448)
        if res128 is not None:
            await loop.run_in_executor(None, encode_mp4, res128.meta["frames"], out128, fps)
            res.meta["mp4_128"] = str(out128)
            res.meta["seconds_128"] = res128.seconds
        return res


async def _seek(cdp: Any, t: float, seek_css: bool) -> None:
    """Run ``_SEEK_JS`` for time ``t`` over the page's CDP session.

    A raw ``Runtime.evaluate`` costs one protocol round trip where Playwright's ``evaluate``
    adds its own (a third of a sarena-exact capture's time went to seeks). The time goes in as a
    JSON number, so the page sees the same double either way.
    """
    reply = await cdp.send("Runtime.evaluate", {"expression": f"({_SEEK_JS})({json.dumps([t, seek_css])})",
                                                "returnByValue": True})
    if "exceptionDetails" in reply:
        details = reply["exceptionDetails"]
        raise RuntimeError(f"seek failed: {details.get('exception', {}).get('description') or details.get('text')}")


class _NoSvg(Exception):
    pass


async def _abort_route(route: Any) -> None:
    try:
        await route.abort("blockedbyclient")
    except Exception:  # noqa: BLE001 - the page may be gone already
        pass


async def _quietly(coro: Any, timeout: float) -> None:
    try:
        await asyncio.wait_for(coro, timeout)
    except BaseException:  # noqa: BLE001 - best-effort cleanup
        pass


def _decode_png(data: bytes, wh: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        im = im.convert("RGB")
        if im.size != wh:  # e.g. a device scale factor other than 1
            im = im.resize(wh, Image.Resampling.BILINEAR)
        return np.asarray(im, dtype=np.uint8)


def render_animation_mp4(
    svg: str,
    out448: str | os.PathLike[str],
    out128: str | os.PathLike[str] | None = None,
    *,
    timeout_s: float = 120.0,
    executable_path: str | None = None,
) -> RenderResult:
    """Blocking convenience: write SArena's 448 (and 128) videos of ``svg``.

    Starts and closes its own browser; for many SVGs use one
    :class:`BrowserAnimationRenderer` and its :meth:`~BrowserAnimationRenderer.render_mp4`.
    """

    async def _run() -> RenderResult:
        async with BrowserAnimationRenderer(executable_path, pages=1, timeout_s=timeout_s) as r:
            return await r.render_mp4(svg, out448, out128)

    return asyncio.run(_run())


__all__ = [
    "BrowserAnimationRenderer",
    "CHROMIUM_ARGS",
    "chromium_path",
    "check_svg",
    "fast_times",
    "render_animation_mp4",
    "sarena_times",
]
