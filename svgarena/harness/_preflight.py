"""Preflight: check every routed model can be called before a run folder is created, without spending money.

A model is unavailable when its key variable is unset (the registry's ``api_key_env``, or for a bare
LiteLLM route the variables LiteLLM's provider metadata names), or when its local endpoint
(``api_base`` on 127.0.0.1/localhost) does not answer ``/health`` or ``/v1/models`` within a couple
of seconds, or answers but lists other models. Remote endpoints are never contacted here.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0"})


class PreflightError(ValueError):
    """One or more models cannot be called; ``problems`` maps model name to the reason."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        lines = "\n".join(f"{name}: {why}" for name, why in problems.items())
        super().__init__(f"{lines}\n(--skip-unavailable runs the other models; --no-preflight skips this check)")


def is_local(api_base: str | None) -> bool:
    return bool(api_base) and (urlsplit(api_base).hostname or "") in _LOCAL_HOSTS


def _get(url: str, timeout_s: float) -> tuple[int, Any]:
    """Status and JSON body (None when not JSON) of one GET; raises OSError when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310 (local endpoint only)
            status, raw = resp.status, resp.read(1 << 20)
    except urllib.error.HTTPError as exc:
        return exc.code, None
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, None


def _served_ids(body: Any) -> list[str]:
    data = body.get("data") if isinstance(body, dict) else None
    return [str(d.get("id")) for d in data or [] if isinstance(d, dict) and d.get("id")]


def check_endpoint(api_base: str, model_id: str, timeout_s: float = 2.0) -> str | None:
    """Why a local OpenAI-compatible endpoint cannot serve ``model_id`` (None when it can)."""
    base = api_base.rstrip("/")
    root = base[: -len("/v1")] if base.endswith("/v1") else base
    answered = False
    for url in (f"{base}/models" if base.endswith("/v1") else f"{base}/v1/models", f"{root}/health"):
        try:
            status, body = _get(url, timeout_s)
        except (OSError, ValueError):
            continue
        answered = True
        if status == 200 and url.endswith("/models"):
            ids = _served_ids(body)
            if len(ids) > 1 and model_id not in ids:  # one-model servers (llama.cpp) list a file path
                return f"the endpoint {api_base} serves {', '.join(ids[:5])}, not {model_id}"
            return None
        if status == 200:
            return None
    if answered:
        return f"the endpoint {api_base} answers but is not ready (no 200 from /v1/models or /health)"
    return f"the endpoint {api_base} does not answer; {_start_hint(api_base)}"


def _start_hint(api_base: str) -> str:
    port = urlsplit(api_base).port
    if port in (8080, 8090):
        return "start it with `svgarena serve gguf`"
    if port == 23333:
        return "start it with `svgarena serve lmdeploy` (needs a GPU)"
    return "start the server first"


def missing_key(route: str, api_key_env: str | None, api_base: str | None) -> str | None:
    """Why ``route`` has no credentials (None when it has them or needs none)."""
    if api_key_env:
        return None if os.environ.get(api_key_env) else f"{api_key_env} is not set"
    if is_local(api_base):
        return None  # a local server that needs no key gets a placeholder key
    from svgarena.agents._litellm import import_litellm

    litellm = import_litellm()
    try:
        found = litellm.validate_environment(model=route, api_base=api_base)
    except Exception as exc:  # noqa: BLE001 (an unknown provider is the user's to fix)
        return f"LiteLLM cannot tell which provider serves it ({type(exc).__name__}: {exc})"
    missing = found.get("missing_keys") or []
    if not found.get("keys_in_environment", True) and missing:
        return f"{' or '.join(missing)} is not set"
    return None


def check_model(model: Any, timeout_s: float = 2.0) -> str | None:
    """Why one model cannot be called now (None when it can); baselines always can."""
    route = getattr(model, "route", None)
    if route is None or str(getattr(model, "name", "")).startswith("baseline/"):
        return None
    api_base = getattr(model, "api_base", None)
    problem = missing_key(route, getattr(model, "api_key_env", None), api_base)
    if problem is None and is_local(api_base):
        problem = check_endpoint(api_base, route.split("/", 1)[-1], timeout_s)
    return problem


def preflight(models: list[Any], timeout_s: float = 2.0) -> dict[str, str]:
    """Model name -> why it cannot be called, for every model that cannot (empty when all can)."""
    problems: dict[str, str] = {}
    for model in models:
        problem = check_model(model, timeout_s)
        if problem:
            problems[model.name] = problem
    return problems
