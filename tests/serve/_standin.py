"""Stand-ins for the GPU serving CLIs (``lmdeploy``, ``vllm``, ``nvidia-smi``), which cannot run here.

``install(bin_dir)`` writes executables with those names that run ``main`` below. They behave like
the real CLIs as far as ``svgarena serve`` can see: they parse the same arguments, start an
OpenAI-compatible HTTP server on 127.0.0.1 after a delay, answer ``/health`` (api_server, vLLM) or
``/nodes/status`` (the proxy), register with ``--proxy-url`` like LMDeploy's api_server, and the
proxy forwards chat requests to its nodes. They are steered by environment variables:

- ``STANDIN_LOG``: JSON lines file; every start appends ``{tool, argv, cuda, pid}``.
- ``STANDIN_DIR``: a file ``crash-<port>`` there makes the server on that port exit with code 3.
- ``STANDIN_DELAY``: seconds before the server listens (model loading).
- ``STANDIN_FAIL_START``: exit with code 1 and an error message instead of starting.
- ``STANDIN_GPUS``: the GPU indices nvidia-smi lists (default ``0,1``); ``STANDIN_NVSMI_FAIL`` makes it fail.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def install(bin_dir: Path, tools: tuple[str, ...] = ("lmdeploy", "vllm", "nvidia-smi")) -> Path:
    bin_dir.mkdir(parents=True, exist_ok=True)
    for tool in tools:
        exe = bin_dir / tool
        exe.write_text(f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(REPO)!r})\n"
                       f"from tests.serve._standin import main\nmain({tool!r}, sys.argv[1:])\n")
        exe.chmod(0o755)
    return bin_dir


def _log(tool: str, argv: list[str]) -> None:
    path = os.environ.get("STANDIN_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"tool": tool, "argv": argv, "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"),
                                "pid": os.getpid()}) + "\n")


def nvidia_smi(argv: list[str]) -> None:
    if os.environ.get("STANDIN_NVSMI_FAIL"):
        print("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.")
        sys.exit(9)
    for index in [g for g in os.environ.get("STANDIN_GPUS", "0,1").split(",") if g]:
        print(f"{index}, GPU-{int(index):08d}-standin")


class _State:
    def __init__(self, kind: str, port: int, models: list[str], label: str) -> None:
        self.kind, self.port, self.models, self.label = kind, port, models, label
        self.nodes: dict[str, dict[str, Any]] = {}
        self.turn = 0
        self.lock = threading.Lock()


def _handler(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt: str, *args: Any) -> None:
            sys.stdout.write(f"{state.label} {fmt % args}\n")
            sys.stdout.flush()

        def _json(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _models(self) -> list[str]:
            if state.kind == "proxy":
                with state.lock:
                    return sorted({m for n in state.nodes.values() for m in n.get("models", [])})
            return state.models

        def do_GET(self) -> None:  # noqa: N802
            path = self.path.rstrip("/")
            if path == "/health" and state.kind != "proxy":
                self._json(200, {"status": "ok"})
            elif path == "/nodes/status" and state.kind == "proxy":
                with state.lock:
                    self._json(200, dict(state.nodes))
            elif path == "/v1/models":
                self._json(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in self._models()]})
            else:
                self._json(404, {"detail": "Not Found"})

        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            path = self.path.rstrip("/")
            if path == "/nodes/add" and state.kind == "proxy":
                with state.lock:
                    state.nodes[body["url"]] = body.get("status") or {}
                self._json(200, "Added successfully")
            elif path == "/v1/chat/completions" and state.kind == "proxy":
                with state.lock:
                    urls = sorted(state.nodes)
                    state.turn += 1
                if not urls:
                    self._json(404, {"error": {"message": "no node serves this model"}})
                    return
                url = urls[state.turn % len(urls)]
                req = urllib.request.Request(url + "/v1/chat/completions", data=json.dumps(body).encode(),
                                             headers={"Content-Type": "application/json"}, method="POST")
                try:
                    with urllib.request.urlopen(req, timeout=30) as resp:
                        self._json(resp.status, json.loads(resp.read()))
                except OSError as exc:
                    self._json(502, {"error": {"message": f"node {url} failed: {exc}"}})
            elif path == "/v1/chat/completions":
                if body.get("model") not in state.models:
                    self._json(404, {"error": {"message": f"The model `{body.get('model')}` does not exist."}})
                    return
                self._json(200, {
                    "id": "chatcmpl-standin", "object": "chat.completion", "created": int(time.time()),
                    "model": body.get("model"),
                    "choices": [{"index": 0, "finish_reason": "stop", "message": {
                        "role": "assistant", "content": f"{state.label} on GPU {os.environ.get('CUDA_VISIBLE_DEVICES')}"}}],
                    "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
                })
            else:
                self._json(404, {"detail": "Not Found"})

    return Handler


def _serve(state: _State, host: str, proxy_url: str | None = None) -> None:
    crash = Path(os.environ.get("STANDIN_DIR", "/nonexistent")) / f"crash-{state.port}"
    signal.signal(signal.SIGTERM, lambda *_: (print(f"{state.label} got SIGTERM", flush=True), os._exit(0)))
    time.sleep(float(os.environ.get("STANDIN_DELAY", "0.3")))
    httpd = ThreadingHTTPServer((host, state.port), _handler(state))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    print(f"{state.label} listening on {host}:{state.port}", flush=True)
    if proxy_url:  # LMDeploy's api_server announces itself to its proxy once it is up
        data = json.dumps({"url": f"http://{host}:{state.port}", "status": {"models": state.models}}).encode()
        req = urllib.request.Request(proxy_url + "/nodes/add", data=data,
                                     headers={"Content-Type": "application/json"}, method="POST")
        urllib.request.urlopen(req, timeout=10).read()
    while True:
        if crash.exists():
            crash.unlink()
            print(f"{state.label} crashing as told", flush=True)
            os._exit(3)
        time.sleep(0.05)


def lmdeploy(argv: list[str]) -> None:
    if argv[:2] == ["serve", "proxy"]:
        p = argparse.ArgumentParser()
        p.add_argument("--server-name", default="0.0.0.0")
        p.add_argument("--server-port", type=int, default=8000)
        p.add_argument("--routing-strategy", choices=["random", "min_expected_latency", "min_observed_latency"])
        a = p.parse_args(argv[2:])
        _serve(_State("proxy", a.server_port, [], f"proxy:{a.server_port}"), a.server_name)
    elif argv[:2] == ["serve", "api_server"]:
        p = argparse.ArgumentParser()
        p.add_argument("model_path")
        for flag in ("--model-name", "--backend", "--tp", "--max-batch-size", "--session-len", "--chat-template",
                     "--server-name", "--server-port", "--log-level", "--proxy-url"):
            p.add_argument(flag)
        a = p.parse_args(argv[2:])
        assert a.backend in ("pytorch", "turbomind"), a.backend
        _serve(_State("api_server", int(a.server_port), [a.model_name or a.model_path], f"worker:{a.server_port}"),
               a.server_name, a.proxy_url)
    else:
        print(f"lmdeploy: unknown command {' '.join(argv[:2])}", file=sys.stderr)
        sys.exit(2)


def vllm(argv: list[str]) -> None:
    if argv[:1] != ["serve"]:
        print(f"vllm: unknown command {argv[:1]}", file=sys.stderr)
        sys.exit(2)
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("--served-model-name")
    p.add_argument("--trust-remote-code", action="store_true")
    p.add_argument("--max-model-len", type=int)
    p.add_argument("--data-parallel-size", type=int, default=1)
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument("--port", type=int, default=8000)
    a = p.parse_args(argv[1:])
    gpus = [g for g in (os.environ.get("CUDA_VISIBLE_DEVICES") or "").split(",") if g]
    if len(gpus) < a.data_parallel_size:
        print(f"vllm: data parallel size {a.data_parallel_size} needs that many GPUs, got {gpus}", file=sys.stderr)
        sys.exit(1)
    _serve(_State("vllm", a.port, [a.served_model_name or a.model], f"vllm:{a.port}"), a.host)


def main(tool: str, argv: list[str]) -> None:
    _log(tool, argv)
    if tool == "nvidia-smi":
        nvidia_smi(argv)
        return
    if os.environ.get("STANDIN_FAIL_START"):
        print(f"{tool}: CUDA error: out of memory (told to fail)", file=sys.stderr, flush=True)
        sys.exit(1)
    {"lmdeploy": lmdeploy, "vllm": vllm}[tool](argv)
