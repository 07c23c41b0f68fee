"""Chromium inside bubblewrap: it really runs jailed, and it draws the very same frames."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import numpy as np
import pytest

from svgarena.sandboxes import BrowserAnimationRenderer, chromium_path, isolation_problem

pytestmark = pytest.mark.skipif(
    chromium_path() is None or isolation_problem("bwrap") is not None,
    reason="needs Chromium (apt-get install chromium) and a working bubblewrap (apt-get install bubblewrap)",
)

ANIM = Path(__file__).resolve().parents[2] / "svgarena" / "tasks" / "data" / "sarena-mini" / "animation"


def _descendants(root: int) -> list[int]:
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        for task in os.listdir(f"/proc/{pid}/task") if os.path.isdir(f"/proc/{pid}/task") else []:
            try:
                kids = open(f"/proc/{pid}/task/{task}/children").read().split()
            except OSError:
                continue
            for k in map(int, kids):
                out.append(k)
                todo.append(k)
    return out


def _exe(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return ""


def test_chromium_processes_have_no_network_and_no_host_files():
    async def run():
        async with BrowserAnimationRenderer(pages=1) as r:
            res = await r.capture((ANIM / "svg" / "0.svg").read_text(), [0.0], 64)
            assert res.ok and res.meta["jail"] == "bwrap" and r.jailed
            chromes = [p for p in _descendants(os.getpid()) if "chromium" in _exe(p)]
            assert chromes, "no Chromium process found under this test"
            for pid in chromes:
                assert os.readlink(f"/proc/{pid}/ns/net") != os.readlink("/proc/self/ns/net")
                assert os.readlink(f"/proc/{pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt")
                assert not os.path.exists(f"/proc/{pid}/root{Path.cwd()}"), "the work tree must not exist inside"
                assert not os.path.exists(f"/proc/{pid}/root/root"), "/root must not exist inside"
                status = open(f"/proc/{pid}/status").read()
                assert "CapEff:\t0000000000000000" in status
        launcher = r._launcher
        assert launcher is None  # removed on close

    asyncio.run(run())


@pytest.mark.slow
def test_jailed_chromium_reproduces_the_sarena_mini_references_byte_for_byte(tmp_path):
    """The references were rebuilt with this renderer: re-rendering gives identical MP4 files."""
    from svgarena.sandboxes import sarena_times

    async def run():
        async with BrowserAnimationRenderer(pages=1) as r:
            for sid in ("0", "5"):
                out448, out128 = tmp_path / f"{sid}.mp4", tmp_path / f"{sid}-128.mp4"
                res = await r.render_mp4((ANIM / "svg" / f"{sid}.svg").read_text(), out448, out128)
                assert res.ok, res.reason
                assert out448.read_bytes() == (ANIM / "video" / f"{sid}.mp4").read_bytes()
                assert out128.read_bytes() == (ANIM / "overall" / f"{sid}.mp4").read_bytes()
            jailed = await r.capture((ANIM / "svg" / "0.svg").read_text(), sarena_times()[::10], 448)
        # and the jail changes no pixel: the same capture unjailed
        async with BrowserAnimationRenderer(pages=1, jail=False) as plain:
            res = await plain.capture((ANIM / "svg" / "0.svg").read_text(), sarena_times()[::10], 448)
            assert not plain.jailed and res.meta["jail"] == "none"
        np.testing.assert_array_equal(res.meta["frames"], jailed.meta["frames"])

    asyncio.run(run())


def test_fast_mode_captures_exactly_the_metric_frames():
    from svgarena.sandboxes import fast_times, sample_frames

    async def run():
        async with BrowserAnimationRenderer(pages=1) as r:
            return await r.capture_metric_frames((ANIM / "svg" / "4.svg").read_text())

    res = asyncio.run(run())
    assert res.ok, res.reason
    assert res.meta["frames"].shape == (8, 448, 448, 3) and res.meta["frames_128"].shape == (16, 128, 128, 3)
    assert res.meta["times"] == fast_times(8)
    # The same frames the metrics decode from the reference video (lossy H.264: close, not equal).
    ref = sample_frames(ANIM / "video" / "4.mp4", 8).astype(int)
    assert np.abs(ref - res.meta["frames"]).mean() < 2.0
