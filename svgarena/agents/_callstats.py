"""Live counters of one model's calls, for the dashboard: retries and rate limits as they happen,
output tokens per second over a window, and the share of that window spent backing off.

A retry counter alone cannot say whether a model runs at 5% or 80% of its normal throughput; the
throughput over the last ``window_s`` seconds and the share of call-slot time spent sleeping in
backoff can. Updated from the event loop (plain attribute writes, no lock needed there), read by
the runner's heartbeat publisher a couple of times a second.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

WINDOW_S = 30.0  # seconds of history behind tokens/s and the backoff share


class CallStats:
    """Counters since the run started, plus a sliding window of finished calls and backoff sleeps."""

    def __init__(self, window_s: float = WINDOW_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self.clock = clock
        self.started = clock()
        self.calls = 0  # tries sent to the provider
        self.retries = 0  # tries after the first of a request
        self.rate_limited = 0  # 429 answers
        self.retry_after = 0  # waits the provider asked for (Retry-After)
        self.errors = 0  # tries that failed (any class)
        self.cache_hits = 0
        self.output_tokens = 0
        self._events: deque[tuple[float, str, float, int]] = deque()  # (ended, "call"|"backoff", seconds, out tokens)
        self._sleeping: dict[int, float] = {}  # id of a waiting request -> when its backoff began
        self._next = 0

    def _trim(self, now: float) -> None:
        while self._events and self._events[0][0] < now - self.window_s:
            self._events.popleft()

    def call_done(self, seconds: float, output_tokens: int, *, error: bool, rate_limited: bool,
                  retry_after: bool, retry: bool) -> None:
        """One try came back (``retry``: it was not the request's first try)."""
        now = self.clock()
        self.calls += 1
        self.retries += retry
        self.errors += error
        self.rate_limited += rate_limited
        self.retry_after += retry_after
        self.output_tokens += output_tokens
        self._events.append((now, "call", max(0.0, seconds), output_tokens))
        self._trim(now)

    def cached(self) -> None:
        self.cache_hits += 1

    def backoff_begin(self) -> int:
        """A request starts sleeping before its next try; returns a token for ``backoff_end``."""
        self._next += 1
        self._sleeping[self._next] = self.clock()
        return self._next

    def backoff_end(self, token: int) -> None:
        began = self._sleeping.pop(token, None)
        if began is not None:
            now = self.clock()
            self._events.append((now, "backoff", now - began, 0))
            self._trim(now)

    def view(self) -> dict[str, Any]:
        """The window's figures: tokens/s, backoff share, requests waiting now, and the counters."""
        now = self.clock()
        self._trim(now)
        span = max(1e-9, min(self.window_s, now - self.started))
        since = now - span
        call_s = backoff_s = 0.0
        tokens = 0
        for ended, kind, seconds, out in self._events:
            part = min(seconds, ended - since)  # only the part of each interval inside the window
            if kind == "call":
                call_s += part
                tokens += out
            else:
                backoff_s += part
        for began in self._sleeping.values():  # sleeps still going count up to now
            backoff_s += now - max(began, since)
        busy = call_s + backoff_s
        return {
            "calls": self.calls, "retries": self.retries, "rate_limited": self.rate_limited,
            "retry_after": self.retry_after, "errors": self.errors, "cache_hits": self.cache_hits,
            "output_tokens": self.output_tokens, "backing_off": len(self._sleeping), "window_s": round(span, 1),
            "out_tok_s": tokens / span, "backoff_share": backoff_s / busy if busy > 0 else 0.0,
        }
