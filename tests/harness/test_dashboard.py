"""The live dashboard of `svgarena run`: drawn from the store on a real pseudo-terminal during a real
run of the bundled suite, and a line log when stdout is not a terminal.

The run mixes the vtracer baseline, a priced model served by a real local fault-injecting server (its
first two requests get a 429 with Retry-After) and a model whose key is missing (--no-preflight), so
progress, a rate-limit wait, a failure reason and a cost all have something to show.
"""

from __future__ import annotations

import io
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from svgarena.harness import LineLog, RunStore, snapshot
from svgarena.harness._watch import Row, Snapshot
from tests._fault_server import FaultServer

CLI = [sys.executable, "-m", "svgarena.cli"]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _env() -> dict[str, str]:
    """No OpenAI key (so gpt-4o fails with a reason) and the terminal's own size (pytest sets COLUMNS=80)."""
    return {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "COLUMNS", "LINES")}


def _args(tmp_path: Path, srv: FaultServer, run_id: str) -> list[str]:
    models = tmp_path / "models.yaml"
    models.write_text(f'models:\n  faulty: {{route: openai/faulty, api_base: "{srv.api_base}", concurrency: 2, '
                      f'price: {{input: 1.0, output: 2.0}}}}\n')
    return ["run", "--task", "icon/img2svg", "--limit", "2", "--model", "baseline/vtracer", "--model", "faulty",
            "--model", "openai/gpt-4o", "--models-file", str(models), "--no-preflight", "--max-cost", "1",
            "--workers", "1", "--out", str(tmp_path / "runs"), "--run-id", run_id]


def _server() -> FaultServer:
    # Every img2svg prompt holds this text: the first two requests get a 429 with Retry-After 0.3 s.
    return FaultServer(script={"SVG": ["429:0.3", "429:0.3"]}, usage=(100, 50))


@pytest.mark.timeout(300)
def test_run_on_a_terminal_draws_progress_a_failure_reason_and_the_cost(tmp_path: Path) -> None:
    with _server() as srv:
        child = pexpect.spawn(CLI[0], [*CLI[1:], *_args(tmp_path, srv, "tty")], dimensions=(60, 220),
                              timeout=240, encoding="utf-8", env=_env())
        child.expect(pexpect.EOF)
        child.close()
    screen = ANSI.sub("", child.before)
    assert child.exitstatus == 0, screen[-3000:]
    assert "\x1b[1A" in child.before and "\x1b[2K" in child.before  # redrawn in place, not a scrolling log
    assert "run tty: running" in screen  # drawn while the run was going ...
    assert "run tty: finished" in screen  # ... and its final frame stays on the screen
    assert re.search(r"icon/img2svg\s*│\s*baseline/vtracer\s*│\s*2/2", screen)  # progress per task and model
    assert re.search(r"icon/img2svg\s*│\s*openai/gpt-4o\s*│\s*2/2\s*│\s*0\.0", screen)
    assert "last failures:" in screen and "OPENAI_API_KEY" in screen  # the failure's one-line reason
    assert "most common failure reasons:" in screen  # ... and the failures grouped by reason per task and model
    assert re.search(r"  icon/img2svg  openai/gpt-4o: 2 x model_error: [^\n]*(\n[^\n]*)?OPENAI_API_KEY", screen)
    assert "cost $0.0004 of $1 (--max-cost), tokens 300" in screen  # 2 answers x (100 in + 50 out), priced
    assert re.search(r"  faulty: 0 in flight, limit \d/2, [\d.]+ out tok/s, backoff \d+% of the last \d+s, "
                     r"4 calls, 2 retries, 2 x 429 \(2 Retry-After\)", screen)  # the 429 waits and retries
    assert "render pool (local): " in screen and "renders" in screen
    assert "usage per model" in screen  # the end-of-run tables follow the last frame


