"""The main job in miniature: the bundled suite with the built-in baselines, each where it can answer."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from svgarena.harness import RunConfig, execute, load_results
from svgarena.sandboxes import chromium_path


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("runs")
    tasks = ["icon/understanding", "icon/edit/flip", "icon/img2svg", "chemistry/text2svg"]
    if chromium_path():
        tasks.append("animation/video2sani")
    config = RunConfig(tasks=tasks, limit=3, out=str(out), run_id="mini", animation_mode="fast")
    summary = asyncio.run(execute(config))
    assert summary.done > 0
    return load_results(Path(out) / "mini")


def _row(results: dict, task: str, model: str) -> dict:
    rows = [r for r in results["results"] if r["task"] == task and r["model"] == model]
    assert rows, f"no results for {task} x {model}"
    return rows[0]


def test_baselines_run_only_where_they_can(results: dict) -> None:
    pairs = {(r["task"], r["model"]) for r in results["results"]}
    assert ("icon/img2svg", "baseline/vtracer") in pairs
    assert ("icon/understanding", "baseline/vtracer") not in pairs  # vtracer needs an input image
    assert ("chemistry/text2svg", "baseline/vtracer") not in pairs


def test_oracle_is_perfect_and_blank_is_the_floor(results: dict) -> None:
    oracle = _row(results, "icon/edit/flip", "baseline/oracle")
    assert oracle["success_rate"] == 100.0
    assert oracle["metrics"]["ssim"]["sarena"] == pytest.approx(1.0)
    assert oracle["metrics"]["psnr"]["sarena"] == 100.0
    assert _row(results, "icon/understanding", "baseline/oracle")["metrics"]["accuracy"]["sarena"] == 100.0
    blank = _row(results, "icon/img2svg", "baseline/blank")
    assert blank["success_rate"] == 0.0 and blank["failures"] == {"no_svg": 3}
    vtracer = _row(results, "icon/img2svg", "baseline/vtracer")
    assert vtracer["success_rate"] == 100.0
    assert vtracer["metrics"]["ssim"]["sarena"] > blank["metrics"]["ssim"]["sarena"] + 0.5
    assert _row(results, "chemistry/text2svg", "baseline/oracle")["metrics"]["token_length"]["ok_only"] > 0


@pytest.mark.skipif(not chromium_path(), reason="Chromium is not installed (apt-get install chromium)")
def test_animated_answers_are_rendered_and_scored(results: dict) -> None:
    oracle = _row(results, "animation/video2sani", "baseline/oracle")
    assert oracle["success_rate"] == 100.0
    # fast mode compares raw captures with H.264-decoded references: near, not equal
    assert oracle["metrics"]["ssim_video"]["sarena"] > 0.97
    vtracer = _row(results, "animation/video2sani", "baseline/vtracer")
    blank = _row(results, "animation/video2sani", "baseline/blank")
    assert vtracer["metrics"]["ssim_video"]["sarena"] > blank["metrics"]["ssim_video"]["sarena"]
