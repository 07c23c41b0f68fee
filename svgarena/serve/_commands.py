"""The exact command lines of the servers: LMDeploy (one api_server per GPU, a proxy in front of
several), vLLM (one server, data parallel across the GPUs) and llama-cpp-python (a GGUF file).

LMDeploy's flags follow InternSVG's published deployment script (InternVL2.5 chat template,
session length 16384, PyTorch backend, tensor parallel 1, batch size 512, one worker per GPU
registered with ``lmdeploy serve proxy`` using the min_expected_latency routing).
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from svgarena.serve._gpus import ServeError

SESSION_LEN = 16384
INTERNSVG_NAME = "internsvg-8b"
INTERNSVG_PORT = 23333  # LMDeploy's default port; the built-in internsvg-8b entry points here
GGUF_PORT = 8090  # the built-in smollm2 entry points here


@dataclass
class ServerCommand:
    """One server process: its argv, extra environment, where it listens and how to tell it is ready."""

    name: str
    argv: list[str]
    port: int
    host: str = "127.0.0.1"
    env: dict[str, str] = field(default_factory=dict)
    health_path: str = "/health"
    ready_model: str | None = None  # readiness also needs GET /v1/models to list this name
    role: str = "server"  # "server", "worker" (behind a proxy) or "proxy"

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"


def require_executable(name: str, hint: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        raise ServeError(f"{name} is not installed (no {name} on PATH); {hint}")
    return exe


def lmdeploy_commands(model_path: str, gpus: list[str], port: int = INTERNSVG_PORT, host: str = "127.0.0.1",
                      model_name: str = INTERNSVG_NAME, exe: str = "lmdeploy") -> list[ServerCommand]:
    """One ``lmdeploy serve api_server`` per GPU; with several GPUs they sit behind ``lmdeploy serve proxy`` on ``port``."""
    proxied = len(gpus) > 1
    commands: list[ServerCommand] = []
    if proxied:
        commands.append(ServerCommand(
            name="proxy", port=port, host=host, role="proxy", health_path="/nodes/status", ready_model=model_name,
            argv=[exe, "serve", "proxy", "--server-name", host, "--server-port", str(port),
                  "--routing-strategy", "min_expected_latency"]))
    for i, gpu in enumerate(gpus):
        worker_port = port + 1 + i if proxied else port
        argv = [exe, "serve", "api_server", model_path, "--model-name", model_name, "--backend", "pytorch",
                "--tp", "1", "--max-batch-size", "512", "--session-len", str(SESSION_LEN),
                "--chat-template", "internvl2_5", "--server-name", host, "--server-port", str(worker_port),
                "--log-level", "WARNING"]
        if proxied:
            argv += ["--proxy-url", commands[0].base_url]
        commands.append(ServerCommand(name=f"worker-gpu{gpu}" if proxied else "server", argv=argv, port=worker_port,
                                      host=host, env={"CUDA_VISIBLE_DEVICES": gpu}, ready_model=model_name,
                                      role="worker" if proxied else "server"))
    return commands


def vllm_commands(model_path: str, gpus: list[str], port: int = INTERNSVG_PORT, host: str = "127.0.0.1",
                  model_name: str = INTERNSVG_NAME, exe: str = "vllm") -> list[ServerCommand]:
    """One ``vllm serve`` with data parallelism across the GPUs (vLLM balances requests between its replicas)."""
    argv = [exe, "serve", model_path, "--served-model-name", model_name, "--trust-remote-code",
            "--max-model-len", str(SESSION_LEN), "--data-parallel-size", str(len(gpus)),
            "--host", host, "--port", str(port)]
    return [ServerCommand(name="server", argv=argv, port=port, host=host, env={"CUDA_VISIBLE_DEVICES": ",".join(gpus)},
                          ready_model=model_name)]


def gguf_command(model_path: str, port: int = GGUF_PORT, host: str = "127.0.0.1", model_name: str = "smollm2",
                 n_ctx: int = 8192, threads: int | None = None, python: str | None = None) -> ServerCommand:
    """llama-cpp-python's OpenAI-compatible server for one GGUF file, answering to ``model_name``."""
    argv = [python or sys.executable, "-m", "llama_cpp.server", "--model", model_path, "--model_alias", model_name,
            "--host", host, "--port", str(port), "--n_ctx", str(n_ctx)]
    if threads:
        argv += ["--n_threads", str(threads)]
    return ServerCommand(name="gguf", argv=argv, port=port, host=host, health_path="/v1/models",
                         ready_model=model_name)


def internsvg_commands(model_path: str, backend: str, gpus: list[str], port: int, host: str,
                       model_name: str) -> list[ServerCommand]:
    """The commands for ``svgarena serve internsvg``, after checking the backend is installed."""
    if backend == "lmdeploy":
        exe = require_executable("lmdeploy", "install it with pip install lmdeploy (on a CUDA machine), or use --backend vllm")
        return lmdeploy_commands(model_path, gpus, port, host, model_name, exe=Path(exe).name)
    if backend == "vllm":
        exe = require_executable("vllm", "install it with pip install vllm (on a CUDA machine), or use --backend lmdeploy")
        return vllm_commands(model_path, gpus, port, host, model_name, exe=Path(exe).name)
    raise ServeError(f"unknown backend {backend!r}; use lmdeploy or vllm")


def require_llama_cpp_server() -> None:
    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llama_cpp.server") is None:
        raise ServeError("llama-cpp-python with its server extra is not installed; build it with `make gguf` "
                         "(scripts/setup.sh --gguf: builds llama-cpp-python[server] for this CPU, minutes)")
    for module in ("uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings"):
        if importlib.util.find_spec(module) is None:
            raise ServeError(f"llama-cpp-python's server extra is incomplete ({module} missing); "
                             "pip install 'llama-cpp-python[server]'")
