"""An opt-in lean client for OpenAI-compatible servers (``client: direct`` in the model registry).

LiteLLM spends about 4 ms of CPU on every call (logging objects, price lookups, the OpenAI SDK's
models); at the concurrency a local InternSVG-8B server takes (64 in flight) on a small machine
that, not the GPUs, bounds the throughput. This client posts ``/chat/completions`` itself with
aiohttp (about 0.3 ms per call) and reports failures exactly as LiteLLMModel does (the same error
type names, status codes, Retry-After and "unreachable" flag), so the one retry layer, the cache,
the budget and the ledger treat both alike. LiteLLM stays the default for every route.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from svgarena.agents._litellm import LiteLLMModel, MissingApiKeyError, parse_tool_calls, retry_after_seconds
from svgarena.agents._secrets import scrub
from svgarena.agents._types import Reply, Usage

_STATUS_TYPES = {400: "BadRequestError", 401: "AuthenticationError", 403: "PermissionDeniedError",
                 404: "NotFoundError", 408: "Timeout", 409: "ConflictError", 422: "UnprocessableEntityError",
                 429: "RateLimitError", 500: "InternalServerError", 502: "BadGatewayError",
                 503: "ServiceUnavailableError", 504: "Timeout"}


class DirectModel(LiteLLMModel):
    """Same settings and contract as LiteLLMModel; the call goes straight to ``{api_base}/chat/completions``."""

    client = "direct"

    def __init__(self, route: str, **kwargs: Any) -> None:
        super().__init__(route, **kwargs)
        if not self.api_base:
            raise ValueError(f"{self.name}: client direct needs an api_base (an OpenAI-compatible server)")
        self._session: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _session_here(self) -> Any:
        import aiohttp

        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop or self._session.closed:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                                  json_serialize=json.dumps)
            self._loop = loop
        return self._session

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed and self._loop is asyncio.get_running_loop():
            await self._session.close()
        self._session = None

    async def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
                       temperature: float | None = None) -> Reply:
        """One chat completion call: a Reply with text and usage, or with ``error`` set. Never raises."""
        import aiohttp

        key: str | None = None
        start = time.perf_counter()
        try:
            key = self._api_key()
            body = {"model": self.route.split("/", 1)[-1], "messages": messages,
                    "temperature": self.temperature if temperature is None else temperature,
                    "max_tokens": self.max_tokens, **self.extra}
            if tools:
                body["tools"] = tools
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            url = self.api_base.rstrip("/") + "/chat/completions"
            async with self._session_here().post(url, json=body, headers=headers,
                                                 timeout=aiohttp.ClientTimeout(total=self.timeout_s)) as resp:
                payload = await resp.read()
                status, resp_headers = resp.status, resp.headers
            latency = time.perf_counter() - start
            if status >= 400:
                return self._http_error(status, payload, resp_headers, latency, key)
            data = json.loads(payload)
            return self._reply(data, latency, key)
        except MissingApiKeyError as exc:
            return Reply(error=f"MissingApiKeyError: {exc}", raw={"error_type": "MissingApiKeyError"})
        except asyncio.TimeoutError:
            return self._failure("Timeout", f"no answer within {self.timeout_s:g} s", start, key)
        except aiohttp.ClientConnectorError as exc:
            return self._failure("APIConnectionError", f"cannot connect to {self.api_base}: {exc}", start, key,
                                 unreachable=True)
        except (aiohttp.ClientError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            kind = "JSONDecodeError" if isinstance(exc, (json.JSONDecodeError, UnicodeDecodeError)) else "APIConnectionError"
            return self._failure(kind, f"{type(exc).__name__}: {exc}", start, key)
        except Exception as exc:  # anything else is recorded, never raised
            return self._failure(type(exc).__name__, str(exc), start, key)

    def _failure(self, kind: str, message: str, start: float, key: str | None, unreachable: bool = False) -> Reply:
        raw: dict[str, Any] = {"error_type": kind}
        if unreachable:
            raw["unreachable"] = True
        return Reply(error=scrub(f"{kind}: {message}", key), usage=Usage(latency_s=time.perf_counter() - start), raw=raw)

    def _http_error(self, status: int, payload: bytes, headers: Any, latency: float, key: str | None) -> Reply:
        kind = _STATUS_TYPES.get(status, "APIError" if status >= 500 else "BadRequestError")
        try:
            detail = json.loads(payload)
            message = (detail.get("error") or {}).get("message") if isinstance(detail, dict) else None
            message = message or (detail.get("detail") if isinstance(detail, dict) else None) or payload.decode()
        except (ValueError, UnicodeDecodeError, AttributeError):
            message = payload[:500].decode("utf-8", "replace")
        raw: dict[str, Any] = {"error_type": kind, "status_code": status}
        retry_after = retry_after_seconds(headers)
        if retry_after is not None:
            raw["retry_after"] = retry_after
        return Reply(error=scrub(f"{kind}: {status} from {self.api_base}: {message}", key), usage=Usage(latency_s=latency),
                     raw=raw)

    def _reply(self, data: dict[str, Any], latency: float, key: str | None) -> Reply:
        choice = (data.get("choices") or [None])[0] or {}
        text = ((choice.get("message") or {}).get("content")) or ""
        usage = data.get("usage") or {}
        tin, tout = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
        prices = self._prices()
        cost = (tin * prices[0] + tout * prices[1]) / 1e6 if prices else 0.0
        raw: dict[str, Any] = {"model": data.get("model")}
        if choice.get("finish_reason"):
            raw["finish_reason"] = choice["finish_reason"]
        return Reply(text=scrub(text, key), usage=Usage(input_tokens=tin, output_tokens=tout, cost_usd=cost,
                                                        latency_s=latency), raw=raw,
                     tool_calls=[{**c, "arguments": scrub(c["arguments"], key)}
                                 for c in parse_tool_calls((choice.get("message") or {}).get("tool_calls"))])


