"""The runner's live state, published through the store's heartbeat table for the dashboards.

What only the running process knows (calls in flight, each model's adaptive limit, backoff, the
budget, the render pool's health) is gathered by one asyncio task in the runner and written as
one heartbeat row, key ``live``, at most ``1 / period_s`` times a second: never per call. Progress,
success and scores are not repeated here: the dashboards read those from the store's own tables.
``run`` and ``watch`` both build their :class:`~svgarena.harness._watch.Snapshot` from the store,
so a run watched from another terminal looks the same as from its own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any

from svgarena.harness._store import RunStore

log = logging.getLogger("svgarena.run")

LIVE_KEY = "live"
PERIOD_S = 0.5  # one heartbeat write per half second at most: <= 2 writes/s
RATE_WINDOW_S = 10.0  # seconds behind the pool's renders/s


class LivePublisher:
    """Collects the runner's in-memory state and writes it to the heartbeat table on a timer.

    ``models``: name -> ManagedModel (routed models; baselines make no calls); ``budget``: the run's
    Budget or None; ``renderer``: the render pool (anything with ``health()``), or None.
    """

    def __init__(self, store: RunStore, *, models: dict[str, Any], budget: Any, renderer: Any,
                 max_cost_usd: float | None, max_tokens: int | None, done_before: int = 0,
                 period_s: float = PERIOD_S) -> None:
        self.store = store
        self.models = models
        self.budget = budget
        self.renderer = renderer
        self.caps = {"max_cost_usd": max_cost_usd, "max_tokens": max_tokens}
        self.period_s = period_s
        self.done_before = done_before  # trajectories a resumed run had finished before this invocation
        self.started = time.time()
        self.writes = 0
        self._renders: deque[tuple[float, int]] = deque()
        self._task: asyncio.Task | None = None

    def state(self) -> dict[str, Any]:
        """One heartbeat's data (plain JSON-able values)."""
        now = time.monotonic()
        models = {}
        for name, managed in self.models.items():
            limiter = managed.limiter
            models[name] = {
                **managed.stats.view(), "in_flight": limiter.in_flight, "limit": limiter.current,
                "max_limit": limiter.max_limit, "cuts": limiter.cuts,
                "paused_s": round(max(0.0, limiter.paused_until - now), 2), "unusable": managed.unusable,
            }
        spend = {**self.caps, "cost_usd": 0.0, "tokens": 0}
        if self.budget is not None:
            spend.update(cost_usd=self.budget.spent_usd, tokens=self.budget.spent_tokens)
        data: dict[str, Any] = {"started": self.started, "elapsed_s": round(time.time() - self.started, 2),
                                "done_before": self.done_before, "models": models, "spend": spend}
        health = getattr(self.renderer, "health", None)
        if health is not None:
            pool = dict(health())
            self._renders.append((now, int(pool.get("renders", 0))))
            while len(self._renders) > 2 and self._renders[0][0] < now - RATE_WINDOW_S:
                self._renders.popleft()
            (t0, r0), (t1, r1) = self._renders[0], self._renders[-1]
            pool["renders_per_s"] = (r1 - r0) / (t1 - t0) if t1 > t0 else 0.0
            data["pool"] = pool
        return data

    def publish(self) -> None:
        self.store.put_heartbeat(LIVE_KEY, self.state())
        self.writes += 1

    async def _loop(self) -> None:
        while True:
            try:
                self.publish()
            except Exception as exc:  # noqa: BLE001 - the dashboard must never stop the run
                log.debug("heartbeat not written: %s", exc)
            await asyncio.sleep(self.period_s)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="svgarena-heartbeat")

    async def stop(self) -> None:
        """Stop the timer and write the final state once."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        try:
            self.publish()
        except Exception as exc:  # noqa: BLE001
            log.debug("final heartbeat not written: %s", exc)


SCORING_KEY = "scoring"


class ScoringHeartbeat:
    """The end-of-run scoring pass's progress, as heartbeat ``scoring``: a ``(done, total, what)``
    callback for ``run_pass`` that writes at most once per ``period_s`` (and always the last count)."""

    def __init__(self, store: RunStore, period_s: float = PERIOD_S) -> None:
        self.store = store
        self.period_s = period_s
        self.started = time.time()
        self.writes = 0
        self._last = float("-inf")

    def __call__(self, done: int, total: int, what: str = "") -> None:
        now = time.monotonic()
        if done < total and now - self._last < self.period_s:
            return
        self._last = now
        try:
            self.store.put_heartbeat(SCORING_KEY, {"done": done, "total": total, "what": what,
                                                   "started": self.started, "elapsed_s": round(time.time() - self.started, 2)})
            self.writes += 1
        except Exception as exc:  # noqa: BLE001 - progress must never stop the pass
            log.debug("scoring heartbeat not written: %s", exc)
