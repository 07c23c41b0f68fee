"""Tools runs end to end: a real local chat server making native tool calls or text-protocol calls,
real renders in the run's sandbox, every render_svg call stored and scored as a round.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests._scripted_server import ScriptedServer, images_in, tool_call
from tests._store import query as _q
from tests.harness.test_refine_run import POOR, _reference_by_image, _ssim_by_round
from tests.harness.test_refine_run import _run as _refine_run
from tests.tasks._layout import make_layout

BAD = POOR.format(n=0)
NS = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'


def _first_image(body: dict[str, Any]) -> str:
    """The base64 input image of the first user message (the system message comes first)."""
    user = next(m for m in body["messages"] if m["role"] == "user")
    return next(p["image_url"]["url"].split(",", 1)[1] for p in user["content"] if p.get("type") == "image_url")


def _use_bomb(levels: int = 12, fan: int = 8) -> str:
    defs = '<rect id="u0" width="1" height="1"/>'
    for i in range(1, levels + 1):
        defs += f'<g id="u{i}">' + f'<use xlink:href="#u{i - 1}"/>' * fan + "</g>"
    return f'<svg {NS} viewBox="0 0 10 10"><defs>{defs}</defs><use xlink:href="#u{levels}"/></svg>'


def _run(tmp_path: Path, make_reply, run_id: str, accepts: str = "", client: str = "litellm",
         **arm: Any) -> tuple[Path, ScriptedServer]:
    return _refine_run(tmp_path, make_reply, run_id, entry=f", client: {client}{accepts}", solver="tools", **arm)


def _native(refs: dict[str, str]):
    """Renders the reference, sees it, then submits a poor SVG (so best-model and best-oracle disagree)."""
    def reply(body: dict[str, Any]) -> dict[str, Any]:
        if not any(m.get("role") == "tool" for m in body["messages"]):
            return {"tool_calls": [tool_call("render_svg", {"svg": refs[_first_image(body)]}, "call_r")]}
        return {"content": "Submitting.", "tool_calls": [tool_call("submit", {"svg": BAD}, "call_s")]}
    return reply


@pytest.mark.timeout(120)
@pytest.mark.parametrize("client", ["litellm", "direct"])
def test_native_tool_calls_round_trip_and_best_model_picks_the_submit(tmp_path: Path, client: str) -> None:
    db, srv = _run(tmp_path, _native, "native", accepts=", accepts: {tools: true}", client=client,
                   select="best-model", temperature=0.3)
    assert len(srv.requests) == 4  # two samples, two calls each
    assert {b["temperature"] for b in srv.requests} == {0.3}
    assert all([t["function"]["name"] for t in b["tools"]] == ["render_svg", "submit"] for b in srv.requests)
    second = [b for b in srv.requests if any(m.get("role") == "tool" for m in b["messages"])]
    assert len(second) == 2
    for body in second:
        assistant, tool, user = body["messages"][-3:]
        assert assistant["role"] == "assistant" and assistant["tool_calls"][0]["id"] == "call_r"
        assert tool["role"] == "tool" and tool["tool_call_id"] == "call_r" and isinstance(tool["content"], str)
        assert user["role"] == "user" and images_in({"messages": [user]}) == 1  # the render, after the tool message
    ssim = _ssim_by_round(db)
    for tid, sid, stop, selected, arm in _q(db, "SELECT id, sample_id, stop_reason, selected_round, arm "
                                               "FROM trajectories"):
        assert stop == "submitted" and selected == 1  # the submit, though round 0 scored higher
        assert ssim[(sid, 0)] == pytest.approx(1.0) and ssim[(sid, 1)] < ssim[(sid, 0)]
        assert json.loads(arm) == {"solver": "tools", "feedback": "tool", "protocol": "native", "max_tool_calls": 8,
                                   "oracle": False, "selection": "best-model"}
        headline = dict(_q(db, f"SELECT metric, value FROM scores WHERE trajectory_id={tid}"))
        assert headline["ssim"] == pytest.approx(ssim[(sid, 1)])
        rows = _q(db, f"SELECT round, feedback_mode, feedback_images, model_chose, tool_calls, malformed_calls, media "
                      f"FROM attempts WHERE trajectory_id={tid} ORDER BY round")
        assert [r[:2] for r in rows] == [(0, "tool"), (1, "")]
        assert len(json.loads(rows[0][2])) == 1 and [r[3:6] for r in rows] == [(0, 1, 0), (1, 1, 0)]
        assert all("png" in json.loads(r[6]) for r in rows)


def _text(refs: dict[str, str]):
    """Opens a render tag and forgets to close it, then renders properly, forever."""
    def reply(body: dict[str, Any]) -> str:
        if len(body["messages"]) <= 2:
            return f"<render>{BAD}"
        return f"Let me look. <render>{refs[_first_image(body)]}</render>"
    return reply


@pytest.mark.timeout(120)
def test_text_protocol_counts_malformed_calls_and_stops_at_max_tool_calls(tmp_path: Path) -> None:
    db, srv = _run(tmp_path, _text, "text", max_tool_calls=3)
    assert len(srv.requests) == 6 and not any("tools" in b for b in srv.requests)
    assert all(b["messages"][0]["role"] == "system" and "<submit>" in b["messages"][0]["content"]
               for b in srv.requests)
    assert set(_q(db, "SELECT stop_reason, selected_round FROM trajectories")) == {
        ("max tool calls (last render is the answer)", 1)}
    assert sorted(_q(db, "SELECT round, outcome, tool_calls, malformed_calls, model_chose, feedback_mode "
                         "FROM attempts")) == [(0, "ok", 2, 1, 0, "tool")] * 2 + [(1, "ok", 1, 0, 0, "tool")] * 2
    extra = json.loads(_q(db, "SELECT extra FROM attempts WHERE round=0 LIMIT 1")[0][0])
    assert extra["protocol"] == "text" and "unclosed <render>" in extra["malformed"][0]
    assert len(_q(db, "SELECT * FROM round_scores WHERE metric='ssim'")) == 4
    (row,) = __import__("svgarena.harness", fromlist=["load_results"]).load_results(db.parent)["results"]
    assert row["solver"] == "tools" and row["usage"]["calls"] == 6  # malformed turns' calls are counted too


def _hostile(refs: dict[str, str]):
    def reply(body: dict[str, Any]) -> str:
        if len(body["messages"]) <= 2:
            return f"<render>{_use_bomb()}</render>"
        return f"<submit>{refs[_first_image(body)]}</submit>"
    return reply


@pytest.mark.timeout(120)
def test_hostile_svg_through_the_tool_is_a_typed_round_and_the_run_goes_on(tmp_path: Path) -> None:
    db, _ = _run(tmp_path, _hostile, "hostile", render_timeout_s=2.0)
    assert set(_q(db, "SELECT outcome, stop_reason, selected_round FROM trajectories")) == {("ok", "submitted", 1)}
    bad = _q(db, "SELECT outcome, reason, feedback FROM attempts WHERE round=0")
    assert len(bad) == 2
    for outcome, reason, feedback in bad:
        assert outcome in ("parse_error", "render_error", "render_timeout") and reason
        assert feedback.startswith(f"render failed: {outcome}")


@pytest.mark.timeout(120)
def test_bad_tool_options_are_one_line(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-m", "svgarena.cli", "run", "--solver", "tools", "--max-tool-calls", "0",
                          "--out", str(tmp_path / "runs")], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ))
    assert res.returncode != 0 and "--max-tool-calls must be at least 1" in res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "runs").exists()


@pytest.mark.timeout(180)
def test_a_killed_tools_run_resumes_from_the_reply_cache_with_identical_rounds(tmp_path: Path) -> None:
    from svgarena.harness import RunConfig, execute

    suite = make_layout(tmp_path / "suite", n=2)
    cols = "t.sample_id, a.round, a.outcome, a.reply, a.svg_hash, a.tool_calls, a.malformed_calls, a.extra"
    sql = f"SELECT {cols} FROM attempts a JOIN trajectories t ON t.id = a.trajectory_id ORDER BY 1, 2"
    with ScriptedServer(_text(_reference_by_image(suite))) as srv:
        models = tmp_path / "models.yaml"
        models.write_text(f'models:\n  scripted: {{route: openai/scripted, api_base: "{srv.api_base}"}}\n')
        config = RunConfig(suite=str(suite), tasks=["icon/img2svg"], models=["scripted"], models_file=str(models),
                           out=str(tmp_path / "runs"), run_id="r", workers=1, solver="tools", max_tool_calls=3)
        asyncio.run(execute(config))
        db = tmp_path / "runs" / "r" / "run.sqlite"
        before, paid = _q(db, sql), len(srv.requests)
        con = sqlite3.connect(db)
        for stmt in ("DELETE FROM round_scores", "DELETE FROM scores", "UPDATE trajectories SET status='running'"):
            con.execute(stmt)  # what a SIGKILL before the trajectories finished leaves: rounds, no scores
        con.commit()
        con.close()
        asyncio.run(execute(RunConfig(out=str(tmp_path / "runs"), run_id="r"), resume=True))
        assert len(srv.requests) == paid == 6  # every call answered from the cache
    assert _q(db, sql) == before and len(before) == 4
