"""Scoring passes: offline runs without checkpoints, failure isolation, and a full rescore with
random-weight networks that writes per-sample and set-level scores in both views."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest

from svgarena.harness import RunConfig, ScoringOptions, execute, load_results, rescore, tables
from svgarena.scoring import (
    METRICS,
    Checkpoint,
    CheckpointMissing,
    Group,
    Metric,
    SampleScore,
    ScoringContext,
    ScoringItem,
    register_metric,
    run_pass,
)
from svgarena.scoring import _weights as w
from svgarena.tasks import Sample, Task
from svgarena.tasks._types import AnswerKind

NEURAL = ("dino", "lpips", "clip_t2i", "clip_i2i", "fid", "fid_c")


@pytest.fixture
def no_caches(tmp_path, monkeypatch):
    for var in ("XDG_CACHE_HOME", "TORCH_HOME", "HF_HOME", "HF_HUB_CACHE"):
        monkeypatch.setenv(var, str(tmp_path / "cache" / var.lower()))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv(w.WEIGHTS_ENV, raising=False)
    return tmp_path


@pytest.fixture
def offline_run(no_caches):
    config = RunConfig(tasks=["icon/understanding", "icon/img2svg", "icon/text2svg"],
                       models=["baseline/oracle", "baseline/blank"], limit=3, out=str(no_caches / "runs"),
                       run_id="offline", workers=1)
    summary = asyncio.run(execute(config))
    return summary.run_dir


def test_offline_run_without_checkpoints_completes_and_names_every_skip(offline_run):
    results = load_results(offline_run)
    assert results["status"] == "finished"
    by = {(r["task"], r["model"]): r for r in results["results"]}
    oracle = by[("icon/img2svg", "baseline/oracle")]["metrics"]
    assert oracle["ssim"]["sarena"] == pytest.approx(1.0) and oracle["psnr"]["sarena"] == 100.0
    assert by[("icon/understanding", "baseline/oracle")]["metrics"]["accuracy"]["sarena"] == 100.0
    blank = by[("icon/img2svg", "baseline/blank")]["metrics"]
    assert blank["ssim"]["computed"] and blank["ssim"]["ok_only"] is None
    for name in NEURAL:  # not computed, never zero
        for r in results["results"]:
            if name in r["metrics"]:
                assert not r["metrics"][name]["computed"] and r["metrics"][name]["sarena"] is None
    lines = results["skipped_metrics"]
    text = "\n".join(lines)
    for name in NEURAL:
        assert name in text
    for ck in ("dinov2-base", "vgg16-imagenet", "clip-vit-l-14-openai", "clip-vit-b-32-openai", "inception-fid"):
        assert sum(f"svgarena weights fetch {ck}" in line for line in lines) == 1  # one line per checkpoint
    from rich.console import Console

    console = Console(record=True, width=200)
    for table in tables(results):
        console.print(table)
    assert "n/c" in console.export_text()


class _Flaky(Metric):
    """Raises on one sample and gives NaN on another, the way a metric can fail on bad data."""

    name = "test_flaky"

    def score(self, batch, ctx):
        out = []
        for item in batch.items:
            if item.sample.id == "boom":
                raise RuntimeError("cannot score this one")
            out.append(SampleScore(math.nan if item.sample.id == "nan" else 1.0, item.ok))
        return out


class _NeedsWeights(Metric):
    name = "test_needs_weights"
    checkpoints = ("test-missing-ck",)

    def prepare(self, ctx):
        ctx.checkpoint("test-missing-ck", self.name)


class _Sink:
    def __init__(self):
        self.rows, self.sets = [], []

    def put_scores(self, rows):
        self.rows.extend(rows)

    def put_set_scores(self, task, model, solver, scores):
        self.sets.extend(scores)


def test_a_raising_or_nan_sample_loses_only_its_own_value(no_caches):
    register_metric("test_flaky", _Flaky)
    register_metric("test_needs_weights", _NeedsWeights)
    w.register_checkpoint(Checkpoint(name="test-missing-ck", metrics=("test_needs_weights",), filename="x.pt",
                                     description="", cache="torch", url="http://127.0.0.1:9/x.pt"))
    try:
        task = Task("t/x", "icon", "img2svg", AnswerKind.SVG, "x.jsonl", None,
                    metrics=("test_flaky", "test_needs_weights", "test_not_implemented"))
        ids = ["a", "boom", "nan", "b"]
        items = [ScoringItem(i, Sample(s, "t/x", "p", "t"), ok=True) for i, s in enumerate(ids)]
        sink, lines = _Sink(), []
        report = run_pass([Group(task, "m", "direct", ids, lambda: items)], sink, ScoringContext(batch_size=4),
                          note=lines.append)
        by = {tid: (v, err) for tid, m, v, ok, err in sink.rows}
        assert by[0] == (1.0, None) and by[3] == (1.0, None)
        assert by[1][0] is None and "cannot score this one" in by[1][1]
        assert by[2] == (None, "the metric is NaN")
        assert len(lines) == 2
        assert "test_needs_weights" in lines[0] and "svgarena weights fetch test-missing-ck" in lines[0]
        assert "test_not_implemented" in lines[1]
        assert set(report.skipped) == {"test_needs_weights", "test_not_implemented"}
    finally:
        for name in ("test_flaky", "test_needs_weights"):
            METRICS.pop(name, None)
        w.CHECKPOINTS.pop("test-missing-ck", None)


@pytest.mark.slow
def test_rescore_with_random_networks_fills_both_views(offline_run, no_caches):
    from ._random_weights import write_clip, write_dino, write_inception, write_vgg16

    wdir = no_caches / "weights"
    wdir.mkdir()
    write_dino(wdir), write_vgg16(wdir), write_inception(wdir), write_clip(wdir, "ViT-B-32")
    options = ScoringOptions(metrics=["dino", "lpips", "fid", "fid_c", "ssim", "psnr", "accuracy"],
                             weights_dir=str(wdir), batch_size=2, image_size=48)
    _, report = rescore(offline_run, no_caches / "runs", options)
    assert report.scored["dino"] == 6 and report.scored["fid"] == 2
    results = load_results(offline_run)
    by = {(r["task"], r["model"]): r["metrics"] for r in results["results"]}
    oracle, blank = by[("icon/img2svg", "baseline/oracle")], by[("icon/img2svg", "baseline/blank")]
    assert oracle["dino"]["sarena"] == pytest.approx(1.0, abs=1e-6)
    assert oracle["lpips"]["sarena"] == pytest.approx(0.0, abs=1e-6)
    assert 0 <= blank["dino"]["sarena"] < 1 and blank["lpips"]["sarena"] > 0 and blank["dino"]["ok_only"] is None
    fid_o, fid_b = by[("icon/text2svg", "baseline/oracle")]["fid"], by[("icon/text2svg", "baseline/blank")]["fid"]
    assert fid_o["set_level"] and fid_o["n_ref"] == 3 and fid_o["n"] == 3 and abs(fid_o["sarena"]) < 1e-6
    assert fid_b["sarena"] > 1e-3 and fid_b["n"] == 3
    assert fid_b["ok_only"] is None and fid_b["n_ok"] == 0 and "at least 2" in fid_b["error"]
    assert by[("icon/text2svg", "baseline/oracle")]["fid_c"]["computed"]
    lines = results["skipped_metrics"]
    assert not any("dino" in line or "inception" in line for line in lines)
    assert any("clip-vit-l-14-openai" in line for line in lines)  # still missing, still named once
    assert np.isfinite(by[("icon/img2svg", "baseline/blank")]["ssim"]["sarena"])


def test_cli_score_rescores_pixel_metrics_without_a_model(offline_run, no_caches):
    from typer.testing import CliRunner

    from svgarena.cli import app

    result = CliRunner().invoke(app, ["score", str(offline_run), "--metrics", "ssim,psnr,accuracy", "--json"])
    assert result.exit_code == 0, result.output
    assert '"ssim"' in result.output
    bad = CliRunner().invoke(app, ["score", str(offline_run), "--metrics", "nonsense"])
    assert bad.exit_code == 2 and "unknown metric nonsense" in bad.output
    half = CliRunner().invoke(app, ["score", str(offline_run), "--device", "cpu", "--half"])
    assert half.exit_code == 2 and "CUDA" in half.output
