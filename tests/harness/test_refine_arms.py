"""Refine arms end to end on the scripted server: oracle feedback computed by the harness, budgets, labels."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests._scripted_server import images_in
from tests.harness.test_refine_run import _model, _q, _run


def _text_of(message: dict) -> str:
    content = message["content"]
    return content if isinstance(content, str) else " ".join(p.get("text", "") for p in content)


@pytest.mark.timeout(180)
def test_oracle_feedback_shows_the_harness_scores_and_the_report_labels_it(tmp_path: Path) -> None:
    db, srv = _run(tmp_path, lambda refs: _model(refs), "orc", solver="refine", rounds=2, feedback="oracle", limit=1)
    (tid, arm, stop) = _q(db, "SELECT id, arm, stop_reason FROM trajectories")[0]
    assert json.loads(arm)["oracle"] is True and json.loads(arm)["oracle_use"] == ["feedback"]
    (ssim0,) = _q(db, f"SELECT value FROM round_scores WHERE trajectory_id={tid} AND round=0 AND metric='ssim'")[0]
    (feedback, images) = _q(db, f"SELECT feedback, feedback_images FROM attempts WHERE trajectory_id={tid} AND round=0")[0]
    assert f"SSIM {ssim0:.4f}" in feedback and len(json.loads(images)) == 2  # own render + the input image
    second = [b for b in srv.requests if len(b["messages"]) == 3]
    assert second and images_in({"messages": [second[0]["messages"][-1]]}) == 2
    assert f"SSIM {ssim0:.4f}" in _text_of(second[0]["messages"][-1])

    from rich.console import Console

    from svgarena.harness import load_results, tables

    results = load_results(db.parent)
    (row,) = results["results"]
    assert row["oracle"] is True and row["oracle_use"] == ["feedback"]
    console = Console(record=True, width=200)
    for table in tables(results):
        console.print(table)
    assert "ORACLE (feedback)" in console.export_text()


@pytest.mark.timeout(180)
def test_run_cap_mid_trajectory_keeps_the_rounds_and_stops_the_run(tmp_path: Path) -> None:
    # every scripted call is 30 tokens: the cap of 60 is reached after round 1 of the first sample
    db, srv = _run(tmp_path, lambda refs: _model(refs, vary=True), "cap", solver="refine", rounds=3, feedback="none",
                   limit=1, max_tokens=60)
    assert _q(db, "SELECT stop_reason, status FROM trajectories") == [("run budget", "done")]
    assert [r[0] for r in _q(db, "SELECT round FROM attempts ORDER BY round")] == [0, 1]
    assert _q(db, "SELECT status FROM runs")[0][0] == "stopped" and len(srv.requests) == 2


@pytest.mark.timeout(180)
def test_sample_token_budget_is_recorded_with_the_arm(tmp_path: Path) -> None:
    db, srv = _run(tmp_path, lambda refs: _model(refs, vary=True), "stb", solver="refine", rounds=5, feedback="none",
                   limit=1, sample_max_tokens=60)
    (stop, arm) = _q(db, "SELECT stop_reason, arm FROM trajectories")[0]
    assert stop == "sample budget: tokens" and json.loads(arm)["sample_budget"] == {"tokens": 60}
    assert len(srv.requests) == 2


def test_stop_rules_and_budgets_are_checked_before_anything_runs(tmp_path: Path) -> None:
    from svgarena.harness import RunConfig, execute

    for arm, message in (({"solver": "direct", "stop_on": "oracle-threshold"}, "only for --solver refine"),
                         ({"solver": "refine", "stop_on": "perfect"}, "unknown --stop-on 'perfect'"),
                         ({"solver": "refine", "sample_max_tokens": 0}, "--sample-max-tokens must be positive"),
                         ({"solver": "refine", "feedback": "peek"}, "render, render+target, oracle, none")):
        config = RunConfig(tasks=["icon/img2svg"], models=["baseline/blank"], out=str(tmp_path), **arm)
        with pytest.raises(ValueError, match=message.replace("+", r"\+")):
            asyncio.run(execute(config))
    assert not any(tmp_path.iterdir())  # nothing was created
