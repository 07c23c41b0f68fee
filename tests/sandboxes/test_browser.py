"""The Chromium animation renderer: SMIL timing, SArena page set-up, lock-down, failures."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from svgarena.outcome import Outcome
from svgarena.sandboxes._browser import (
    BrowserAnimationRenderer,
    check_svg,
    fast_times,
    sarena_times,
)

HAVE_CHROMIUM = os.path.exists("/usr/bin/chromium")
HAVE_PLAYWRIGHT = importlib.util.find_spec("playwright") is not None
needs_browser = pytest.mark.skipif(
    not (HAVE_CHROMIUM and HAVE_PLAYWRIGHT),
    reason="needs /usr/bin/chromium (apt-get install chromium) and the playwright package",
)

NS = 'xmlns="http://www.w3.org/2000/svg"'
MOVING = (
    f'<svg {NS} viewBox="0 0 128 128"><circle cx="20" cy="64" r="12" fill="#ff0000">'
    '<animate attributeName="cx" from="20" to="108" dur="5s" fill="freeze"/></circle></svg>'
)


@pytest.fixture(scope="module")
def run():
    """Run coroutines on one loop with one renderer shared by the module's tests."""
    loop = asyncio.new_event_loop()
    renderer = BrowserAnimationRenderer(pages=2, timeout_s=30)

    def _run(coro_fn, *args, **kwargs):
        return loop.run_until_complete(coro_fn(renderer, *args, **kwargs))

    yield _run
    loop.run_until_complete(renderer.close())
    loop.close()


async def _capture(r, svg, times, size=448, **kw):
    return await r.capture(svg, times, size, **kw)


def _red_mask(img: np.ndarray) -> np.ndarray:
    return (img[..., 0] > 200) & (img[..., 1] < 80) & (img[..., 2] < 80)


def test_times():
    ts = sarena_times()
    assert len(ts) == 150 and ts[0] == 0 and ts[30] == 1.0 and ts[-1] == pytest.approx(149 / 30)
    assert fast_times(8) == [i / 30 for i in (0, 21, 42, 63, 85, 106, 127, 149)]


def test_malformed_svg_is_parse_error(run):
    res = run(_capture, f"<svg {NS}><rect></svg>", [0.0])
    assert res.outcome is Outcome.PARSE_ERROR
    assert "well-formed" in res.reason
    assert check_svg(MOVING) is None


@needs_browser
def test_moving_circle(run):
    res = run(_capture, MOVING, [0.0, 4.0])
    assert res.outcome is Outcome.OK, res.reason
    frames = res.meta["frames"]
    assert frames.shape == (2, 448, 448, 3) and frames.dtype == np.uint8
    assert np.array_equal(res.image, frames[0])
    scale = 448 / 128
    for frame, cx in zip(frames, (20.0, 20 + 88 * 4 / 5)):
        ys, xs = np.nonzero(_red_mask(frame))
        assert xs.size > 1000
        assert xs.mean() == pytest.approx(cx * scale, abs=2)
        assert ys.mean() == pytest.approx(64 * scale, abs=2)


@needs_browser
def test_static_svg_frames_identical(run):
    svg = f'<svg {NS} viewBox="0 0 128 128"><rect x="10" y="20" width="50" height="70" fill="#1e88e5"/></svg>'
    res = run(_capture, svg, [0.0, 1.0, 2.5], size=128)
    assert res.ok, res.reason
    f = res.meta["frames"]
    assert f.shape == (3, 128, 128, 3)
    assert np.array_equal(f[0], f[1]) and np.array_equal(f[0], f[2])
    assert tuple(f[0, 50, 30]) == (30, 136, 229)


@needs_browser
def test_white_background_rect(run):
    empty = run(_capture, f'<svg {NS} viewBox="0 0 128 128"/>', [0.0], size=64)
    assert empty.ok and empty.image.min() == 255
    # A black svg background shows in the letterbox bands only: the white rect covers the viewBox.
    wide = f'<svg {NS} viewBox="0 0 128 64" style="background:#000"/>'
    res = run(_capture, wide, [0.0], size=128)
    assert res.ok, res.reason
    img = res.image
    assert img[:30].max() == 0 and img[-30:].max() == 0  # bands above and below
    assert img[36:92].min() == 255  # the viewBox area


@needs_browser
def test_viewbox_from_width_height(run):
    svg = f'<svg {NS} width="64" height="64"><rect width="32" height="32" fill="#ff0000"/></svg>'
    res = run(_capture, svg, [0.0], size=128)
    assert res.ok, res.reason
    red = _red_mask(res.image)
    assert red[:62, :62].all() and not red[66:, :].any() and not red[:, 66:].any()


