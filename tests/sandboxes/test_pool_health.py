"""The render pool's health as the dashboard shows it: workers alive, renders, crashes, timeouts."""

from __future__ import annotations

import os
import signal
import threading

from svgarena.outcome import Outcome
from svgarena.sandboxes import LocalRenderer, RenderSpec

ICON = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 128 128"><rect x="8" y="8" width="50" height="50"/></svg>'
SLOW = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 128 128"><path d="M0 0' + " L1 2 3 4" * 150_000 + '"/></svg>'


def test_health_counts_renders_a_timeout_and_a_crash() -> None:
    with LocalRenderer(1) as renderer:
        assert renderer.health() == {"backend": "local", "size": 1, "alive": 0, "renders": 0, "crashes": 0,
                                     "timeouts": 0, "start_failures": 0}  # workers start on first use
        assert renderer.render_svg(ICON).ok
        assert renderer.health()["alive"] == 1 and renderer.health()["renders"] == 1
        assert renderer.render_svg(SLOW, RenderSpec(timeout_s=0.2)).outcome is Outcome.RENDER_TIMEOUT
        assert renderer.health()["timeouts"] == 1 and renderer.health()["alive"] == 0  # killed, not yet replaced
        assert renderer.render_svg(ICON).ok
        (pid,) = renderer.worker_pids()
        threading.Timer(0.3, os.kill, (pid, signal.SIGKILL)).start()
        assert renderer.render_svg(SLOW, RenderSpec(timeout_s=30)).outcome is Outcome.RENDER_ERROR
        health = renderer.health()
    assert (health["renders"], health["timeouts"], health["crashes"]) == (2, 1, 1)
