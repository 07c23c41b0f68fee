"""LocalRenderer: SArena-exact pixels, typed failures, and a pool that survives hostile SVG."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import threading
import time

import cairosvg
import numpy as np
import pytest
from PIL import Image

from svgarena.outcome import Outcome
from svgarena.sandboxes import ISOLATIONS, LocalRenderer, Renderer, RenderSpec, SandboxLimits, isolation_problem

ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 128 128">'
    '<rect x="8" y="8" width="112" height="112" rx="16" fill="#3b82f6"/>'
    '<circle cx="64" cy="64" r="30" fill="none" stroke="#fde047" stroke-width="8" opacity="0.7"/>'
    '<path d="M30 100 Q64 20 98 100" fill="none" stroke="#111" stroke-width="4"/>'
    "</svg>"
)


def _huge_path(segments: int) -> str:
    """A syntactically fine SVG whose single path takes cairosvg seconds to parse."""
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 128 128"><path d="M0 0'
        + " L1 2 3 4" * segments
        + '"/></svg>'
    )


@pytest.fixture(scope="module")
def pool():
    with LocalRenderer(2) as renderer:
        yield renderer


def _in_process(svg: str) -> np.ndarray:
    png = cairosvg.svg2png(bytestring=svg.encode(), background_color="white", output_width=448, output_height=448)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def test_is_a_renderer(pool):
    assert isinstance(pool, Renderer)


def test_good_svg_matches_in_process_cairosvg(pool):
    result = pool.render_svg(ICON)
    assert result.outcome is Outcome.OK, result.reason
    assert result.image.shape == (448, 448, 3) and result.image.dtype == np.uint8
    assert result.image[0, 0].tolist() == [255, 255, 255]  # white background
    np.testing.assert_array_equal(result.image, _in_process(ICON))
    assert result.renderer == "cairosvg" and result.seconds > 0


def test_spec_size_and_background(pool):
    result = pool.render_svg(ICON, RenderSpec(width=64, height=32, background="black"))
    assert result.ok and result.image.shape == (32, 64, 3)
    assert result.image[0, 0].tolist() == [0, 0, 0]


def test_not_xml_is_parse_error(pool):
    result = pool.render_svg("<svg><g></svg>")
    assert result.outcome is Outcome.PARSE_ERROR
    assert "mismatched tag" in result.reason
    assert pool.render_svg("here is your svg!").outcome is Outcome.PARSE_ERROR


def test_cairosvg_exception_is_render_error(pool):
    result = pool.render_svg("<html><body/></html>")
    assert result.outcome is Outcome.RENDER_ERROR
    assert result.reason.startswith("TypeError:")


def test_resvg_without_package_is_clear_render_error(pool):
    try:
        import resvg_py  # noqa: F401
    except ImportError:
        result = pool.render_svg(ICON, RenderSpec(renderer="resvg"))
        assert result.outcome is Outcome.RENDER_ERROR and "resvg-py" in result.reason
    else:
        result = pool.render_svg(ICON, RenderSpec(renderer="resvg"))
        assert result.ok and result.renderer == "resvg"


def test_oversize_input_refused_before_sending():
    with LocalRenderer(1, max_svg_bytes=1000) as renderer:
        result = renderer.render_svg(ICON + " " * 2000)
        assert result.outcome is Outcome.RENDER_ERROR
        assert "1000-byte limit" in result.reason
        assert renderer.worker_pids() == []  # nothing was started, nothing was sent


def test_default_size_cap(pool):
    result = pool.render_svg("<svg>" + "x" * (8 * 1024 * 1024) + "</svg>")
    assert result.outcome is Outcome.RENDER_ERROR and "limit" in result.reason


def test_timeout_kills_worker_and_pool_recovers():
    with LocalRenderer(1) as renderer:
        assert renderer.render_svg(ICON).ok
        before = renderer.worker_pids()
        start = time.monotonic()
        result = renderer.render_svg(_huge_path(150_000), RenderSpec(timeout_s=0.2))
        elapsed = time.monotonic() - start
        assert result.outcome is Outcome.RENDER_TIMEOUT, result.reason
        assert "0.2 s" in result.reason
        assert elapsed < 3.0
        assert renderer.worker_pids() == []  # killed, not yet replaced
        after = renderer.render_svg(ICON)
        assert after.ok and renderer.worker_pids() != before


def test_worker_killed_mid_render_is_typed_failure_and_pool_recovers():
    with LocalRenderer(1) as renderer:
        assert renderer.render_svg(ICON).ok
        (pid,) = renderer.worker_pids()
        threading.Timer(0.3, os.kill, (pid, signal.SIGKILL)).start()
        result = renderer.render_svg(_huge_path(150_000), RenderSpec(timeout_s=30))
        assert result.outcome is Outcome.RENDER_ERROR
        assert "SIGKILL" in result.reason and str(pid) in result.reason
        assert renderer.render_svg(ICON).ok


def test_memory_limit_is_render_error_and_pool_recovers():
    with LocalRenderer(1, limits=SandboxLimits(memory_bytes=400 << 20)) as renderer:
        result = renderer.render_svg(ICON, RenderSpec(width=8000, height=8000))
        assert result.outcome is Outcome.RENDER_ERROR
        assert "Memory" in result.reason or "memory" in result.reason
        assert renderer.render_svg(ICON).ok


_ENV_ALLOWED = {b"PATH", b"LD_LIBRARY_PATH", b"DYLD_LIBRARY_PATH", b"FONTCONFIG_FILE", b"FONTCONFIG_PATH",
                b"LANG", b"LC_ALL", b"HOME", b"TMPDIR", b"XDG_CACHE_HOME", b"OMP_NUM_THREADS",
                b"OPENBLAS_NUM_THREADS", b"PYTHONDONTWRITEBYTECODE", b"PWD"}


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_worker_is_sandboxed(isolation):
    problem = isolation_problem(isolation)
    if problem:
        pytest.skip(f"{isolation} not available here: {problem}")
    with LocalRenderer(1, isolation=isolation) as renderer:
        assert renderer.render_svg(ICON).ok
        (pid,) = renderer.worker_pids()
        limits = open(f"/proc/{pid}/limits").read()
        assert "Max address space" in limits and str(2 << 30) in limits
        assert "python" in os.readlink(f"/proc/{pid}/exe")
        env = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
        assert {e.split(b"=", 1)[0] for e in env if e} <= _ENV_ALLOWED
        same_net = os.readlink(f"/proc/{pid}/ns/net") == os.readlink("/proc/self/ns/net")
        if isolation == "none":
            assert same_net
            assert os.readlink(f"/proc/{pid}/cwd").split("/")[-1].startswith("svgarena-render-")
            return
        assert not same_net, "the worker must have no network of the host"
        assert os.readlink(f"/proc/{pid}/ns/user") != os.readlink("/proc/self/ns/user")
        if isolation == "bwrap":
            root = f"/proc/{pid}/root"
            for ns in ("mnt", "pid", "ipc", "uts"):
                assert os.readlink(f"/proc/{pid}/ns/{ns}") != os.readlink(f"/proc/self/ns/{ns}"), ns
            seen = set(os.listdir(root))
            assert seen <= {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "var", "proc", "dev",
                            "tmp", "opt", "root", "home"}, seen
            assert not os.path.exists(f"{root}{os.getcwd()}"), "the repo/work folder must not exist inside"
            assert os.listdir(f"{root}/tmp") == []  # a private, empty /tmp
            assert sorted(os.listdir(f"{root}/etc")) <= sorted(["ld.so.cache", "ld.so.conf", "ld.so.conf.d", "fonts",
                                                                "alternatives", "localtime"])
            status = open(f"/proc/{pid}/status").read()
            assert "CapEff:\t0000000000000000" in status
            site = os.listdir(f"{root}/opt/svgarena/site")
            assert "cairosvg" in site and "numpy" not in site and "svgarena" not in site


def test_resvg_crash_is_typed_failure_and_worker_replaced():
    pytest.importorskip("resvg_py")
    deep = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 9 9">' + "<g>" * 400 + "</g>" * 400 + "</svg>"
    with LocalRenderer(1, max_depth=100_000) as renderer:  # let the tree through so resvg crashes
        assert renderer.render_svg(ICON, RenderSpec(renderer="resvg")).ok
        (pid,) = renderer.worker_pids()
        result = renderer.render_svg(deep, RenderSpec(renderer="resvg"))
        assert result.outcome is Outcome.RENDER_ERROR
        assert "SIGSEGV" in result.reason or "SIGABRT" in result.reason, result.reason
        assert "replaced" in result.reason
        again = renderer.render_svg(ICON, RenderSpec(renderer="resvg"))
        assert again.ok and renderer.worker_pids() != [pid]


def test_nesting_cap_is_clear_render_error(pool):
    deep = '<svg xmlns="http://www.w3.org/2000/svg">' + "<g>" * 200 + "</g>" * 200 + "</svg>"
    result = pool.render_svg(deep, RenderSpec(renderer="resvg"))
    assert result.outcome is Outcome.RENDER_ERROR
    assert "201 elements deep, over the limit of 128" in result.reason


def test_output_size_is_forced_whatever_the_svg_says(pool):
    wide = '<svg xmlns="http://www.w3.org/2000/svg" width="3000" height="10"><rect width="3000" height="10"/></svg>'
    for renderer in ("cairosvg", "resvg"):
        result = pool.render_svg(wide, RenderSpec(width=40, height=30, renderer=renderer))
        assert result.ok and result.image.shape == (30, 40, 3), (renderer, result.reason)


def test_unknown_renderer_is_refused(pool):
    result = pool.render_svg(ICON, RenderSpec(renderer="inkscape"))
    assert result.outcome is Outcome.RENDER_ERROR and "unknown renderer" in result.reason


def test_renderer_version_is_recorded(pool):
    result = pool.render_svg(ICON)
    assert result.meta["backend"] == "local" and result.meta["renderer_version"] == cairosvg.__version__


def test_forced_isolation_that_does_not_work_is_one_clear_error(monkeypatch):
    from svgarena.sandboxes import _jail

    monkeypatch.setitem(_jail._probed, "bwrap", "bwrap is not installed")
    with pytest.raises(RuntimeError, match="isolation 'bwrap' is not available here: bwrap is not installed"):
        LocalRenderer(1, isolation="bwrap")


def test_fallback_to_plain_subprocess_warns_once(monkeypatch, caplog):
    from svgarena.sandboxes import _jail

    monkeypatch.setitem(_jail._probed, "bwrap", "bwrap is not installed")
    monkeypatch.setitem(_jail._probed, "unshare", "unshare failed: Operation not permitted")
    monkeypatch.setattr(_jail, "_warned", False)
    monkeypatch.delenv("SVGARENA_ISOLATION", raising=False)
    with caplog.at_level("WARNING", logger="svgarena.sandboxes"):
        assert _jail.best_isolation() == "none"
        assert _jail.best_isolation() == "none"
    warnings = [r for r in caplog.records if "isolation is reduced" in r.getMessage()]
    assert len(warnings) == 1 and "bwrap is not installed" in warnings[0].getMessage()


def test_many_concurrent_renders_with_two_workers():
    async def run():
        async with LocalRenderer(2) as renderer:
            svgs = [ICON.replace("#3b82f6", f"#{i:02x}82f6") for i in range(40)]
            results = await asyncio.gather(*(renderer.render(s) for s in svgs))
            assert len(renderer.worker_pids()) <= 2
            return results

    results = asyncio.run(run())
    assert all(r.outcome is Outcome.OK for r in results)
    assert len({r.image[64, 64].tobytes() for r in results}) > 1


def test_closed_renderer_answers_without_hanging():
    renderer = LocalRenderer(1)
    renderer.shutdown()
    result = renderer.render_svg(ICON)
    assert result.outcome is Outcome.RENDER_ERROR and "closed" in result.reason