@needs_browser
def test_css_animation_is_seeked(run):
    svg = (f'<svg {NS} viewBox="0 0 128 128"><style>@keyframes m {{ from {{ transform: '
           'translateX(0px) }} to {{ transform: translateX(100px) }} }} '
           '.b {{ animation: m 2s linear infinite }}</style>'
           '<rect class="b" x="0" y="40" width="20" height="20" fill="#ff0000"/></svg>')
    svg = svg.replace("{{", "{").replace("}}", "}")
    a = run(_capture, svg, [0.0, 1.0], size=128)
    b = run(_capture, svg, [0.0, 1.0], size=128)
    assert a.ok, a.reason
    xs0 = np.nonzero(_red_mask(a.meta["frames"][0]))[1].mean()
    xs1 = np.nonzero(_red_mask(a.meta["frames"][1]))[1].mean()
    assert xs0 == pytest.approx(10, abs=1.5) and xs1 == pytest.approx(60, abs=1.5)
    assert np.array_equal(a.meta["frames"], b.meta["frames"])


@needs_browser
def test_script_does_not_run(run):
    svg = (f'<svg {NS} viewBox="0 0 128 128" onload="document.getElementById(\'r\')'
           '.setAttribute(\'fill\', \'#0000ff\')">'
           '<rect id="r" width="128" height="128" fill="#ff0000"/>'
           '<script>document.getElementById("r").setAttribute("fill", "#00ff00");'
           'document.title = "ran";</script></svg>')
    res = run(_capture, svg, [0.0, 0.5], size=64)
    assert res.ok, res.reason
    for frame in res.meta["frames"]:
        assert _red_mask(frame).all()


class _Listener:
    """An HTTP server on 127.0.0.1 that records every request it gets."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):  # noqa: N802
                hits.append(self.path)
                self.send_response(404)
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@needs_browser
def test_no_network_requests(run):
    listener = _Listener()
    try:
        base = f"http://127.0.0.1:{listener.port}"
        svg = (f'<svg {NS} xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 128 128">'
               f'<style>@import url("{base}/import.css"); '
               f'@font-face {{ font-family: f; src: url("{base}/font.woff") }} '
               f'text {{ font-family: f }} rect {{ fill: url("{base}/paint.svg#p") }}</style>'
               f'<image href="{base}/x.png" width="64" height="64"/>'
               f'<image xlink:href="{base}/y.png" x="64" width="64" height="64"/>'
               f'<use href="{base}/sprite.svg#a"/>'
               '<rect width="10" height="10"/><text y="100">hi</text>'
               f'<foreignObject width="128" height="128"><div xmlns="http://www.w3.org/1999/xhtml">'
               f'<img src="{base}/z.png"/><iframe src="{base}/frame.html"></iframe></div>'
               '</foreignObject></svg>')
        res = run(_capture, svg, [0.0, 0.1], size=64)
        assert res.ok, res.reason
        # control: the listener does answer requests made from outside the renderer
        import urllib.request

        try:
            urllib.request.urlopen(f"{base}/control", timeout=5)
        except Exception:
            pass
        assert listener.hits == ["/control"]
    finally:
        listener.close()


@needs_browser
def test_timeout_then_recovers(run):
    res = run(_capture, MOVING, sarena_times(), 448, timeout_s=0.05)
    assert res.outcome is Outcome.RENDER_TIMEOUT
    assert "longer than" in res.reason
    ok = run(_capture, MOVING, [0.0], size=64)
    assert ok.ok, ok.reason


@needs_browser
def test_no_svg_element_and_empty_times(run):
    res = run(_capture, '<g xmlns="http://www.w3.org/2000/svg"/>', [0.0], size=64)
    assert res.outcome is Outcome.RENDER_ERROR
    res = run(_capture, MOVING, [], size=64)
    assert res.outcome is Outcome.RENDER_ERROR


@needs_browser
def test_render_mp4(run, tmp_path):
    from svgarena.sandboxes._video import frame_count, read_frames

    async def go(r):
        return await r.render_mp4(MOVING, tmp_path / "a.mp4", tmp_path / "b.mp4", times=sarena_times()[:12])

    res = run(go)
    assert res.ok, res.reason
    assert frame_count(tmp_path / "a.mp4") == 12
    small = read_frames(tmp_path / "b.mp4")
    assert small.shape == (12, 128, 128, 3)
    big = read_frames(tmp_path / "a.mp4")
    assert big.shape == (12, 448, 448, 3)
    ys, xs = np.nonzero(_red_mask(small[0]))
    assert xs.mean() == pytest.approx(20, abs=1.5)


@needs_browser
def test_concurrent_captures_share_pool(run):
    async def go(r):
        svgs = [MOVING.replace("#ff0000", c) for c in ("#ff0000", "#00ff00", "#0000ff", "#ff0000")]
        return await asyncio.gather(*(r.capture(s, [0.0, 2.5], 64) for s in svgs))

    results = run(go)
    assert all(r.ok for r in results)
    assert np.array_equal(results[0].meta["frames"], results[3].meta["frames"])
    assert not np.array_equal(results[0].meta["frames"], results[1].meta["frames"])


@needs_browser
def test_relaunches_after_browser_loss(run):
    async def go(r):
        first = await r.capture(MOVING, [0.0], 64)
        await r._browser.close()  # as if Chromium had crashed
        return first, await r.capture(MOVING, [0.0], 64)

    first, second = run(go)
    assert first.ok and second.ok, second.reason
    assert np.array_equal(first.image, second.image)