@pytest.mark.timeout(300)
def test_run_off_a_terminal_prints_a_line_log(tmp_path: Path) -> None:
    with _server() as srv:
        done = subprocess.run([*CLI, *_args(tmp_path, srv, "log")], capture_output=True, text=True, timeout=240,
                              env=_env())
    assert done.returncode == 0, done.stderr[-3000:]
    log = done.stderr
    assert "\x1b[" not in log  # plain lines, nothing redrawn
    assert "run log: finished" in log.splitlines()
    assert "  icon/img2svg  baseline/vtracer: 2/2 done, SR 100.0%" in log
    assert "  6/6 trajectories done" in log
    assert re.search(r"failed icon/img2svg openai/gpt-4o \d \(round 0\): model_error: .*OPENAI_API_KEY", log)
    assert len(re.findall(r"failed icon/img2svg openai/gpt-4o", log)) == 2  # each failure printed once
    assert "  most common failure reasons:" in log.splitlines()  # grouped per task and model, with the count
    assert re.search(r"^    icon/img2svg  openai/gpt-4o: 2 x model_error: .*OPENAI_API_KEY", log, re.M)
    assert re.search(r"  faulty: 0 in flight, limit \d/2, [\d.]+ out tok/s, backoff \d+% of the last \d+s, "
                     r"4 calls, 2 retries, 2 x 429 \(2 Retry-After\)", log)
    assert "  cost $0.0004 of $1 (--max-cost), tokens 300 (no --max-tokens)" in log
    assert re.search(r"  scoring pass: 6/6 samples scored in \d+:\d\d", log)  # the end-of-run pass, counted
    store = RunStore.open_existing(tmp_path / "runs" / "log" / "run.sqlite", readonly=True)
    try:
        snap = snapshot(store)
    finally:
        store.close()
    faulty = next(m for m in snap.models if m.name == "faulty")
    assert (faulty.calls, faulty.retries, faulty.rate_limited, faulty.in_flight) == (4, 2, 2, 0)
    assert snap.pool is not None and snap.pool.renders >= 4 and snap.pool.crashes == snap.pool.timeouts == 0
    with sqlite3.connect(tmp_path / "runs" / "log" / "run.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rescored = subprocess.run([*CLI, "score", "log", "--out", str(tmp_path / "runs"), "--metrics", "ssim"],
                              capture_output=True, text=True, timeout=240, env=_env())
    assert rescored.returncode == 0, rescored.stderr[-2000:]
    assert re.search(r"^scoring: 0/6 samples \(0%\), ", rescored.stderr, re.M)  # it says it started ...
    assert re.search(r"^scoring: 6/6 samples \(100%\), \d+:\d\d elapsed", rescored.stderr, re.M)  # ... and ended


def test_the_line_log_prints_changes_at_a_bounded_rate_and_each_failure_once() -> None:
    now = [0.0]
    out: list[str] = []
    log = LineLog(out.append, interval_s=5.0, clock=lambda: now[0])
    snap = Snapshot(run_id="r", status="running", rows=[Row("icon/img2svg", "m", done=0, total=2)])
    log.update(snap)
    assert out[0] == "run r: running" and len(out) == 3  # the block: status, row, overall progress
    snap.rows[0].done = 1
    snap.failures = [{"task": "icon/img2svg", "model": "m", "sample_id": "0", "round": 0, "outcome": "model_error",
                      "reason": "no key", "created": 1.0}]
    now[0] = 1.0
    log.update(snap)  # changed, but too soon for the block: only the new failure
    assert out[3:] == ["  failed icon/img2svg m 0 (round 0): model_error: no key"]
    now[0] = 6.0
    log.update(snap)
    assert out[4:6] == ["run r: running", "  icon/img2svg  m: 1/2 done, SR 0.0%"] and len(out) == 7
    log.update(snap)  # nothing changed: nothing printed
    snap.status = "finished"
    snap.rows[0].done = 2
    now[0] = 6.5
    log.update(snap)  # the end is always printed
    assert out[7] == "run r: finished" and out.count("  failed icon/img2svg m 0 (round 0): model_error: no key") == 1


