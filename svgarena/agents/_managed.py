"""ManagedModel: a LiteLLM model behind the cache, the budget, the retry layer and the call ledger.

One ``respond`` is one logical request. It is answered from the reply cache when an identical
request was answered before; otherwise it is sent under the model's adaptive concurrency limit
and retried as ``_retry.py`` says, every try written to the ledger. The attempt gets the number of
retries, the tokens and cost of all tries, and the last try's latency. A model that proves
unusable (no key, bad key, no such model, or nothing answering after every retry for several
requests in a row) is not called again in this run: its remaining samples fail at once with the
first reason, counted as ``model_error``, while other models go on.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from svgarena.agents._budget import Budget, CallLedger, CallRecord
from svgarena.agents._cache import ReplyCache, cache_key
from svgarena.agents._callstats import CallStats
from svgarena.agents._litellm import LiteLLMModel, import_litellm
from svgarena.agents._secrets import scrub
from svgarena.agents._registry import ModelSpec
from svgarena.agents._retry import AdaptiveLimiter, ErrorClass, RetryPolicy, classify, is_fatal, is_unreachable
from svgarena.agents._types import Reply, Usage
from svgarena.tasks import Sample, Task

UNREACHABLE_STREAK = 3  # requests in a row that found nothing answering before the model is given up


class ManagedModel:
    """Wraps a LiteLLMModel; the runner binds one per trajectory with ``for_trajectory``."""

    def __init__(self, inner: LiteLLMModel, *, concurrency: int = 8, policy: RetryPolicy | None = None,
                 cache: ReplyCache | None = None, ledger: CallLedger | None = None, budget: Budget | None = None,
                 rng: random.Random | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.video_format = inner.video_format
        self.tools = bool(getattr(inner, "tools", False))
        self.images = bool(getattr(inner, "images", True))
        self.concurrency = concurrency
        self.policy = policy or RetryPolicy()
        self.cache = cache
        self.ledger = ledger
        self.budget = budget
        self.limiter = AdaptiveLimiter(concurrency)
        self.rng = rng or random.Random()
        self.unusable: str | None = None
        self._unreachable_streak = 0
        self.stats = CallStats()  # live counters the runner's dashboard heartbeat reads

    @classmethod
    def from_spec(cls, inner: LiteLLMModel, spec: ModelSpec | None, concurrency: int | None = None,
                  **kwargs: Any) -> "ManagedModel":
        """Concurrency and retry settings from the registry entry (defaults for a bare route)."""
        policy = RetryPolicy(max_retries=spec.max_retries, base_s=spec.retry_base_s, cap_s=spec.retry_cap_s) \
            if spec else RetryPolicy()
        return cls(inner, concurrency=concurrency or (spec.concurrency if spec else 8), policy=policy, **kwargs)

    def __repr__(self) -> str:
        return f"ManagedModel({self.inner!r}, concurrency={self.concurrency})"

    def supports(self, task: Task) -> str | None:
        return self.inner.supports(task)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def for_trajectory(self, trajectory: str, epoch: int) -> "_Bound":
        """The model as one trajectory sees it: its calls carry the epoch and their index in the cache key."""
        return _Bound(self, trajectory, epoch)

    async def respond(self, sample: Sample, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
                      temperature: float | None = None) -> Reply:
        return await self.call(messages, tools=tools, temperature=temperature)

    async def call(self, messages: list[dict[str, Any]], *, epoch: int = 0, trajectory: str = "",
                   call_index: int = 0, tools: list[dict[str, Any]] | None = None,
                   temperature: float | None = None) -> Reply:
        """One logical request: from the cache, or through the retry layer. Raises only BudgetExceeded.

        ``tools`` and a per-call ``temperature`` are part of the cache key (absent ones leave it as before).
        """
        settings = self.inner.settings()
        if tools:
            settings = {**settings, "tools": tools}
        if temperature is not None:
            settings = {**settings, "temperature": temperature}
        key = cache_key(self.name, settings, messages, epoch, call_index)
        base = CallRecord(model=self.name, status="", trajectory=trajectory, call_index=call_index, cache_key=key)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                self._record(base, status="cached", usage=hit.usage)
                self.stats.cached()
                hit.raw["cached_cost_usd"] = hit.usage.cost_usd  # per-sample cost budgets count the first price
                hit.usage = Usage(input_tokens=hit.usage.input_tokens, output_tokens=hit.usage.output_tokens)
                hit.raw["cached"] = True
                return hit
        if self.unusable:
            self._record(base, status="not_called", error=self.unusable)
            return Reply(error=f"not called: {self.unusable}", raw={"error_type": "ModelUnusable"})

        retries = 0
        total = Usage()
        tries: list[dict[str, Any]] = []
        while True:
            if self.unusable:  # another request found the model unusable while this one waited
                reply = Reply(error=f"not called: {self.unusable}", raw={"error_type": "ModelUnusable"})
                self._record(base, status="not_called", error=self.unusable, try_no=retries)
                break
            if self.budget is not None:
                self.budget.check()
            generation = await self.limiter.acquire()
            sent = time.monotonic()
            try:
                reply = await self._complete(messages, tools, temperature)
            finally:
                await self.limiter.release()
            kind = classify(reply)
            self.stats.call_done(time.monotonic() - sent, reply.usage.output_tokens,
                                 error=kind not in (ErrorClass.OK, ErrorClass.EMPTY),
                                 rate_limited=kind is ErrorClass.RATE_LIMIT,
                                 retry_after=reply.raw.get("retry_after") is not None, retry=retries > 0)
            total.input_tokens += reply.usage.input_tokens
            total.output_tokens += reply.usage.output_tokens
            total.cost_usd += reply.usage.cost_usd
            if self.budget is not None:
                self.budget.charge(reply.usage)
            retry_after = reply.raw.get("retry_after")
            wait: float | None = None  # None: stop here
            if kind in (ErrorClass.OK, ErrorClass.EMPTY):
                self.limiter.on_success()
                self._unreachable_streak = 0
                if kind is ErrorClass.EMPTY and retries < self.policy.empty_retries:
                    wait = self.policy.delay(retries, None, self.rng)
            elif kind is ErrorClass.PERMANENT:
                if is_fatal(reply):
                    self.unusable = f"{self.name} is unusable: {reply.error}"
            else:
                if kind is ErrorClass.RATE_LIMIT:
                    capped = min(retry_after, self.policy.retry_after_cap_s) if retry_after is not None else None
                    self.limiter.on_rate_limit(generation, capped)
                if retries < self.policy.max_retries:
                    wait = self.policy.delay(retries, retry_after, self.rng)
                elif is_unreachable(reply):
                    self._unreachable_streak += 1
                    if self._unreachable_streak >= UNREACHABLE_STREAK:
                        self.unusable = (f"{self.name} is unreachable ({self._unreachable_streak} requests in a row "
                                         f"failed after {retries} retries each): {reply.error}")
            status = "ok" if kind is ErrorClass.OK else "empty" if kind is ErrorClass.EMPTY else "error"
            self._record(base, status=status, try_no=retries, kind=kind, reply=reply, wait=wait or 0.0)
            tries.append({"class": kind.value, "error_type": reply.raw.get("error_type"),
                          "status_code": reply.raw.get("status_code"), "wait_s": round(wait or 0.0, 3)})
            if wait is None:
                break
            retries += 1
            token = self.stats.backoff_begin()
            try:
                await asyncio.sleep(wait)
            finally:
                self.stats.backoff_end(token)

        reply.retries = retries
        reply.usage = Usage(input_tokens=total.input_tokens, output_tokens=total.output_tokens,
                            cost_usd=total.cost_usd, latency_s=reply.usage.latency_s)
        reply.raw["tries"] = tries
        if reply.error is not None and reply.raw.get("error_type") != "ModelUnusable":
            kind = classify(reply)
            if kind is ErrorClass.PERMANENT:
                reply.error = f"permanent error, not retried: {reply.error}"
            else:
                reply.error = f"gave up after {retries} retries: {reply.error}"
        if self.cache is not None:
            self.cache.put(key, self.name, reply)
        return reply

    async def _complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
                        temperature: float | None = None) -> Reply:
        """The inner call with a hard deadline a little past its own timeout (a stuck transport cannot hang a run)."""
        import_litellm()  # the first import takes seconds: never inside a call's deadline
        extra: dict[str, Any] = {}
        if tools:
            extra["tools"] = tools
        if temperature is not None:
            extra["temperature"] = temperature
        try:
            return await asyncio.wait_for(self.inner.complete(messages, **extra), self.inner.timeout_s + 15.0)
        except asyncio.TimeoutError:
            return Reply(error=f"Timeout: no answer within {self.inner.timeout_s:g} s",
                         usage=Usage(latency_s=self.inner.timeout_s + 15.0), raw={"error_type": "Timeout"})

    def _record(self, base: CallRecord, *, status: str, try_no: int = 0, kind: ErrorClass | None = None,
                reply: Reply | None = None, wait: float = 0.0, error: str | None = None,
                usage: Usage | None = None) -> None:
        if self.ledger is None:
            return
        rec = CallRecord(model=base.model, status=status, trajectory=base.trajectory, call_index=base.call_index,
                         try_no=try_no, cache_key=base.cache_key, wait_s=wait)
        if reply is not None:
            rec.usage = reply.usage
            rec.error = scrub(reply.error) if reply.error else None
            rec.error_type = reply.raw.get("error_type")
            rec.status_code = reply.raw.get("status_code")
            rec.error_class = kind.value if kind not in (None, ErrorClass.OK) else None
        if usage is not None:
            rec.usage = usage
        if error is not None:
            rec.error = scrub(error)
        self.ledger.record(rec)


class _Bound:
    """A ManagedModel as seen by one trajectory (numbering its calls for the cache key)."""

    def __init__(self, managed: ManagedModel, trajectory: str, epoch: int) -> None:
        self.managed = managed
        self.name = managed.name
        self.video_format = managed.video_format
        self.tools = managed.tools
        self.images = managed.images
        self.trajectory = trajectory
        self.epoch = epoch
        self.calls = 0

    def supports(self, task: Task) -> str | None:
        return self.managed.supports(task)

    def check_budget(self) -> None:
        """Raise BudgetExceeded when the run's cap is reached (a refine solver asks before each new round)."""
        if self.managed.budget is not None:
            self.managed.budget.check()

    async def respond(self, sample: Sample, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
                      temperature: float | None = None) -> Reply:
        index = self.calls
        self.calls += 1
        return await self.managed.call(messages, epoch=self.epoch, trajectory=self.trajectory, call_index=index,
                                       tools=tools, temperature=temperature)
