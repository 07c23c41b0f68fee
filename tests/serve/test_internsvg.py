"""``svgarena serve internsvg`` against stand-in ``lmdeploy``/``vllm``/``nvidia-smi`` executables on PATH.

The stand-ins (tests/serve/_standin.py) start real HTTP servers after a delay, register with the
LMDeploy proxy like the real api_server does, and crash when told; the test drives the real
command line in a subprocess and checks readiness, proxy wiring, restarts, clean shutdown, the
endpoint registration and the exact command lines.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from svgarena.serve import lmdeploy_commands, vllm_commands
from tests.serve._proc import ServeProcess, free_ports, pid_alive
from tests.serve._standin import install

LMDEPLOY_WORKER = ["serve", "api_server", "{model}", "--model-name", "internsvg-8b", "--backend", "pytorch",
                   "--tp", "1", "--max-batch-size", "512", "--session-len", "16384", "--chat-template", "internvl2_5",
                   "--server-name", "127.0.0.1", "--server-port", "{port}", "--log-level", "WARNING"]


@pytest.fixture()
def env(tmp_path: Path) -> dict[str, str]:
    """PATH with the stand-ins first (and no real GPU tools), a private config folder, a record of starts."""
    bin_dir = install(tmp_path / "bin")
    (tmp_path / "standin").mkdir()
    return dict(os.environ, PATH=f"{bin_dir}:/usr/bin:/bin", SVGARENA_CONFIG_DIR=str(tmp_path / "config"),
                STANDIN_LOG=str(tmp_path / "starts.jsonl"), STANDIN_DIR=str(tmp_path / "standin"),
                STANDIN_DELAY="0.8", STANDIN_GPUS="0,1,2", PYTHONPATH=str(Path(__file__).resolve().parents[2]))


def _starts(tmp_path: Path) -> list[dict]:
    path = tmp_path / "starts.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _served(tmp_path: Path) -> dict:
    path = tmp_path / "config" / "served.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _chat(port: int) -> str:
    import urllib.request

    body = json.dumps({"model": "internsvg-8b", "messages": [{"role": "user", "content": "hi"}]}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", data=body,
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())["choices"][0]["message"]["content"]


def test_exact_command_lines() -> None:
    cmds = lmdeploy_commands("/models/InternSVG-8B", ["0", "1"], port=10010)
    assert [c.name for c in cmds] == ["proxy", "worker-gpu0", "worker-gpu1"]
    assert cmds[0].argv == ["lmdeploy", "serve", "proxy", "--server-name", "127.0.0.1", "--server-port", "10010",
                            "--routing-strategy", "min_expected_latency"]
    for i, cmd in enumerate(cmds[1:]):
        expected = [a.format(model="/models/InternSVG-8B", port=10011 + i) for a in LMDEPLOY_WORKER]
        assert cmd.argv == ["lmdeploy", *expected, "--proxy-url", "http://127.0.0.1:10010"]
        assert cmd.env == {"CUDA_VISIBLE_DEVICES": str(i)}
    (single,) = lmdeploy_commands("/m", ["3"], port=23333)
    assert single.argv == ["lmdeploy", *[a.format(model="/m", port=23333) for a in LMDEPLOY_WORKER]]
    assert single.env == {"CUDA_VISIBLE_DEVICES": "3"} and single.health_path == "/health"

    (v,) = vllm_commands("/models/InternSVG-8B", ["0", "1", "2"], port=8000)
    assert v.argv == ["vllm", "serve", "/models/InternSVG-8B", "--served-model-name", "internsvg-8b",
                      "--trust-remote-code", "--max-model-len", "16384", "--data-parallel-size", "3",
                      "--host", "127.0.0.1", "--port", "8000"]
    assert v.env == {"CUDA_VISIBLE_DEVICES": "0,1,2"} and v.health_path == "/health"


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_lmdeploy_proxy_readiness_restart_and_shutdown(tmp_path: Path, env: dict[str, str]) -> None:
    port = free_ports(3)
    model_dir = tmp_path / "InternSVG-8B"
    model_dir.mkdir()
    args = ["internsvg", "--model-path", str(model_dir), "--gpus", "0,2", "--port", str(port),
            "--log-dir", str(tmp_path / "logs"), "--ready-timeout", "60"]
    with ServeProcess(args, env) as serve:
        started = time.monotonic()
        serve.wait_for("serving internsvg-8b", timeout=90)
        # Readiness came from the health endpoints, after the stand-ins' start-up delay, not a guess.
        assert time.monotonic() - started >= 0.8 * 2
        starts = _starts(tmp_path)
        proxy = [s for s in starts if s["argv"][:2] == ["serve", "proxy"]]
        workers = [s for s in starts if s["argv"][:2] == ["serve", "api_server"]]
        assert len(proxy) == 1 and len(workers) == 2
        assert proxy[0]["argv"] == ["serve", "proxy", "--server-name", "127.0.0.1", "--server-port", str(port),
                                    "--routing-strategy", "min_expected_latency"]
        by_gpu = {w["cuda"]: w for w in workers}
        assert sorted(by_gpu) == ["0", "2"]  # one server per chosen GPU, each seeing only its own
        for i, gpu in enumerate(["0", "2"]):
            expected = [a.format(model=str(model_dir), port=port + 1 + i) for a in LMDEPLOY_WORKER]
            assert by_gpu[gpu]["argv"] == [*expected, "--proxy-url", f"http://127.0.0.1:{port}"]

        # The endpoint is registered under internsvg-8b, at the proxy, for as long as serve runs.
        served = _served(tmp_path)
        assert served["internsvg-8b"]["api_base"] == f"http://127.0.0.1:{port}/v1"
        check = subprocess.run([sys.executable, "-m", "svgarena.cli", "models", "check", "internsvg-8b"], env=env,
                               capture_output=True, text=True, timeout=120)
        assert check.returncode == 0, check.stderr
        assert "internsvg-8b: ok (with an image)" in check.stdout

        # Proxy wiring: requests to the one endpoint reach both workers.
        answers = {_chat(port) for _ in range(4)}
        assert answers == {f"worker:{port + 1} on GPU 0", f"worker:{port + 2} on GPU 2"}

        # A crashed worker is restarted with the same command line and rejoins the proxy.
        (tmp_path / "standin" / f"crash-{port + 2}").touch()
        serve.wait_for("worker-gpu2 exited with code 3; restarting it", timeout=30)
        serve.wait_for(f"worker-gpu2 ready at http://127.0.0.1:{port + 2}", timeout=30)
        restarted = [s for s in _starts(tmp_path) if s["cuda"] == "2"]
        assert len(restarted) == 2 and restarted[0]["argv"] == restarted[1]["argv"]
        assert {_chat(port) for _ in range(4)} == answers

        # A crashed proxy is restarted and the living workers are registered with it again.
        (tmp_path / "standin" / f"crash-{port}").touch()
        serve.wait_for("proxy exited with code 3; restarting it", timeout=30)
        serve.wait_for(f"proxy ready at http://127.0.0.1:{port}", timeout=30)
        assert {_chat(port) for _ in range(4)} == answers

        # Ctrl-C stops every server and unregisters the endpoint.
        pids = [s["pid"] for s in _starts(tmp_path)]
        assert serve.stop(signal.SIGINT) == 0
        assert "stopping servers" in "\n".join(serve.lines)
    deadline = time.monotonic() + 10
    while any(pid_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in pids if pid_alive(p)], "a server outlived svgarena serve"
    assert "internsvg-8b" not in _served(tmp_path)
    logs = sorted(p.name for p in (tmp_path / "logs").iterdir())
    assert logs == ["proxy.log", "worker-gpu0.log", "worker-gpu2.log"]
    assert "got SIGTERM" in (tmp_path / "logs" / "worker-gpu0.log").read_text()


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_vllm_data_parallel_on_all_visible_gpus(tmp_path: Path, env: dict[str, str]) -> None:
    port = free_ports(1)
    env = dict(env, CUDA_VISIBLE_DEVICES="2,0")  # the user's mask decides which GPUs are visible, in its order
    args = ["internsvg", "--model-path", "InternSVG/InternSVG-8B", "--backend", "vllm", "--port", str(port),
            "--log-dir", str(tmp_path / "logs")]
    with ServeProcess(args, env) as serve:
        serve.wait_for("serving internsvg-8b", timeout=90)
        (start,) = [s for s in _starts(tmp_path) if s["tool"] == "vllm"]
        assert start["argv"] == ["serve", "InternSVG/InternSVG-8B", "--served-model-name", "internsvg-8b",
                                 "--trust-remote-code", "--max-model-len", "16384", "--data-parallel-size", "2",
                                 "--host", "127.0.0.1", "--port", str(port)]
        assert start["cuda"] == "2,0"
        assert _chat(port) == f"vllm:{port} on GPU 2,0"
        (tmp_path / "standin" / f"crash-{port}").touch()
        serve.wait_for("server exited with code 3; restarting it", timeout=30)
        serve.wait_for("server ready", timeout=30)
        assert _chat(port) == f"vllm:{port} on GPU 2,0"
        assert serve.stop(signal.SIGTERM) == 0
    assert all(not pid_alive(s["pid"]) for s in _starts(tmp_path) if s["tool"] == "vllm")
    assert _served(tmp_path) == {}


def _fails(args: list[str], env: dict[str, str]) -> str:
    res = subprocess.run([sys.executable, "-m", "svgarena.cli", "serve", *args], env=env, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and "Traceback" not in res.stderr, res.stderr  # one clear line
    assert sum(line.startswith("error: ") for line in lines) == 1
    return lines[-1]


@pytest.mark.timeout(120)
def test_clear_errors(tmp_path: Path, env: dict[str, str]) -> None:
    model = tmp_path / "m"
    model.mkdir()
    base = ["internsvg", "--model-path", str(model), "--port", str(free_ports(3)), "--log-dir", str(tmp_path / "l")]
    no_lmdeploy = dict(env, PATH=f"{install(tmp_path / 'only-smi', ('nvidia-smi',))}:/usr/bin:/bin")
    assert "lmdeploy is not installed" in _fails(base, no_lmdeploy)
    assert "vllm is not installed" in _fails([*base, "--backend", "vllm"], no_lmdeploy)
    no_smi = dict(env, PATH=f"{install(tmp_path / 'only-lmdeploy', ('lmdeploy',))}:/usr/bin:/bin")
    assert "no GPU visible: nvidia-smi is not on PATH" in _fails(base, no_smi)
    assert "no GPU visible: nvidia-smi failed" in _fails(base, dict(env, STANDIN_NVSMI_FAIL="1"))
    assert "hides every GPU" in _fails(base, dict(env, CUDA_VISIBLE_DEVICES=""))
    assert "GPU 7 not visible" in _fails([*base, "--gpus", "0,7"], env)
    assert "does not exist" in _fails(["internsvg", "--model-path", str(tmp_path / "nope")], env)
    assert "unknown backend" in _fails([*base, "--backend", "tgi"], env)
    # A server that dies while loading: the error names it and quotes its log.
    line = _fails(base, dict(env, STANDIN_FAIL_START="1"))
    assert "exited with code 1 before it was ready" in line and "out of memory" in line
    # One that never answers its health check: a bounded wait, then an error.
    line = _fails([*base, "--ready-timeout", "2"], dict(env, STANDIN_DELAY="60"))
    assert "not ready after 2 s" in line
    assert not [s for s in _starts(tmp_path) if s["tool"] != "nvidia-smi" and pid_alive(s["pid"])]
    assert _served(tmp_path) == {}
