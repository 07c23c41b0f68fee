"""Preflight: a run with an unusable model stops before creating anything, with one line per model."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests._fault_server import FaultServer
from tests.agents.test_model_runs import _models_file, _suite


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_missing_key_and_dead_endpoint_stop_the_run_before_the_folder(tmp_path: Path, monkeypatch) -> None:
    from svgarena.harness import PreflightError, RunConfig, execute

    monkeypatch.delenv("SVGARENA_UNSET_KEY", raising=False)
    suite = _suite(tmp_path / "suite", n=2)
    models = _models_file(tmp_path / "models.yaml", {
        "nokey": '{route: openai/gpt-4o, api_key_env: SVGARENA_UNSET_KEY}',
        "down": f'{{route: openai/m, api_base: "http://127.0.0.1:{_closed_port()}/v1"}}',
    })
    config = RunConfig(suite=str(suite), models=["nokey", "down"], models_file=str(models),
                       out=str(tmp_path / "runs"), run_id="p1")
    with pytest.raises(PreflightError) as err:
        asyncio.run(execute(config))
    assert err.value.problems["nokey"] == "SVGARENA_UNSET_KEY is not set"
    assert "does not answer" in err.value.problems["down"]
    assert not (tmp_path / "runs" / "p1").exists()


def test_skip_unavailable_runs_the_others_and_notes_the_skip(tmp_path: Path) -> None:
    from svgarena.harness import RunConfig, RunStore, execute, load_results

    suite = _suite(tmp_path / "suite", n=3)
    with FaultServer(lambda body: "B.") as good, FaultServer(lambda body: "B.", models=["other-a", "other-b"]) as wrong:
        models = _models_file(tmp_path / "models.yaml", {
            "good": f'{{route: openai/test-model, api_base: "{good.api_base}"}}',
            "wrong": f'{{route: openai/test-model, api_base: "{wrong.api_base}"}}',
        })
        config = RunConfig(suite=str(suite), models=["good", "wrong"], models_file=str(models),
                           out=str(tmp_path / "runs"), run_id="p2", skip_unavailable=True)
        summary = asyncio.run(execute(config))
        assert wrong.chat_requests == 0 and good.chat_requests == 3
    assert [r["model"] for r in load_results(summary.run_dir)["results"]] == ["good"]
    store = RunStore.open_existing(summary.run_dir / "run.sqlite", readonly=True)
    try:
        notes = [n for n in store.notes() if n["model"] == "wrong"]
    finally:
        store.close()
    assert len(notes) == 1 and "serves other-a, other-b, not test-model" in notes[0]["text"]


def test_bare_routes_without_keys_are_named_by_litellm(monkeypatch) -> None:
    from svgarena.agents import get_model
    from svgarena.harness import preflight

    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    problems = preflight([get_model(r) for r in ("openai/gpt-4o", "anthropic/claude-sonnet-4-20250514",
                                                  "gemini/gemini-2.5-flash", "baseline/blank")])
    assert problems["openai/gpt-4o"] == "OPENAI_API_KEY is not set"
    assert problems["anthropic/claude-sonnet-4-20250514"] == "ANTHROPIC_API_KEY is not set"
    assert "GEMINI_API_KEY" in problems["gemini/gemini-2.5-flash"]
    assert "baseline/blank" not in problems


def test_cli_prints_one_line_per_model_and_exits_2(tmp_path: Path) -> None:
    suite = _suite(tmp_path / "suite", n=1)
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY",)}
    res = subprocess.run([sys.executable, "-m", "svgarena.cli", "run", "--suite", str(suite), "-m", "openai/gpt-4o",
                          "--out", str(tmp_path / "runs")], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stderr
    assert "openai/gpt-4o: OPENAI_API_KEY is not set" in res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
