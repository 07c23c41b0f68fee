"""The runner renders with the configured backend and renderer, and records the renderer per attempt."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from svgarena.harness import RunConfig, execute


def _renderers(run_dir) -> list[tuple[str, str, str]]:
    con = sqlite3.connect(run_dir / "run.sqlite")
    try:
        return con.execute("SELECT t.task, a.outcome, a.renderer FROM attempts a JOIN trajectories t "
                           "ON t.id = a.trajectory_id").fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("renderer", ["cairosvg", "resvg"])
def test_run_records_the_renderer(tmp_path, renderer):
    if renderer == "resvg":
        pytest.importorskip("resvg_py")
    config = RunConfig(tasks=["icon/img2svg"], models=["baseline/oracle"], limit=2, out=str(tmp_path),
                       renderer=renderer, backend="local", run_id=f"r-{renderer}")
    summary = asyncio.run(execute(config))
    assert summary.outcomes == {"ok": 2}
    rows = _renderers(summary.run_dir)
    assert rows and all(r == ("icon/img2svg", "ok", renderer) for r in rows)


def test_unknown_renderer_fails_before_the_run_folder_exists(tmp_path):
    config = RunConfig(tasks=["icon/img2svg"], models=["baseline/oracle"], limit=1, out=str(tmp_path),
                       renderer="inkscape", run_id="bad")
    with pytest.raises(ValueError, match="unknown renderer 'inkscape'"):
        asyncio.run(execute(config))
    assert not (tmp_path / "bad").exists()


def test_docker_backend_without_engine_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    config = RunConfig(tasks=["icon/img2svg"], models=["baseline/oracle"], limit=1, out=str(tmp_path),
                       backend="docker", run_id="nodocker")
    with pytest.raises(ValueError, match="the docker backend cannot run: no Docker engine answers"):
        asyncio.run(execute(config))
    assert not (tmp_path / "nodocker").exists()
