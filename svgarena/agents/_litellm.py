"""A Model backed by any LiteLLM route: commercial APIs or an OpenAI-compatible local server.

LiteLLM's own retries and fallbacks are off: one ``respond`` is one HTTP call, so the harness
decides about retries and never pays twice without knowing. Failures come back as
``Reply(error=...)``, never as exceptions, with the API key scrubbed from every message.
"""

from __future__ import annotations

import os
import time
from typing import Any

from svgarena.agents._types import Reply, Usage
from svgarena.tasks import Sample, Task

_SCRUBBED = "***"


def _import_litellm() -> Any:
    """Import LiteLLM lazily (it is slow to import) with its offline cost map and quiet logging."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True
    return litellm


def _scrub(text: str, secret: str | None) -> str:
    if secret:
        text = text.replace(secret, _SCRUBBED)
    return text


class LiteLLMModel:
    """A chat model reached through ``litellm.acompletion``.

    The API key is read from the environment variable named by ``api_key_env`` at call time; it is
    never stored on the object, logged, or put in a Reply. With an ``api_base`` and no key
    variable, an ``openai/...`` route to a server that needs no key gets the placeholder key
    ``EMPTY`` (the OpenAI client refuses to send without one) unless ``OPENAI_API_KEY`` is set.
    """

    def __init__(
        self,
        route: str,
        *,
        api_base: str | None = None,
        api_key_env: str | None = None,
        temperature: float = 0.0,
        max_tokens: int = 4000,
        timeout_s: float = 600.0,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.name = route
        self.route = route
        self.api_base = api_base
        self.api_key_env = api_key_env
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        self.extra = dict(extra or {})

    def __repr__(self) -> str:
        return f"LiteLLMModel(route={self.route!r}, api_base={self.api_base!r}, api_key_env={self.api_key_env!r})"

    def supports(self, task: Task) -> str | None:
        """Every task is attempted; whether a route can see images is for the provider to say."""
        return None

    def settings(self) -> dict[str, Any]:
        """The generation settings that shape a reply (for cache keys and run records; no secrets)."""
        return {
            "route": self.route,
            "api_base": self.api_base,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            **self.extra,
        }

    def _api_key(self) -> str | None:
        if self.api_key_env:
            key = os.environ.get(self.api_key_env)
            if not key:
                raise MissingApiKeyError(
                    f"environment variable {self.api_key_env} is not set; export it with the API key for {self.route}."
                )
            return key
        if self.api_base and self.route.startswith("openai/") and not os.environ.get("OPENAI_API_KEY"):
            return "EMPTY"
        return None

    async def respond(self, sample: Sample, messages: list[dict[str, Any]]) -> Reply:
        """Answer the messages for a sample (the sample itself is not sent; messages carry everything)."""
        return await self.complete(messages)

    async def complete(self, messages: list[dict[str, Any]]) -> Reply:
        """One chat completion call: a Reply with text and usage, or with ``error`` set. Never raises."""
        key: str | None = None
        start: float | None = None
        try:
            litellm = _import_litellm()  # before the clock starts: the first import takes seconds
            start = time.perf_counter()
            key = self._api_key()
            kwargs: dict[str, Any] = {
                "model": self.route,
                "messages": messages,
                "temperature": self.temperature,
                "max_tokens": self.max_tokens,
                "timeout": self.timeout_s,
                "num_retries": 0,
                "max_retries": 0,
                **self.extra,
            }
            if self.api_base:
                kwargs["api_base"] = self.api_base
            if key:
                kwargs["api_key"] = key
            response = await litellm.acompletion(**kwargs)
            latency = time.perf_counter() - start
            return _to_reply(litellm, response, latency)
        except Exception as exc:  # every failure becomes a recorded Reply, never an exception
            latency = time.perf_counter() - start if start is not None else 0.0
            message = _scrub(f"{type(exc).__name__}: {exc}", key)
            raw: dict[str, Any] = {"error_type": type(exc).__name__}
            status = getattr(exc, "status_code", None)
            if isinstance(status, int):
                raw["status_code"] = status
            return Reply(error=message, usage=Usage(latency_s=latency), raw=raw)


class MissingApiKeyError(Exception):
    """The environment variable that should hold the API key is unset."""


def _to_reply(litellm: Any, response: Any, latency: float) -> Reply:
    choice = response.choices[0] if response.choices else None
    text = (choice.message.content if choice is not None else None) or ""
    usage = getattr(response, "usage", None)
    try:
        cost = float(litellm.completion_cost(completion_response=response) or 0.0)
    except Exception:  # unknown model or price: cost is not known, not an error
        cost = 0.0
    raw: dict[str, Any] = {"model": getattr(response, "model", None)}
    if choice is not None and getattr(choice, "finish_reason", None):
        raw["finish_reason"] = choice.finish_reason
    return Reply(
        text=text,
        usage=Usage(
            input_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            output_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            cost_usd=cost,
            latency_s=latency,
        ),
        raw=raw,
    )
