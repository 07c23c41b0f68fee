"""A Model backed by any LiteLLM route: commercial APIs or an OpenAI-compatible local server.

LiteLLM's own retries and fallbacks are off: one ``respond`` is one HTTP call, so the harness
decides about retries and never pays twice without knowing. Failures come back as
``Reply(error=...)``, never as exceptions, with the API key scrubbed from every message.
"""

from __future__ import annotations

import os
import time
from typing import Any

from svgarena.agents._registry import ModelSpec
from svgarena.agents._secrets import scrub
from svgarena.agents._types import Reply, Usage
from svgarena.tasks import Sample, Task


def import_litellm() -> Any:
    """Import LiteLLM lazily (it is slow to import) with its offline cost map and quiet logging."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True
    return litellm




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
        name: str | None = None,
        api_base: str | None = None,
        api_key_env: str | None = None,
        temperature: float = 0.0,
        max_tokens: int = 4000,
        timeout_s: float = 600.0,
        extra: dict[str, Any] | None = None,
        input_usd_per_mtok: float | None = None,
        output_usd_per_mtok: float | None = None,
        images: bool = True,
        video: str | None = None,
        tools: bool = False,
    ) -> None:
        self.name = name or route
        self.route = route
        self.api_base = api_base
        self.api_key_env = api_key_env
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        self.extra = dict(extra or {})
        self.input_usd_per_mtok = input_usd_per_mtok
        self.output_usd_per_mtok = output_usd_per_mtok
        self.images = images
        self.video_format = video  # None: video as frames; "file" / "video_url": native video parts
        self.tools = tools  # the route takes native function calling (registry accepts.tools)

    @classmethod
    def from_spec(cls, spec: ModelSpec) -> "LiteLLMModel":
        """The model a registry entry describes, named by its short name."""
        return cls(spec.route, **cls.spec_kwargs(spec))

    @staticmethod
    def spec_kwargs(spec: ModelSpec) -> dict[str, Any]:
        return dict(name=spec.name, api_base=spec.api_base, api_key_env=spec.api_key_env,
                    temperature=spec.temperature, max_tokens=spec.max_tokens, timeout_s=spec.timeout_s,
                    extra=spec.params, input_usd_per_mtok=spec.input_usd_per_mtok,
                    output_usd_per_mtok=spec.output_usd_per_mtok, images=spec.images, video=spec.video,
                    tools=spec.tools)

    client = "litellm"

    async def aclose(self) -> None:
        """Release connections (LiteLLM keeps its own client cache; nothing to do here)."""

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name={self.name!r}, route={self.route!r}, api_base={self.api_base!r}, "
                f"api_key_env={self.api_key_env!r})")

    def supports(self, task: Task) -> str | None:
        """None, unless the task needs images (video frames are images too) and the model is known not to take them."""
        needs_images = "image" in task.inputs or ("video" in task.inputs and self.video_format is None)
        if needs_images and not self.images:
            return f"{self.name} does not take images (its registry entry says accepts.images: false)"
        return None

    def endpoint(self) -> str | None:
        """Where requests go: the api_base, or for openai/ routes the base URL the environment sets."""
        if self.api_base:
            return self.api_base
        if self.route.startswith("openai/"):
            return os.environ.get("OPENAI_API_BASE") or os.environ.get("OPENAI_BASE_URL")
        return None

    def settings(self) -> dict[str, Any]:
        """The generation settings that shape a reply (for cache keys and run records; no secrets)."""
        return {
            "route": self.route,
            "api_base": self.endpoint(),
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

    async def respond(self, sample: Sample, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
                      temperature: float | None = None) -> Reply:
        """Answer the messages for a sample (the sample itself is not sent; messages carry everything)."""
        return await self.complete(messages, tools=tools, temperature=temperature)

    async def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
                       temperature: float | None = None) -> Reply:
        """One chat completion call: a Reply with text and usage, or with ``error`` set. Never raises."""
        key: str | None = None
        start: float | None = None
        try:
            litellm = import_litellm()  # before the clock starts: the first import takes seconds
            start = time.perf_counter()
            key = self._api_key()
            kwargs: dict[str, Any] = {
                "model": self.route,
                "messages": messages,
                "temperature": self.temperature if temperature is None else temperature,
                "max_tokens": self.max_tokens,
                "timeout": self.timeout_s,
                **self.extra,
                # Exactly one retry layer (svgarena's): LiteLLM's retries and fallbacks stay off.
                "num_retries": 0,
                "max_retries": 0,
            }
            kwargs.pop("fallbacks", None)
            if tools:
                kwargs["tools"] = tools
            if self.api_base:
                kwargs["api_base"] = self.api_base
            if key:
                kwargs["api_key"] = key
            prices = self._prices()
            if prices is not None:  # LiteLLM's own cost bookkeeping then takes its fast path, not a price-list search
                kwargs["input_cost_per_token"], kwargs["output_cost_per_token"] = prices[0] / 1e6, prices[1] / 1e6
            response = await litellm.acompletion(**kwargs)
            latency = time.perf_counter() - start
            reply = _to_reply(litellm, response, latency, self._prices())
            reply.text = scrub(reply.text, key)  # a provider echoing credentials must not get them stored
            for call in reply.tool_calls:
                call["arguments"] = scrub(call["arguments"], key)
            return reply
        except Exception as exc:  # every failure becomes a recorded Reply, never an exception
            latency = time.perf_counter() - start if start is not None else 0.0
            return error_reply(exc, latency, key)

    def _prices(self) -> tuple[float, float] | None:
        if self.input_usd_per_mtok is None or self.output_usd_per_mtok is None:
            return None
        return self.input_usd_per_mtok, self.output_usd_per_mtok


class MissingApiKeyError(Exception):
    """The environment variable that should hold the API key is unset."""


_CONNECT_FAILURES = ("ConnectionRefusedError", "ConnectError", "ClientConnectorError", "gaierror",
                     "ClientConnectorDNSError", "MissingApiBase")


def error_reply(exc: BaseException, latency_s: float = 0.0, key: str | None = None) -> Reply:
    """The Reply recording one failed call: the scrubbed message, its exception type, status and hints."""
    message = scrub(f"{type(exc).__name__}: {exc}", key)
    raw: dict[str, Any] = {"error_type": type(exc).__name__}
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        raw["status_code"] = status
    retry_after = _retry_after(exc)
    if retry_after is not None:
        raw["retry_after"] = retry_after
    if _no_connection(exc):
        raw["unreachable"] = True
    return Reply(error=message, usage=Usage(latency_s=latency_s), raw=raw)


def _no_connection(exc: BaseException) -> bool:
    """True when nothing could be reached at all (refused, no route, unknown host): not a fault mid-reply."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if type(cur).__name__ in _CONNECT_FAILURES:
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def _retry_after(exc: BaseException) -> float | None:
    """Seconds the provider asked us to wait (``retry-after-ms`` or ``retry-after``, seconds or an HTTP date)."""
    headers: Any = getattr(exc, "litellm_response_headers", None)
    if not headers:
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
    return retry_after_seconds(headers) if headers else None


