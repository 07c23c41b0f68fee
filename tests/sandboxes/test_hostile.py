"""The hostile-input suite, against every backend and renderer this machine has.

Targets: the local backend in each isolation level that works here (bubblewrap, ``unshare -rn``,
plain subprocess), with cairosvg and resvg; the docker backend with both renderers; the browser
(animation) renderer. For every case: the outcome is typed and one the case allows, it arrives
within the time limit, a listener on 127.0.0.1 receives no connection, a canary file is never
opened (inotify), and the same pool still renders a good SVG afterwards.
"""

from __future__ import annotations

import asyncio
import os
import time

import numpy as np
import pytest

from svgarena.outcome import Outcome
from svgarena.sandboxes import (
    LocalRenderer,
    RenderSpec,
    chromium_path,
    isolation_problem,
)
from tests._store import require_docker

from ._hostile import CASES, Canary, Listener

pytestmark = pytest.mark.slow

LIMIT_S = 3.0  # each hostile render's wall-clock limit
SLACK_S = 4.0  # worker kill + replacement, container removal, loaded CI machine
SIZE = 64
GOOD = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
        '<rect width="10" height="10" fill="#fff"/><rect width="5" height="5" fill="#00f"/></svg>')


@pytest.fixture(scope="module")
def traps(tmp_path_factory):
    listener = Listener()
    canary = Canary(str(tmp_path_factory.mktemp("canary")))
    yield canary, listener
    listener.close()
    canary.close()


class _Static:
    def __init__(self, pool, renderer: str) -> None:
        self.pool, self.renderer = pool, renderer

    def render(self, svg: str):
        return self.pool.render_svg(svg, RenderSpec(width=SIZE, height=SIZE, timeout_s=LIMIT_S, renderer=self.renderer))


class _Browser:
    def __init__(self, jail: bool | None) -> None:
        from svgarena.sandboxes import BrowserAnimationRenderer

        self.loop = asyncio.new_event_loop()
        self.browser = BrowserAnimationRenderer(pages=1, timeout_s=LIMIT_S, jail=jail)

    def render(self, svg: str):
        res = self.loop.run_until_complete(self.browser.capture(svg, [0.0, 0.5, 3.0], SIZE, timeout_s=LIMIT_S))
        if res.ok:
            res.image = res.meta["frames"][-1]
        return res

    def close(self) -> None:
        self.loop.run_until_complete(self.browser.close())
        self.loop.close()


_POOLS: dict[str, object] = {}

TARGETS = ["local-bwrap-cairosvg", "local-bwrap-resvg", "local-unshare-cairosvg", "local-none-cairosvg",
           "local-none-resvg", "docker-cairosvg", "docker-resvg", "browser-bwrap", "browser-nojail"]


def _docker_skip() -> None:
    require_docker()


@pytest.fixture(scope="module", params=TARGETS)
def target(request):
    name = request.param
    if name.startswith("browser"):
        if chromium_path() is None:
            pytest.skip("no Chromium installed (apt-get install chromium)")
        jailed = name == "browser-bwrap"
        if jailed and isolation_problem("bwrap"):
            pytest.skip(f"Chromium cannot be jailed here: {isolation_problem('bwrap')}")
        target = _Browser(jail=jailed)  # unjailed: the page's own layers alone must hold
        yield target
        target.close()
        return
    backend, *rest = name.split("-")
    renderer = rest[-1]
    if renderer == "resvg":
        pytest.importorskip("resvg_py", reason="resvg-py is not installed")
    if backend == "local":
        isolation = rest[0]
        problem = isolation_problem(isolation)
        if problem:
            pytest.skip(f"isolation {isolation} not available here: {problem}")
        key = f"local-{isolation}"
        if key not in _POOLS:
            _POOLS[key] = LocalRenderer(1, isolation=isolation)
    else:
        _docker_skip()
        from svgarena.sandboxes import DockerRenderer

        key = "docker"
        if key not in _POOLS:
            _POOLS[key] = DockerRenderer(1, run="hostile-suite")
    yield _Static(_POOLS[key], renderer)


@pytest.fixture(scope="module", autouse=True)
def _close_pools():
    yield
    for pool in _POOLS.values():
        pool.shutdown()
    _POOLS.clear()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input(target, case, traps):
    canary, listener = traps
    canary.events()  # forget anything before this case
    svg = case.svg(canary.path, listener.url)
    start = time.monotonic()
    result = target.render(svg)
    elapsed = time.monotonic() - start
    assert isinstance(result.outcome, Outcome)
    assert result.outcome.value in case.expect, f"{case.name}: {result.outcome.value}: {result.reason}"
    assert result.ok or result.reason, "a failure must say why"
    assert elapsed < LIMIT_S + SLACK_S, f"{case.name} took {elapsed:.1f} s"
    if result.ok:
        assert result.image.shape == (SIZE, SIZE, 3) and result.image.dtype == np.uint8
    time.sleep(0.05)  # let a connection that was started reach the listener
    assert listener.hits == [], f"{case.name}: the renderer sent {listener.hits!r} to 127.0.0.1"
    assert canary.events() == [], f"{case.name}: the canary file was opened"
    after = target.render(GOOD)  # the harness keeps running
    assert after.ok, f"after {case.name}: {after.outcome.value}: {after.reason}"
    assert after.image[-1, -1].tolist() == [255, 255, 255]


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


_RSS: dict[str, int] = {}


@pytest.fixture(scope="module", autouse=True)
def _rss_at_start():
    _RSS.setdefault("start", _rss_bytes())  # before this module's first test, after earlier modules'


def test_harness_memory_stayed_bounded():
    """Whatever the hostile cases did happened in workers: this process did not grow with them
    (the cases' own texts, up to 27 MB each, are built at import, before the first reading)."""
    grown = _rss_bytes() - _RSS["start"]
    assert grown < 400 << 20, f"the test process grew by {grown >> 20} MiB during the hostile suite"
