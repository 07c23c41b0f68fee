"""Local model servers: InternSVG-8B on LMDeploy or vLLM (one per GPU), and GGUF models on llama-cpp-python.

``serve`` stands apart from the rest of svgarena: it only starts OpenAI-compatible endpoints and
registers them under a short model name, so that ``svgarena run --model internsvg-8b`` (or
``smollm2``) reaches them through LiteLLM like any other provider.
"""

from svgarena.serve._commands import (
    GGUF_PORT,
    INTERNSVG_NAME,
    INTERNSVG_PORT,
    SESSION_LEN,
    ServerCommand,
    gguf_command,
    internsvg_commands,
    lmdeploy_commands,
    vllm_commands,
)
from svgarena.serve._gpus import ServeError, pick_gpus, visible_gpus
from svgarena.serve._serve import default_gguf, run_supervised, serve_gguf, serve_internsvg
from svgarena.serve._supervisor import Supervisor, is_ready

__all__ = [
    "GGUF_PORT",
    "INTERNSVG_NAME",
    "INTERNSVG_PORT",
    "SESSION_LEN",
    "ServeError",
    "ServerCommand",
    "Supervisor",
    "default_gguf",
    "gguf_command",
    "internsvg_commands",
    "is_ready",
    "lmdeploy_commands",
    "pick_gpus",
    "run_supervised",
    "serve_gguf",
    "serve_internsvg",
    "visible_gpus",
    "vllm_commands",
]
