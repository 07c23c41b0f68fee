"""Stop rules shared by the multi-round solvers: per-sample budgets, the run's caps, the oracle threshold.

Each rule names the trajectory's ``stop_reason``: ``sample budget: tokens|cost|time``, ``run budget``
and ``oracle threshold``. Token and cost budgets count what each round's reply cost when it was first
paid (a reply replayed from the cache after a resume counts the same), so a resumed trajectory stops
where the uninterrupted one did. The time budget is wall-clock in this invocation: a replay is
faster, so a trajectory cut by time alone is not guaranteed to replay identically.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from svgarena.agents._trajectory import Attempt

STOP_ON = ("oracle-threshold",)
ORACLE_METRICS = ("ssim", "ssim_video")  # what --oracle-threshold compares against, first present wins


@dataclass
class SampleBudget:
    """Caps on one trajectory; ``exceeded`` names the first one reached after a round."""

    max_tokens: int | None = None
    max_cost_usd: float | None = None
    time_limit_s: float | None = None
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def from_ctx(cls, ctx: Any) -> "SampleBudget":
        return cls(ctx.sample_max_tokens, ctx.sample_max_cost, ctx.sample_time_limit)

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.max_tokens, self.max_cost_usd, self.time_limit_s))

    def describe(self) -> dict[str, float]:
        """The caps for the arm's record (only those set)."""
        out = {"tokens": self.max_tokens, "cost_usd": self.max_cost_usd, "time_s": self.time_limit_s}
        return {k: v for k, v in out.items() if v is not None}

    def exceeded(self, attempts: list[Attempt]) -> str | None:
        if self.max_tokens is not None:
            used = sum(a.usage.input_tokens + a.usage.output_tokens for a in attempts)
            if used >= self.max_tokens:
                return "sample budget: tokens"
        if self.max_cost_usd is not None:
            spent = sum(a.priced_usd if a.priced_usd is not None else a.usage.cost_usd for a in attempts)
            if spent >= self.max_cost_usd:
                return "sample budget: cost"
        if self.time_limit_s is not None and time.monotonic() - self.started >= self.time_limit_s:
            return "sample budget: time"
        return None


def run_budget_reached(model: Any) -> Exception | None:
    """The run's cap (``--max-cost``/``--max-tokens``) as the model's call layer sees it, before a new round."""
    from svgarena.agents._budget import BudgetExceeded

    check = getattr(model, "check_budget", None)
    if check is None:
        return None
    try:
        check()
    except BudgetExceeded as exc:
        return exc
    return None


def oracle_value(scores: dict[str, float | None] | None) -> float | None:
    for name in ORACLE_METRICS:
        if scores and scores.get(name) is not None:
            return float(scores[name])  # type: ignore[arg-type]
    return None


def uses_oracle(feedback: str, stop_on: str | None, selection: str | None = None) -> list[str]:
    """Where an arm looks at the reference: its feedback, its stop rule, its selection (empty: nowhere)."""
    out = []
    if feedback == "oracle":
        out.append("feedback")
    if stop_on == "oracle-threshold":
        out.append("stop")
    if selection == "best-oracle":
        out.append("selection")
    return out
