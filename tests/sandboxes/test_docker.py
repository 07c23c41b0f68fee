"""DockerRenderer against a real Docker engine (skipped, with the reason, where none answers).

`make test` starts a private engine with scripts/with_dockerd.sh when Debian's docker.io is
installed and sets SVGARENA_REQUIRE_DOCKER=1, so there a missing engine or image fails.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from svgarena.outcome import Outcome
from svgarena.sandboxes import LocalRenderer, RenderSpec, SandboxLimits
from tests._store import require_docker

ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 128 128">'
    '<rect x="8" y="8" width="112" height="112" rx="16" fill="#3b82f6"/>'
    '<circle cx="64" cy="64" r="30" fill="none" stroke="#fde047" stroke-width="8" opacity="0.7"/>'
    '<path d="M30 100 Q64 20 98 100" fill="none" stroke="#111" stroke-width="4"/></svg>'
)


@pytest.fixture(scope="module", autouse=True)
def _engine():
    require_docker()


@pytest.fixture(scope="module")
def pool():
    from svgarena.sandboxes import DockerRenderer

    with DockerRenderer(2, run="test-docker") as renderer:
        yield renderer


def _client():
    from svgarena.sandboxes._docker import client

    return client()


def test_container_is_locked_down(pool):
    from svgarena.sandboxes._docker import LABEL_OWNER, LABEL_ROLE, LABEL_RUN

    assert pool.render_svg(ICON).ok
    (worker,) = pool.workers()[:1]
    worker.container.reload()
    attrs = worker.container.attrs
    host, cfg = attrs["HostConfig"], attrs["Config"]
    assert host["NetworkMode"] == "none"
    assert set(attrs["NetworkSettings"]["Networks"] or {}) <= {"none"} and cfg.get("NetworkDisabled") is True
    assert host["ReadonlyRootfs"] is True
    assert "/tmp" in host["Tmpfs"] and "noexec" in host["Tmpfs"]["/tmp"]
    assert host["Memory"] == pool.limits.memory_bytes + (256 << 20)
    assert host["MemorySwap"] == host["Memory"]
    assert host["PidsLimit"] == pool.limits.pids
    assert host["CapDrop"] == ["ALL"] and not host.get("CapAdd")
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["Privileged"] is False and host["NanoCpus"] == 10**9
    assert cfg["User"] == "65534:65534"
    assert cfg["Labels"][LABEL_ROLE] == "renderer" and cfg["Labels"][LABEL_RUN] == "test-docker"
    assert cfg["Labels"][LABEL_OWNER].split(":")[1] == str(os.getpid())
    assert cfg["OpenStdin"] and cfg["StdinOnce"] and not cfg["Tty"]
    # One process per container, and the pool reports it on the host.
    assert worker.pid in pool.worker_pids()
    assert "python" in os.readlink(f"/proc/{worker.pid}/exe")


def test_no_docker_network_was_created(pool):
    assert pool.render_svg(ICON).ok
    names = {n.name for n in _client().networks.list()}
    assert names <= {"none", "host", "bridge"}, names


def test_pixels_match_the_local_backend(pool):
    with LocalRenderer(1) as local:
        for spec in (RenderSpec(), RenderSpec(width=64, height=48, background="black")):
            a, b = pool.render_svg(ICON, spec), local.render_svg(ICON, spec)
            assert a.ok and b.ok, (a.reason, b.reason)
            np.testing.assert_array_equal(a.image, b.image)
    result = pool.render_svg(ICON)
    assert result.meta["backend"] == "docker" and result.meta["renderer_version"]


def test_typed_failures_and_the_pool_goes_on(pool):
    assert pool.render_svg("<svg><g></svg>").outcome is Outcome.PARSE_ERROR
    slow = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 9 9"><path d="M0 0' + " L1 2 3 4" * 150_000 + '"/></svg>'
    start = time.monotonic()
    result = pool.render_svg(slow, RenderSpec(timeout_s=0.5))
    assert result.outcome is Outcome.RENDER_TIMEOUT and time.monotonic() - start < 8
    assert pool.render_svg(ICON).ok


def test_resvg_crash_in_a_container_is_typed_and_replaced():
    from svgarena.sandboxes import DockerRenderer

    deep = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 9 9">' + "<g>" * 400 + "</g>" * 400 + "</svg>"
    with DockerRenderer(1, run="test-crash", max_depth=100_000) as pool:
        assert pool.render_svg(ICON, RenderSpec(renderer="resvg")).ok
        before = pool.workers()[0].container.id
        result = pool.render_svg(deep, RenderSpec(renderer="resvg"))
        assert result.outcome is Outcome.RENDER_ERROR
        assert "SIGSEGV" in result.reason or "SIGABRT" in result.reason, result.reason
        assert pool.render_svg(ICON, RenderSpec(renderer="resvg")).ok
        assert pool.workers()[0].container.id != before


def test_memory_limit_is_render_error():
    from svgarena.sandboxes import DockerRenderer

    with DockerRenderer(1, run="test-mem", limits=SandboxLimits(memory_bytes=400 << 20)) as pool:
        result = pool.render_svg(ICON, RenderSpec(width=8000, height=8000, timeout_s=30))
        assert result.outcome is Outcome.RENDER_ERROR
        assert "emory" in result.reason, result.reason
        assert pool.render_svg(ICON).ok


_DOOMED = """
import sys, time
from svgarena.sandboxes import DockerRenderer
pool = DockerRenderer(2, run=sys.argv[1])
assert all(r.ok for r in pool.render_many([sys.argv[2]] * 4))
print("ready", flush=True)
time.sleep(120)
"""


def _killed_run(run: str) -> list[str]:
    """Start a run that holds renderer containers, SIGKILL it, return its containers' ids."""
    proc = subprocess.Popen([sys.executable, "-c", _DOOMED, run, ICON], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        from svgarena.sandboxes._docker import LABEL_RUN

        ids = [c.id for c in _client().containers.list(all=True, filters={"label": f"{LABEL_RUN}={run}"})]
        assert ids, "the run's containers should exist while it runs"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    return ids


def _remaining(ids: list[str]) -> list[str]:
    alive = {c.id for c in _client().containers.list(all=True)}
    return [i for i in ids if i in alive]


def test_containers_of_a_killed_run_are_reaped_at_next_start():
    from svgarena.sandboxes import DockerRenderer

    ids = _killed_run("doomed-run-1")
    with DockerRenderer(1, run="reaper") as pool:
        assert {i[:12] for i in ids} <= set(pool.reaped)
    assert _remaining(ids) == []


def test_sandbox_cleanup_command_reaps_a_killed_run():
    ids = _killed_run("doomed-run-2")
    out = subprocess.run([sys.executable, "-m", "svgarena.cli", "sandbox", "cleanup"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "removed" in out.stdout
    assert _remaining(ids) == []


def test_cli_render_with_docker_backend(tmp_path):
    svg = tmp_path / "icon.svg"
    svg.write_text(ICON)
    png = tmp_path / "icon.png"
    out = subprocess.run([sys.executable, "-m", "svgarena.cli", "render", str(svg), "-o", str(png), "--backend",
                          "docker", "--renderer", "resvg", "--size", "96"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    from PIL import Image

    assert Image.open(png).size == (96, 96)
