"""A run killed with SIGKILL loses at most the samples in flight; resume redoes nothing finished."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests._servers import ChatServer
from tests.tasks._layout import record

N = 40


def _understanding_suite(root: Path) -> Path:
    un = root / "Icon" / "understanding"
    un.mkdir(parents=True)
    (un / "sarena_un.jsonl").write_text("\n".join(
        record(i, f"Question {i}: which? A. a B. b C. c D. d", "ABCD"[i % 4] + ". x", Subject="Color")
        for i in range(N)) + "\n")
    return root


def _done(db: Path) -> list[tuple]:
    if not db.exists():
        return []
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT sample_id, id, finished FROM trajectories WHERE status='done' ORDER BY sample_id").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


def test_sigkill_then_resume_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    suite = _understanding_suite(tmp_path / "suite")
    out = tmp_path / "runs"
    db = out / "r1" / "run.sqlite"
    with ChatServer(lambda body: "B.", delay=0.15) as server:
        env = dict(os.environ, OPENAI_API_BASE=server.api_base, OPENAI_API_KEY="sk-test-not-a-real-key")
        cmd = [sys.executable, "-m", "svgarena.cli", "run", "--suite", str(suite), "--model", "openai/test-model",
               "--concurrency", "2", "--out", str(out)]
        proc = subprocess.Popen([*cmd, "--run-id", "r1"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while len(_done(db)) < 6 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        before = {sid: (tid, fin) for sid, tid, fin in _done(db)}
        assert 6 <= len(before) < N, "the run must be killed part-way"
        calls_before = len(server.requests)

        res = subprocess.run([*cmd, "--resume", "r1", "--json"], env=env, capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        calls_after = len(server.requests) - calls_before

    after = {sid: (tid, fin) for sid, tid, fin in _done(db)}
    assert sorted(after, key=int) == [str(i) for i in range(N)]
    for sid, row in before.items():
        assert after[sid] == row, "a finished sample was redone"
    # Only the missing samples were asked (again): those never started and the ones in flight, less any
    # in-flight sample whose reply had arrived before the kill (the run's reply cache answers it).
    assert N - len(before) - 2 <= calls_after <= N - len(before)
    con = sqlite3.connect(db)
    rows = con.execute("SELECT t.sample_id, count(a.id) FROM trajectories t LEFT JOIN attempts a "
                       "ON a.trajectory_id = t.id GROUP BY t.id").fetchall()
    assert len(rows) == N and all(n == 1 for _, n in rows), "every sample has exactly one attempt"
    assert con.execute("SELECT count(*) FROM trajectories WHERE status != 'done'").fetchone()[0] == 0
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()
