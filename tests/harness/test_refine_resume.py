"""A refine run SIGKILLed mid-trajectory and resumed: finished rounds replay from the reply cache.

The scripted server holds the round-2 request until the run is killed, so the kill lands inside a
trajectory whose rounds 0 and 1 were already answered (one sample keeps the test short on a busy machine;
tests/harness/test_resume.py covers skipping finished samples). ``--resume`` must finish it with
trajectories byte-identical to an uninterrupted run, and no (sample, round) may reach the server twice.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests._scripted_server import ScriptedServer
from tests.harness.test_refine_run import _first_image, _model, _reference_by_image
from tests.tasks._layout import make_layout


def _trajectories(db: Path) -> dict[str, Any]:
    """Everything a trajectory records that must replay identically, by sample id."""
    con = sqlite3.connect(db)
    try:
        out = {}
        for tid, sid, stop, outcome, answer, selected, media in con.execute(
                "SELECT id, sample_id, stop_reason, outcome, answer, selected_round, media FROM trajectories "
                "WHERE status='done'"):
            rounds = con.execute(
                "SELECT round, outcome, reason, reply, answer, svg_hash, feedback, feedback_mode, feedback_images, "
                "media, model_chose, input_tokens, output_tokens FROM attempts WHERE trajectory_id=? ORDER BY round",
                (tid,)).fetchall()
            scores = con.execute("SELECT round, metric, value, ok, error FROM round_scores WHERE trajectory_id=? "
                                 "ORDER BY round, metric", (tid,)).fetchall()
            headline = con.execute("SELECT metric, value FROM scores WHERE trajectory_id=? ORDER BY metric",
                                   (tid,)).fetchall()
            out[sid] = {"stop": stop, "outcome": outcome, "answer": answer, "selected": selected, "media": media,
                        "rounds": rounds, "round_scores": scores, "scores": headline}
        return out
    finally:
        con.close()


@pytest.mark.timeout(420)
def test_sigkill_mid_trajectory_then_resume_is_identical_and_pays_nothing_twice(tmp_path: Path) -> None:
    suite = make_layout(tmp_path / "suite", n=2)
    refs = _reference_by_image(suite)
    sample_of = {img: i for i, img in enumerate(sorted(refs))}  # a stable name per input image
    answer = _model(refs)  # poor, then the reference once shown a render, then the same: "identical svg" at round 2
    paid: list[tuple[int, int]] = []  # (sample, round) of every reply the server delivered to a live client
    reached, release = threading.Event(), threading.Event()
    state = {"hold": True}

    def reply(body: dict[str, Any]) -> str:
        key = (sample_of[_first_image(body)], (len(body["messages"]) - 1) // 2)
        if key[1] == 2 and state["hold"]:  # the last round: hold it until the run is killed
            reached.set()
            release.wait(60)
            return "killed before this reply arrived"
        paid.append(key)
        return answer(body)

    with ScriptedServer(reply) as srv:
        models = tmp_path / "models.yaml"
        models.write_text(f'models:\n  scripted: {{route: openai/scripted, api_base: "{srv.api_base}", concurrency: 1}}\n')
        cmd = [sys.executable, "-m", "svgarena.cli", "run", "--suite", str(suite), "--task", "icon/img2svg",
               "--model", "scripted", "--models-file", str(models), "--solver", "refine", "--rounds", "3",
               "--feedback", "render", "--limit", "1", "--concurrency", "1", "--workers", "1",
               "--out", str(tmp_path / "runs")]
        env = dict(os.environ, OPENAI_API_KEY="sk-test-not-a-real-key")
        proc = subprocess.Popen([*cmd, "--run-id", "killed"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        try:
            assert reached.wait(180), "the run never reached the held round"
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            release.set()
        before = list(paid)
        assert sorted(before) == [(0, 0), (0, 1)]  # killed inside round 2
        db = tmp_path / "runs" / "killed" / "run.sqlite"
        assert _trajectories(db) == {}  # nothing had finished

        state["hold"] = False
        res = subprocess.run([*cmd, "--resume", "killed"], env=env, capture_output=True, text=True, timeout=240)
        assert res.returncode == 0, res.stderr[-2000:]
        resumed = paid[len(before):]
        assert resumed == [(0, 2)], "rounds 0 and 1 of the killed trajectory must come from the reply cache"
        assert all(n == 1 for n in Counter(paid).values()), "a (sample, round) was paid twice"

        from svgarena.harness import RunConfig, execute

        config = RunConfig(suite=str(suite), tasks=["icon/img2svg"], models=["scripted"], models_file=str(models),
                           solver="refine", rounds=3, feedback="render", limit=1, concurrency=1, workers=1,
                           out=str(tmp_path / "runs"), run_id="whole")
        asyncio.run(execute(config))

    killed, whole = _trajectories(db), _trajectories(tmp_path / "runs" / "whole" / "run.sqlite")
    assert set(killed) == set(whole) and len(whole) == 1
    for sid in whole:
        assert killed[sid] == whole[sid], f"sample {sid} differs after the resume"
        assert whole[sid]["stop"] == "identical svg" and len(whole[sid]["rounds"]) == 3
    con = sqlite3.connect(tmp_path / "runs" / "killed" / "calls.sqlite")
    try:  # the ledger shows the two replayed rounds as cache hits
        assert con.execute("SELECT count(*) FROM calls WHERE status='cached'").fetchone()[0] == 2
    finally:
        con.close()
