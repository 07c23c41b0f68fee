"""Refine and resample runs end to end: a real local chat server, real renders, every round scored and stored.

The scripted model answers a poor SVG until it is shown its own render, then the sample's reference
SVG; so per-round SSIM must rise, ``--select`` must pick the right round, and the stop rules must fire.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tests._scripted_server import ScriptedServer, images_in
from tests._store import query as _q
from tests.tasks._layout import make_layout

POOR = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 128 128"><!-- {n} --><rect width="9" height="9"/></svg>'


def _reference_by_image(suite: Path) -> dict[str, str]:
    gen = suite / "Icon" / "generation"
    return {base64.b64encode((gen / "images" / f"{p.stem}.png").read_bytes()).decode(): p.read_text()
            for p in (gen / "svg").glob("*.svg")}


def _first_image(body: dict[str, Any]) -> str:
    for part in body["messages"][0]["content"]:
        if isinstance(part, dict) and part.get("type") == "image_url":
            return part["image_url"]["url"].split(",", 1)[1]
    return ""


def _model(refs: dict[str, str], done: bool = False, vary: bool = False):
    def reply(body: dict[str, Any]) -> str:
        msgs = body["messages"]
        shown_render = len(msgs) > 1 and images_in({"messages": [msgs[-1]]}) > 0
        if shown_render:
            return refs[_first_image(body)] + ("\nLooks right. <done/>" if done else "")
        return POOR.format(n=len(msgs) if vary else 0)
    return reply


def _run(tmp_path: Path, reply, run_id: str, entry: str = "", **arm: Any) -> tuple[Path, ScriptedServer]:
    """One icon/img2svg run of two samples against a scripted server; ``entry`` adds registry fields."""
    from svgarena.harness import RunConfig, execute

    suite = make_layout(tmp_path / "suite", n=2)
    with ScriptedServer(reply(_reference_by_image(suite))) as srv:
        models = tmp_path / "models.yaml"
        models.write_text(f'models:\n  scripted: {{route: openai/scripted, api_base: "{srv.api_base}", '
                          f'concurrency: 2{entry}}}\n')
        config = RunConfig(suite=str(suite), tasks=["icon/img2svg"], models=["scripted"], models_file=str(models),
                           out=str(tmp_path / "runs"), run_id=run_id, workers=1, **arm)
        asyncio.run(execute(config))
    return tmp_path / "runs" / run_id / "run.sqlite", srv


def _ssim_by_round(db: Path) -> dict[tuple[str, int], float]:
    return {(sid, r): v for sid, r, v in _q(db, "SELECT t.sample_id, s.round, s.value FROM round_scores s JOIN "
                                               "trajectories t ON t.id = s.trajectory_id WHERE s.metric='ssim'")}


@pytest.mark.timeout(120)
def test_render_feedback_raises_scores_and_select_picks_the_round(tmp_path: Path) -> None:
    db, srv = _run(tmp_path, lambda refs: _model(refs), "oracle", solver="refine", rounds=3, select="best-oracle")
    trajs = _q(db, "SELECT id, sample_id, stop_reason, selection, selected_round, arm, media FROM trajectories")
    assert len(trajs) == 2
    ssim = _ssim_by_round(db)
    for tid, sid, stop, selection, selected, arm, media in trajs:
        # poor, then the reference once the render was shown, then the same SVG again: identical-svg stop
        assert stop == "identical svg"
        assert ssim[(sid, 1)] > ssim[(sid, 0)] and ssim[(sid, 1)] == pytest.approx(1.0)
        assert (selection, selected) == ("best-oracle", 1)
        # the headline round was picked by the reference: the arm is labelled an oracle arm
        assert json.loads(arm) == {"solver": "refine", "feedback": "render", "rounds": 3, "oracle": True,
                                   "oracle_use": ["selection"], "selection": "best-oracle"}
        headline = dict(_q(db, f"SELECT metric, value FROM scores WHERE trajectory_id={tid}"))
        assert headline["ssim"] == pytest.approx(ssim[(sid, 1)])
        rounds = _q(db, f"SELECT round, feedback_mode, feedback, feedback_images, media FROM attempts "
                        f"WHERE trajectory_id={tid} ORDER BY round")
        assert [r[0] for r in rounds] == [0, 1, 2]
        assert rounds[0][1] == "render" and "<done/>" in rounds[0][2] and len(json.loads(rounds[0][3])) == 1
        assert rounds[2][1] in ("", None)  # nothing was shown after the last round
        assert all("png" in json.loads(r[4]) for r in rounds)  # every round's render is kept
        assert json.loads(media)["png"] == json.loads(rounds[1][4])["png"]  # headline media = selected round's
    from svgarena.harness import load_results

    (row,) = load_results(db.parent)["results"]
    assert row["solver"] == "refine" and row["metrics"]["ssim"]["sarena"] == pytest.approx(1.0)
    assert row["usage"]["calls"] == 6  # three rounds of two samples
    # the feedback image is the round-0 render: a PNG shown in the round-1 request
    assert any(images_in({"messages": [b["messages"][-1]]}) == 1 for b in srv.requests if len(b["messages"]) == 3)


@pytest.mark.timeout(120)
def test_select_last_and_best_model_with_done_marker(tmp_path: Path) -> None:
    db, _ = _run(tmp_path / "a", lambda refs: _model(refs), "last", solver="refine", rounds=3, select="last")
    assert {r for r in _q(db, "SELECT selected_round FROM trajectories")} == {(2,)}
    db, _ = _run(tmp_path / "b", lambda refs: _model(refs, done=True), "done", solver="refine", rounds=5,
                 select="best-model")
    assert set(_q(db, "SELECT stop_reason, selected_round FROM trajectories")) == {("done marker", 1)}
    assert set(_q(db, "SELECT round, model_chose FROM attempts")) == {(0, 0), (1, 1)}
    ssim = _ssim_by_round(db)
    assert all(ssim[(sid, 1)] > ssim[(sid, 0)] for sid, _ in ssim)


def _bare_done(refs: dict[str, str]):
    """Poor SVG, then the reference once shown its render, then a bare "Looks right. <done/>" with no SVG."""
    first = _model(refs)

    def reply(body: dict[str, Any]) -> str:
        return first(body) if len(body["messages"]) <= 3 else "Looks right. <done/>"
    return reply


@pytest.mark.timeout(120)
def test_bare_done_marker_selects_the_previous_svg_round(tmp_path: Path) -> None:
    db, _ = _run(tmp_path, _bare_done, "bare", solver="refine", rounds=5, select="best-model")
    assert set(_q(db, "SELECT stop_reason, selected_round FROM trajectories")) == {("done marker", 1)}
    # the marker round is kept (no_svg), the round it kept is the model's choice in the store
    assert set(_q(db, "SELECT round, outcome, model_chose FROM attempts")) == {
        (0, "ok", 0), (1, "ok", 1), (2, "no_svg", 0)}
    assert all(v == pytest.approx(1.0) for v, in _q(db, "SELECT value FROM scores WHERE metric='ssim'"))


@pytest.mark.timeout(120)
def test_none_feedback_sends_no_image_and_stops_on_rounds_or_identical_svg(tmp_path: Path) -> None:
    db, srv = _run(tmp_path / "a", lambda refs: _model(refs), "none", solver="refine", rounds=4, feedback="none")
    assert set(_q(db, "SELECT stop_reason FROM trajectories")) == {("identical svg",)}
    assert all(images_in({"messages": b["messages"][1:]}) == 0 for b in srv.requests)
    assert {r[0] for r in _q(db, "SELECT feedback_mode FROM attempts WHERE round=0")} == {"none"}
    db, _ = _run(tmp_path / "b", lambda refs: _model(refs, vary=True), "vary", solver="refine", rounds=2,
                 feedback="none")
    assert set(_q(db, "SELECT stop_reason, selected_round FROM trajectories")) == {("rounds exhausted", 1)}


@pytest.mark.timeout(120)
def test_resample_asks_the_original_prompt_n_times(tmp_path: Path) -> None:
    db, srv = _run(tmp_path, lambda refs: _model(refs, vary=True), "rs", solver="resample", samples=3)
    assert sorted(r[0] for r in _q(db, "SELECT round FROM attempts")) == [0, 0, 1, 1, 2, 2]
    assert len(srv.requests) == 6 and all(len(b["messages"]) == 1 for b in srv.requests)
    assert set(_q(db, "SELECT stop_reason FROM trajectories")) == {("samples exhausted",)}
    assert len(_q(db, "SELECT * FROM round_scores WHERE metric='ssim'")) == 6


@pytest.mark.timeout(120)
def test_temperature_reaches_the_request_and_bad_select_is_one_line(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    _, srv = _run(tmp_path, lambda refs: _model(refs, vary=True), "t", solver="resample", samples=2, temperature=0.7)
    assert {b.get("temperature") for b in srv.requests} == {0.7}
    res = subprocess.run([sys.executable, "-m", "svgarena.cli", "run", "--solver", "refine", "--select", "best",
                          "--out", str(tmp_path / "runs2")], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ))
    assert res.returncode != 0 and "unknown --select 'best'" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.timeout(120)
def test_choice_tasks_under_refine_say_once_per_model_that_they_ran_direct(tmp_path: Path) -> None:
    from svgarena.harness import RunConfig, execute

    class Notes:
        def __init__(self) -> None:
            self.lines: list[str] = []

        def start(self, task: str, model: str, total: int) -> None: ...

        def advance(self, task: str, model: str, outcome: Any) -> None: ...

        def note(self, text: str) -> None:
            self.lines.append(text)

    models = ["baseline/oracle", "baseline/blank"]
    config = RunConfig(suite="sarena-mini", tasks=["icon/understanding"], models=models, solver="refine", rounds=3,
                       limit=2, out=str(tmp_path / "runs"), run_id="choice", workers=1, preflight=False)
    progress = Notes()
    asyncio.run(execute(config, progress=progress))
    db = tmp_path / "runs" / "choice" / "run.sqlite"
    notes = _q(db, "SELECT task, model, text FROM notes ORDER BY id")
    assert [(t, m) for t, m, _ in notes] == [("icon/understanding", m) for m in models]
    assert all(text == f"icon/understanding: choice task, answered directly for {m} (refine does not apply)"
               for _, m, text in notes)
    assert progress.lines == [text for _, _, text in notes]
    assert set(_q(db, "SELECT stop_reason FROM trajectories")) == {("choice task: direct",)}
    assert len(_q(db, "SELECT id FROM trajectories")) == 4
