"""Whole runs (``svgarena run``) against the fault-injecting server: what a user of the model layer sees.

No sample is lost whatever the server does; retries are bounded and stored with each attempt;
permanent errors are not retried; a run redone in its folder is answered from its reply cache (the
server sees zero requests); ``--max-cost`` stops new calls and a resume with a higher cap
finishes; a planted API key is written nowhere; an unreachable or refused model fails only its
own samples, counted, while the other models go on.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests._fault_server import FaultServer
from tests._store import query as _rows
from tests.tasks._layout import record

pytestmark = pytest.mark.slow

KEY = "sk-planted-SECRET-7f3a9c1e5b0d"
N = 12
# What the server does to each sample (by its question), then it answers "B." (right: the target is B).
SCRIPT = {
    "Question 0:": ["429:0.3", "429:0.3", "ok"],
    "Question 1:": ["500", "503", "ok"],
    "Question 2:": ["truncated", "ok"],
    "Question 3:": ["hang", "ok"],
    "Question 4:": ["empty", "ok"],
    "Question 5:": ["nosvg"],
    "Question 6:": ["400"],
    "Question 7:": ["echo-auth"],
    "Question 8:": ["502", "502", "502", "502"],  # more than max retries: gives up
}
RETRIES = {"0": 2, "1": 2, "2": 1, "3": 1, "4": 1, "5": 0, "6": 0, "7": 0, "8": 2}


def _suite(root: Path, n: int = N) -> Path:
    un = root / "Icon" / "understanding"
    un.mkdir(parents=True)
    (un / "sarena_un.jsonl").write_text("\n".join(
        record(i, f"Question {i}: which shape? A. circle B. square C. star D. line", "B. square", Subject="Geometry")
        for i in range(n)) + "\n")
    return root


def _models_file(path: Path, entries: dict[str, str]) -> Path:
    path.write_text("models:\n" + "".join(f"  {name}: {body}\n" for name, body in entries.items()))
    return path


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    res = subprocess.run([sys.executable, "-m", "svgarena.cli", "run", *args], env=env, capture_output=True,
                         text=True, timeout=300)
    res.stderr = " ".join(res.stderr.split()) if res.returncode == 3 else res.stderr  # rich wraps long lines
    return res


def _everything_under(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


@pytest.mark.timeout(300)
def test_faults_lose_nothing_key_is_never_written_and_rerun_comes_from_cache(tmp_path: Path) -> None:
    suite = _suite(tmp_path / "suite")
    out = tmp_path / "runs"
    env = dict(os.environ, SVGARENA_PLANTED_KEY=KEY, SVGARENA_CONFIG_DIR=str(tmp_path / "config"))
    with FaultServer(lambda body: "B.", script={k: list(v) for k, v in SCRIPT.items()}, hang_s=10) as srv:
        models = _models_file(tmp_path / "models.yaml", {"faulty": (
            f'{{route: openai/test-model, api_base: "{srv.api_base}", api_key_env: SVGARENA_PLANTED_KEY, '
            "concurrency: 4, timeout_s: 1.5, price: {input: 2.0, output: 8.0}, "
            "retries: {max: 2, base_s: 0.02, cap_s: 0.1}}")})
        args = ["--suite", str(suite), "--model", "faulty", "--models-file", str(models), "--out", str(out),
                "--run-id", "r1", "--json"]
        res = _cli(args, env)
        assert res.returncode == 0, res.stderr
        db = out / "r1" / "run.sqlite"

        # No sample lost: every one finished, with exactly one attempt, and the outcome its faults call for.
        rows = _rows(db, "SELECT t.sample_id, t.status, a.outcome, a.retries, a.reason, a.reply FROM trajectories t "
                         "JOIN attempts a ON a.trajectory_id = t.id")
        assert sorted(int(r[0]) for r in rows) == list(range(N))
        by_id = {r[0]: r for r in rows}
        assert all(r[1] == "done" for r in rows)
        outcomes = {sid: r[2] for sid, r in by_id.items()}
        # The official choice rule (evaluate_un.py text[0]) scores any non-empty reply by its first
        # character: sample 5's prose reply is an answer ("I"), scored wrong, not a missing one.
        assert outcomes == {**{str(i): "ok" for i in range(N)}, "6": "model_error", "8": "model_error"}
        assert _rows(db, "SELECT a.answer FROM trajectories t JOIN attempts a ON a.trajectory_id = t.id "
                         "WHERE t.sample_id = '5'") == [("I",)]
        # Retries are bounded and recorded with each attempt.
        assert {sid: r[3] for sid, r in by_id.items() if sid in RETRIES} == RETRIES
        assert by_id["8"][4].startswith("gave up after 2 retries: ")
        # A permanent error is recorded with the provider's message and never retried.
        assert by_id["6"][4].startswith("permanent error, not retried: BadRequestError")
        assert "request refused (400)" in by_id["6"][4]
        assert srv.by_prompt["Question 6:"] == ["400"]
        assert srv.by_prompt["Question 8:"] == ["502", "502", "502"]
        # Each try is in the run's call ledger; tokens and cost are summed per model in the results.
        results = json.loads(res.stdout)
        (entry,) = results["results"]
        assert entry["usage"]["retries"] == sum(RETRIES.values())
        spend = results["spend"]["faulty"]
        assert spend["calls"] == srv.chat_requests and spend["retries"] == sum(RETRIES.values())
        assert spend["rate_limited"] == 2
        assert spend["cost_usd"] == pytest.approx(spend["input_tokens"] * 2e-6 + spend["output_tokens"] * 8e-6)
        assert entry["usage"]["cost_usd"] == pytest.approx(spend["cost_usd"])  # nothing paid outside the attempts

        # The planted key is written nowhere: not in the store, the ledger and cache, artifacts, or output.
        assert srv.headers[0]["authorization"] == f"Bearer {KEY}"  # it was really used
        assert "Bearer ***" in by_id["7"][5]  # a provider echoing it back gets it masked
        assert KEY.encode() not in _everything_under(out)
        assert KEY not in res.stdout + res.stderr

        # Redone in its folder, the run is answered from its reply cache: the server sees zero requests.
        for p in (out / "r1").glob("run.sqlite*"):
            p.unlink()
        requests_before = srv.chat_requests
        srv.script = {"Question 6:": ["ok"], "Question 8:": ["ok"]}  # the two failures may now succeed
        res2 = _cli(args, env)
        assert res2.returncode == 0, res2.stderr
        assert srv.chat_requests - requests_before == 2  # only the two that had failed (failures are not cached)
        again = {r[0]: r for r in _rows(db, "SELECT t.sample_id, t.status, a.outcome, a.retries, a.reason, a.reply "
                                            "FROM trajectories t JOIN attempts a ON a.trajectory_id = t.id")}
        assert {sid: again[sid][5] for sid in again if sid not in "68"} == \
            {sid: by_id[sid][5] for sid in by_id if sid not in "68"}
        for p in (out / "r1").glob("run.sqlite*"):
            p.unlink()
        requests_before = srv.chat_requests
        res3 = _cli(args, env)
        assert res3.returncode == 0, res3.stderr
        assert srv.chat_requests == requests_before  # everything succeeded once: zero requests now
        assert _rows(db, "SELECT count(*) FROM trajectories WHERE status='done'") == [(N,)]
        # --no-cache asks again.
        res4 = _cli([*args[:-3], "--run-id", "r2", "--no-cache", "--json"], env)
        assert res4.returncode == 0, res4.stderr
        assert srv.chat_requests == requests_before + N
        assert KEY.encode() not in _everything_under(out)
        assert all(KEY not in r.stdout + r.stderr for r in (res2, res3, res4))


@pytest.mark.timeout(300)
def test_budget_cap_stops_the_run_and_a_higher_cap_finishes_it(tmp_path: Path) -> None:
    suite = _suite(tmp_path / "suite", n=10)
    out = tmp_path / "runs"
    env = dict(os.environ, SVGARENA_CONFIG_DIR=str(tmp_path / "config"))
    with FaultServer(lambda body: "B.", usage=(1000, 500)) as srv:
        # 1000 input + 500 output tokens at 100 / 200 USD per million: 0.20 USD per call.
        models = _models_file(tmp_path / "models.yaml", {"pricey": (
            f'{{route: openai/test-model, api_base: "{srv.api_base}", concurrency: 1, '
            "price: {input: 100, output: 200}}")})
        base = ["--suite", str(suite), "--model", "pricey", "--models-file", str(models), "--out", str(out)]
        res = _cli([*base, "--run-id", "b1", "--max-cost", "0.9"], env)
        assert res.returncode == 3, (res.returncode, res.stderr)
        assert "stopped: the run reached --max-cost 0.9 USD (spent 1.0000 USD)" in res.stderr
        assert "svgarena run --resume b1" in res.stderr and "--max-cost <higher>" in res.stderr
        assert srv.chat_requests == 5  # the call that crossed the cap finished; no new one started
        db = out / "b1" / "run.sqlite"
        assert _rows(db, "SELECT status FROM runs") == [("stopped",)]
        assert _rows(db, "SELECT count(*) FROM trajectories WHERE status='done'") == [(5,)]
        assert any("stopped: the run reached --max-cost" in n[0] for n in _rows(db, "SELECT text FROM notes"))

        # Resumed with the same cap it stops at once; with a higher cap it finishes, paying for nothing twice.
        same = _cli(["--resume", "b1", "--out", str(out)], env)
        assert same.returncode == 3 and srv.chat_requests == 5
        more = _cli(["--resume", "b1", "--out", str(out), "--max-cost", "5", "--json"], env)
        assert more.returncode == 0, more.stderr
        assert srv.chat_requests == 10
        assert _rows(db, "SELECT count(*) FROM trajectories WHERE status='done'") == [(10,)]
        assert _rows(db, "SELECT status FROM runs") == [("finished",)]
        assert json.loads(more.stdout)["spend"]["pricey"]["cost_usd"] == pytest.approx(2.0)

        # The token cap works the same way (in-process here: 1500 tokens a call, cap 4000: three calls).
        from svgarena.harness import RunConfig, execute

        config = RunConfig(suite=str(suite), models=["pricey"], models_file=str(models), out=str(out), run_id="b2",
                           max_tokens=4000)
        summary = asyncio.run(execute(config))
        assert summary.stopped and "--max-tokens 4000 tokens" in summary.stopped
        assert srv.chat_requests == 13


@pytest.mark.timeout(300)
def test_an_unreachable_or_refused_model_fails_alone(tmp_path: Path) -> None:
    from svgarena.harness import RunConfig, execute, load_results

    suite = _suite(tmp_path / "suite", n=8)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    os.environ["SVGARENA_TEST_WRONG_KEY"] = "sk-wrong-0123456789abcdef"
    try:
        with FaultServer(lambda body: "B.") as good, FaultServer(storm={"401": 1.0}) as refusing:
            models = _models_file(tmp_path / "models.yaml", {
                "good": f'{{route: openai/test-model, api_base: "{good.api_base}", concurrency: 2}}',
                "down": (f'{{route: openai/test-model, api_base: "http://127.0.0.1:{closed}/v1", concurrency: 2, '
                         "retries: {max: 2, base_s: 0.01, cap_s: 0.05}}"),
                "wrongkey": (f'{{route: openai/test-model, api_base: "{refusing.api_base}", concurrency: 1, '
                             "api_key_env: SVGARENA_TEST_WRONG_KEY}"),
            })
            config = RunConfig(suite=str(suite), models=["good", "down", "wrongkey"], models_file=str(models),
                               out=str(tmp_path / "runs"), run_id="u1", preflight=False)
            summary = asyncio.run(execute(config))
            assert refusing.chat_requests == 1  # refused once, then never asked again
            assert good.chat_requests == 8
    finally:
        del os.environ["SVGARENA_TEST_WRONG_KEY"]
    results = {r["model"]: r for r in load_results(summary.run_dir)["results"]}
    assert results["good"]["n_ok"] == 8 and results["good"]["failures"] == {}
    for name in ("down", "wrongkey"):
        assert results[name]["n"] == 8 and results[name]["failures"] == {"model_error": 8}
    reasons = dict(_rows(summary.run_dir / "run.sqlite",
                         "SELECT t.model || '/' || t.sample_id, a.reason FROM attempts a "
                         "JOIN trajectories t ON t.id = a.trajectory_id"))
    down = [v for k, v in reasons.items() if k.startswith("down/")]
    assert sum(r.startswith("gave up after 2 retries: ") for r in down) >= 3
    assert all(r.startswith(("gave up after", "not called: down is unreachable")) for r in down)
    wrong = [v for k, v in reasons.items() if k.startswith("wrongkey/")]
    assert sum(r.startswith("permanent error, not retried: AuthenticationError") for r in wrong) == 1
    assert sum(r.startswith("not called: wrongkey is unusable: AuthenticationError") for r in wrong) == 7
    assert not any("sk-wrong-0123456789abcdef" in r for r in reasons.values())