def retry_after_seconds(headers: Any) -> float | None:
    """``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date) from response headers; None if absent."""
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return max(0.0, float(ms) / 1000.0)
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            from email.utils import parsedate_to_datetime

            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except Exception:  # a malformed header is no reason to fail the call differently
        return None


def _to_reply(litellm: Any, response: Any, latency: float, prices: tuple[float, float] | None = None) -> Reply:
    choice = response.choices[0] if response.choices else None
    text = (choice.message.content if choice is not None else None) or ""
    usage = getattr(response, "usage", None)
    input_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
    output_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
    if prices is not None:  # the registry's price wins (local servers, which LiteLLM prices at zero or not at all)
        cost = (input_tokens * prices[0] + output_tokens * prices[1]) / 1e6
    else:
        hidden = getattr(response, "_hidden_params", None) or {}
        cost = hidden.get("response_cost") if isinstance(hidden, dict) else None  # LiteLLM priced it already
        if cost is None:
            try:
                cost = litellm.completion_cost(completion_response=response)
            except Exception:  # unknown model or price: cost is not known, not an error
                cost = 0.0
        cost = float(cost or 0.0)
    raw: dict[str, Any] = {"model": getattr(response, "model", None)}
    if choice is not None and getattr(choice, "finish_reason", None):
        raw["finish_reason"] = choice.finish_reason
    calls = getattr(choice.message, "tool_calls", None) if choice is not None else None
    return Reply(
        tool_calls=parse_tool_calls(calls),
        text=text,
        usage=Usage(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=cost,
            latency_s=latency,
        ),
        raw=raw,
    )


def parse_tool_calls(calls: Any) -> list[dict[str, Any]]:
    """``[{"id", "name", "arguments"}]`` from a response's ``message.tool_calls`` (objects or dicts); [] if none.

    ``arguments`` stays the text the model sent (it may not be valid JSON: the solver judges that).
    """
    out: list[dict[str, Any]] = []
    for i, call in enumerate(calls or []):
        get = call.get if isinstance(call, dict) else (lambda k, c=call: getattr(c, k, None))
        fn = get("function") or {}
        fget = fn.get if isinstance(fn, dict) else (lambda k, f=fn: getattr(f, k, None))
        args = fget("arguments")
        if args is not None and not isinstance(args, str):
            import json

            args = json.dumps(args)
        out.append({"id": str(get("id") or f"call_{i}"), "name": str(fget("name") or ""), "arguments": args or ""})
    return out
