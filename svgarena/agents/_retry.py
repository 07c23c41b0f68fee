"""The one retry layer: error classes, exponential backoff with jitter, and an adaptive concurrency limit.

LiteLLM's own retries are off (``_litellm.py``), so every retry of a model call happens here and
is counted. A failed call is one of:

- ``rate_limit`` (429): retried after the provider's Retry-After, or backoff; the model's
  concurrency limit is halved (at most once per round of calls) and grows back by one for every
  ``limit`` successes, the additive-increase/multiplicative-decrease rule TCP uses;
- ``transient`` (timeouts, dropped or cut-off connections, 408/409/425/5xx/529): retried with
  full-jitter exponential backoff, bounded by ``max_retries``;
- ``permanent`` (any other 4xx, a refused request, a missing key, an unknown model, a bad
  request): never retried, recorded as ``model_error`` with the provider's message. Credentials,
  unknown models and bad requests are recognised by type and message too, since LiteLLM wraps
  some of them (a missing OpenAI or Gemini key) in a 500 InternalServerError/APIConnectionError.

``fatal`` errors are the permanent ones that say the model itself is unusable (no key, bad key,
no such model or endpoint): the caller stops calling that model.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from dataclasses import dataclass
from enum import Enum

from svgarena.agents._types import Reply


class ErrorClass(str, Enum):
    OK = "ok"
    EMPTY = "empty"  # a 200 with no content: retried a little, then kept as what the model said
    RATE_LIMIT = "rate_limit"
    TRANSIENT = "transient"
    PERMANENT = "permanent"


_TRANSIENT_STATUS = frozenset({408, 409, 425, 500, 502, 503, 504, 520, 522, 524, 529})
_TRANSIENT_TYPES = frozenset({
    "RateLimitError", "Timeout", "APITimeoutError", "TimeoutError", "APIConnectionError", "ServiceUnavailableError",
    "InternalServerError", "APIError", "BadGatewayError", "JSONDecodeError", "ConnectionError", "ReadTimeout",
    "RemoteProtocolError", "ClientConnectionError", "ServerDisconnectedError", "MidStreamFallbackError",
})
_FATAL_TYPES = frozenset({"MissingApiKeyError", "AuthenticationError", "PermissionDeniedError", "NotFoundError"})
_FATAL_STATUS = frozenset({401, 403, 404})

# What providers and LiteLLM say when the key or the model is wrong. LiteLLM wraps some of these in
# InternalServerError / APIConnectionError with status 500 (a missing OpenAI key, a missing Gemini
# key), so the status alone would call them transient and retry a call that can never succeed.
_FATAL_MESSAGES = re.compile(
    r"missing credentials|missing \w+ api key|api key (?:is )?(?:missing|not (?:set|valid|found))|"
    r"no api key|invalid[ _]api[ _]key|incorrect api key|api_key client option must be set|"
    r"authentication|unauthori[sz]ed|permission denied|"
    r"model[_ ]not[_ ]found|no such model|unknown model|model .{0,80} does not exist|"
    r"llm provider not provided",
    re.IGNORECASE,
)
_BAD_REQUEST_MESSAGES = re.compile(r"badrequesterror|invalid_request_error|unsupportedparamserror", re.IGNORECASE)


def _says_fatal(reply: Reply) -> bool:
    return bool(reply.error) and _FATAL_MESSAGES.search(reply.error) is not None


def _says_bad_request(reply: Reply) -> bool:
    return bool(reply.error) and _BAD_REQUEST_MESSAGES.search(reply.error) is not None


def classify(reply: Reply) -> ErrorClass:
    """Which kind of outcome one call had (see the module docstring)."""
    if reply.error is None:
        return ErrorClass.OK if reply.text.strip() or reply.tool_calls else ErrorClass.EMPTY
    status = reply.raw.get("status_code")
    kind = str(reply.raw.get("error_type", ""))
    if status == 429 or kind == "RateLimitError":
        return ErrorClass.RATE_LIMIT
    if kind in ("Timeout", "APITimeoutError", "TimeoutError"):
        return ErrorClass.TRANSIENT
    if kind in _FATAL_TYPES or _says_fatal(reply) or _says_bad_request(reply):
        return ErrorClass.PERMANENT  # whatever status LiteLLM wrapped it in
    if isinstance(status, int):
        if status in _TRANSIENT_STATUS or status >= 500:
            return ErrorClass.TRANSIENT
        if 400 <= status < 500:
            return ErrorClass.PERMANENT
    return ErrorClass.TRANSIENT if kind in _TRANSIENT_TYPES else ErrorClass.PERMANENT


def is_fatal(reply: Reply) -> bool:
    """A permanent error that condemns every later call to this model (no key, bad key, no such model)."""
    if reply.error is None:
        return False
    return (reply.raw.get("error_type") in _FATAL_TYPES or reply.raw.get("status_code") in _FATAL_STATUS
            or _says_fatal(reply))


def is_unreachable(reply: Reply) -> bool:
    """A failure where nothing could be reached at all (connection refused, unknown host)."""
    return reply.error is not None and bool(reply.raw.get("unreachable"))


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait: ``delay(n)`` is full jitter over ``base_s * 2**n`` capped at ``cap_s``.

    A Retry-After from the provider is honoured (up to ``retry_after_cap_s``), plus a little jitter
    so that calls told the same instant do not all come back at once.
    """

    max_retries: int = 5
    base_s: float = 1.0
    cap_s: float = 60.0
    retry_after_cap_s: float = 300.0
    empty_retries: int = 2

    def delay(self, retry: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
        rng = rng or random
        if retry_after is not None:
            wait = min(max(retry_after, 0.0), self.retry_after_cap_s)
            return wait + rng.uniform(0.0, min(1.0, 0.1 * wait + 0.05))
        return rng.uniform(0.0, min(self.cap_s, self.base_s * (2 ** retry)))


class AdaptiveLimiter:
    """A concurrency limit that halves on rate limits and creeps back up as calls succeed.

    ``acquire`` returns the limit's generation; a 429 only cuts the limit if the call started
    under the current generation, so a storm of 429s from one round of calls cuts it once, not
    once per call. ``pause(seconds)`` holds every new call back (a Retry-After applies to the
    whole model, not only to the call that received it).
    """

    def __init__(self, max_limit: int, min_limit: int = 1) -> None:
        self.max_limit = max(1, int(max_limit))
        self.min_limit = max(1, min(int(min_limit), self.max_limit))
        self.limit = float(self.max_limit)
        self.in_flight = 0
        self.generation = 0
        self.paused_until = 0.0
        self.cuts = 0
        self._successes = 0
        self._cond: asyncio.Condition | None = None

    @property
    def current(self) -> int:
        return max(self.min_limit, int(self.limit))

    def _condition(self) -> asyncio.Condition:
        if self._cond is None:
            self._cond = asyncio.Condition()
        return self._cond

    async def acquire(self) -> int:
        cond = self._condition()
        while True:
            wait = self.paused_until - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            async with cond:
                if self.in_flight < self.current:
                    self.in_flight += 1
                    return self.generation
                await cond.wait()

    async def release(self) -> None:
        cond = self._condition()
        async with cond:
            self.in_flight -= 1
            cond.notify_all()

    def on_success(self) -> None:
        self._successes += 1
        if self._successes >= self.current and self.limit < self.max_limit:
            self._successes = 0
            self.limit = min(float(self.max_limit), self.limit + 1.0)
            if self._cond is not None:
                asyncio.get_running_loop().create_task(self._wake())

    async def _wake(self) -> None:
        cond = self._condition()
        async with cond:
            cond.notify_all()

    def on_rate_limit(self, generation: int, retry_after: float | None = None) -> None:
        if generation == self.generation:
            self.limit = max(float(self.min_limit), self.limit / 2.0)
            self.generation += 1
            self.cuts += 1
            self._successes = 0
        if retry_after:
            self.pause(retry_after)

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, time.monotonic() + max(0.0, seconds))
