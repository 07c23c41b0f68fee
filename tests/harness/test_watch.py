"""`svgarena watch`: follows a run another process writes, read-only, and exits when it ends."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pexpect

from svgarena.harness import RunStore, TrajectoryKey, snapshot

CLI = [sys.executable, "-m", "svgarena.cli"]


def tty_env() -> dict[str, str]:
    """The environment for a child on a pseudo-terminal: its size from the terminal (pytest sets COLUMNS=80)."""
    return {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}


def _finished_run(root: Path) -> Path:
    path = root / "done" / "run.sqlite"
    store = RunStore(path)
    store.init_run("done", {"tasks": ["icon/img2svg"]}, {})
    store.put_heartbeat("plan", {"units": [{"task": "icon/img2svg", "model": "openai/gpt-4o", "total": 3}]})
    for sample_id, outcome, ssim in (("0", "ok", 0.8), ("1", "model_error", 0.0)):
        tid = store.start_trajectory(TrajectoryKey("icon/img2svg", "openai/gpt-4o", "direct", sample_id))
        store.add_attempt(tid, {"round": 0, "outcome": outcome,
                                "reason": "OPENAI_API_KEY is not set" if outcome != "ok" else None})
        store.finish_trajectory(tid, outcome=outcome, answer=None, scores=[("ssim", ssim, outcome == "ok", None)])
    store.set_status("finished")
    store.close()
    return path.parent


def test_snapshot_counts_against_the_plan(tmp_path: Path) -> None:
    store = RunStore.open_existing(_finished_run(tmp_path) / "run.sqlite", readonly=True)
    try:
        snap = snapshot(store)
    finally:
        store.close()
    (row,) = snap.rows
    assert (row.done, row.total, row.ok, row.success_rate) == (2, 3, 1, 50.0)
    assert row.metric == "ssim" and abs(row.value - 0.4) < 1e-9
    assert snap.ended and snap.failures[0]["reason"] == "OPENAI_API_KEY is not set"


def test_watch_on_a_finished_run_prints_its_final_state_and_exits(tmp_path: Path) -> None:
    run = _finished_run(tmp_path)
    done = subprocess.run([*CLI, "watch", str(run)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "run done: finished"
    assert "icon/img2svg  openai/gpt-4o: 2/3 done, SR 50.0%, SSIM 0.400" in done.stdout
    assert "model_error: OPENAI_API_KEY is not set" in done.stdout
    assert done.stdout.count("run done: finished") == 1  # printed once, not redrawn


def test_watch_on_a_terminal_draws_the_table(tmp_path: Path) -> None:
    run = _finished_run(tmp_path)
    child = pexpect.spawn(CLI[0], [*CLI[1:], "watch", str(run)], dimensions=(40, 160), timeout=60,
                          encoding="utf-8", env=tty_env())
    child.expect("run done: finished")
    child.expect("2/3")
    child.expect("OPENAI_API_KEY is not set")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_watch_follows_a_run_being_written_and_both_finish_cleanly(tmp_path: Path) -> None:
    store_path = tmp_path / "live" / "run.sqlite"
    writer = subprocess.Popen([*CLI, "run", "--task", "icon/*", "--limit", "2", "--out", str(tmp_path),
                               "--run-id", "live"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not store_path.exists() and writer.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store_path.exists(), "the writer never created its store"
        watcher = subprocess.run([*CLI, "watch", "live", "--out", str(tmp_path), "--timeout", "240"],
                                 capture_output=True, text=True, timeout=300)
        assert writer.wait(timeout=240) == 0, writer.stderr.read() if writer.stderr else ""
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    assert watcher.returncode == 0, watcher.stderr
    statuses = [ln for ln in watcher.stdout.splitlines() if ln.startswith("run live: ")]
    assert statuses[-1] == "run live: finished"
    assert "run live: running" in statuses  # it attached while the writer was still at work
    assert "icon/img2svg  baseline/vtracer: 2/2 done" in watcher.stdout  # totals from the runner's plan
    with sqlite3.connect(store_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT status FROM runs").fetchone()[0] == "finished"


def test_ctrl_c_stops_watching_a_run_that_is_still_going(tmp_path: Path) -> None:
    path = tmp_path / "going" / "run.sqlite"
    store = RunStore(path)
    store.init_run("going", {}, {})  # status 'running', and no writer will ever end it
    store.close()
    # Ctrl-C as at a terminal: SIGINT at its default in the child, whatever an earlier test left in this process
    # (a Python started with SIGINT ignored never raises KeyboardInterrupt).
    child = pexpect.spawn(CLI[0], [*CLI[1:], "watch", str(path.parent)], dimensions=(40, 160), timeout=60,
                          encoding="utf-8", env=tty_env(),
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    child.expect("run going: running")
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130


def test_watch_of_a_missing_run_is_one_error_line(tmp_path: Path) -> None:
    done = subprocess.run([*CLI, "watch", "nope", "--out", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error: nope: no such run") and len(done.stderr.strip().splitlines()) == 1


def test_timeout_exits_1_when_the_run_has_not_ended(tmp_path: Path) -> None:
    path = tmp_path / "stuck" / "run.sqlite"
    store = RunStore(path)
    store.init_run("stuck", {}, {})
    store.close()
    done = subprocess.run([*CLI, "watch", str(path), "--timeout", "1"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "run stuck: running" in done.stdout
    assert "had not ended after 1.0s" in done.stderr