def test_failure_reasons_are_grouped_capped_and_queried_only_when_a_trajectory_finished(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from svgarena.harness import TrajectoryKey, _watch

    store = RunStore(tmp_path / "run.sqlite")
    store.init_run("why", {}, {})

    def fail(model: str, sample: str, reason: str, outcome: str = "model_error") -> None:
        tid = store.start_trajectory(TrajectoryKey("icon/img2svg", model, "direct", sample))
        store.add_attempt(tid, {"round": 0, "outcome": outcome, "reason": reason})
        store.finish_trajectory(tid, outcome=outcome, answer=None, scores=[])

    fail("openai/gpt-4o", "0", "AuthenticationError: OPENAI_API_KEY is not set")
    fail("openai/gpt-4o", "1", "AuthenticationError:   OPENAI_API_KEY is not set")
    calls = []
    real = _watch.failure_reasons
    monkeypatch.setattr(_watch, "failure_reasons", lambda *a, **k: calls.append(1) or real(*a, **k))
    snap = snapshot(store)
    why = "AuthenticationError: OPENAI_API_KEY is not set"  # the two spellings count as one reason
    assert f"    icon/img2svg  openai/gpt-4o: 2 x model_error: {why}" in snap.lines()
    for _ in range(3):  # frames where nothing finished: no new query
        assert snapshot(store).reasons == snap.reasons
    assert len(calls) == 1
    for i, model in enumerate(("a", "b", "c", "d")):  # more groups than the cap
        fail(model, str(i), f"reason {model}", "no_svg")
    snap = snapshot(store)
    store.close()
    assert len(calls) == 2
    lines = snap.reason_lines()
    assert len(lines) == _watch.REASON_LINES and lines[0].startswith("icon/img2svg  openai/gpt-4o: 2 x ")
    assert lines[-1] == "... 2 more (svgarena report why)"


def test_a_refine_run_shows_how_many_trajectories_are_at_each_round(tmp_path: Path) -> None:
    from svgarena.harness import TrajectoryKey

    store = RunStore(tmp_path / "run.sqlite")
    store.init_run("refine", {"solver": "refine"}, {})
    done = store.start_trajectory(TrajectoryKey("icon/img2svg", "m", "refine", "0"))
    for r in (0, 1):
        store.add_attempt(done, {"round": r, "outcome": "ok"})
    store.finish_trajectory(done, outcome="ok", answer=None, scores=[])
    for sample, rounds in (("1", 1), ("2", 1), ("3", 2)):  # still going: at round 1, 1 and 2
        tid = store.start_trajectory(TrajectoryKey("icon/img2svg", "m", "refine", sample))
        for r in range(rounds):
            store.add_attempt(tid, {"round": r, "outcome": "ok"})
    snap = snapshot(store)
    store.close()
    assert snap.running_rounds == {1: 2, 2: 1} and snap.finished_rounds == {2: 1}
    assert "  trajectories at round 1: 2, round 2: 1; finished after 2 rounds: 1" in snap.lines()


def test_call_stats_give_throughput_and_the_share_of_time_backing_off() -> None:
    from svgarena.agents._callstats import CallStats

    now = [100.0]
    stats = CallStats(window_s=10.0, clock=lambda: now[0])
    now[0] = 110.0
    stats.call_done(2.0, 40, error=True, rate_limited=True, retry_after=True, retry=False)
    token = stats.backoff_begin()
    now[0] = 116.0
    stats.backoff_end(token)  # 6 s asleep
    stats.call_done(2.0, 60, error=False, rate_limited=False, retry_after=False, retry=True)
    view = stats.view()
    assert view["out_tok_s"] == pytest.approx(10.0)  # 100 tokens over the 10 s window
    assert view["backoff_share"] == pytest.approx(6.0 / 10.0)  # 6 s of backoff against 4 s of calls
    assert (view["calls"], view["retries"], view["rate_limited"], view["retry_after"]) == (2, 1, 1, 1)
    now[0] = 130.0  # everything has left the window
    assert stats.view()["out_tok_s"] == 0.0 and stats.view()["backoff_share"] == 0.0


def test_the_heartbeat_is_written_at_a_bounded_rate_not_per_call(tmp_path: Path) -> None:
    import asyncio
    import time

    from svgarena.harness._live import LivePublisher

    store = RunStore(tmp_path / "run.sqlite")
    store.init_run("hb", {}, {})

    async def go() -> tuple[int, float]:
        live = LivePublisher(store, models={}, budget=None, renderer=None, max_cost_usd=2.0, max_tokens=None,
                             period_s=0.2)
        t = time.monotonic()
        live.start()
        await asyncio.sleep(1.0)
        await live.stop()
        return live.writes, time.monotonic() - t

    writes, took = asyncio.run(go())
    assert 2 <= writes <= took / 0.2 + 2  # one per period (plus the final one), however busy the run is
    snap = snapshot(store)
    store.close()
    assert snap.spend is not None and snap.spend.max_cost_usd == 2.0 and snap.spend.cost_usd == 0.0


def test_step_progress_logs_counts_and_time_left_at_a_bounded_rate() -> None:
    from svgarena.harness import StepProgress

    now = [0.0]
    out: list[str] = []
    with StepProgress("scoring", unit="samples", live=False, emit=out.append, every_s=10.0,
                      clock=lambda: now[0]) as bar:
        bar(0, 8, "")
        now[0] = 4.0
        bar(2, 8, "icon/img2svg m")  # too soon after the first line: not printed
        now[0] = 12.0
        bar(4, 8, "icon/img2svg m")
    assert out == ["scoring: 0/8 samples (0%), 0:00 elapsed",
                   "scoring: 4/8 samples (50%), 0:12 elapsed, about 0:12 left [icon/img2svg m]",
                   "scoring: 4/8 samples (50%), 0:12 elapsed, about 0:12 left [icon/img2svg m]"]


def test_step_progress_on_a_terminal_is_a_bar() -> None:
    from rich.console import Console

    from svgarena.harness import StepProgress

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=120)
    with StepProgress("weights vgg16", total=5e6, unit="B", console=console) as bar:
        bar(2.5e6)
    assert bar.live and "weights vgg16" in buf.getvalue() and "2500000 B" in ANSI.sub("", buf.getvalue())


def test_time_left_counts_only_this_invocations_pace_on_a_resume() -> None:
    snap = Snapshot(run_id="r", status="running", rows=[Row("icon/img2svg", "m", done=6, total=10)],
                    elapsed_s=20.0, done_before=2)  # 4 done in 20 s by this invocation, 4 to go
    assert snap.left_s == pytest.approx(20.0)
    assert snap.progress_line() == "  6/10 trajectories done, 0:20 elapsed, about 0:20 left"
    snap.done_before = 6  # nothing done yet by this invocation: no pace to go by
    assert snap.left_s is None
