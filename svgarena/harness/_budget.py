"""Equal-budget checks for ``svgarena compare``: what each arm spent on the samples both arms have.

An arm's budget on a set of (sample, epoch) keys is its model calls (one per stored round, or the
``model_calls`` a tools round records in ``attempts.extra``) and
its tokens (input + output) there. Two arms match when both differ by at most ``tolerance``
(relative to the baseline); the comparison says by how much they differ either way, so a
refine arm that stopped early, or that re-sent a growing conversation, is visible at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

#: Default relative tolerance for "matched": 10% in calls and in tokens.
BUDGET_TOLERANCE = 0.10


def spent(per_sample: dict[Any, dict[str, float]], keys: Iterable[Any]) -> dict[str, float]:
    """Calls and tokens summed over ``keys`` (absent keys spent nothing), with per-sample means."""
    keys = list(keys)
    calls = sum(per_sample.get(k, {}).get("calls", 0) for k in keys)
    tokens = sum(per_sample.get(k, {}).get("tokens", 0) for k in keys)
    n = len(keys)
    return {"samples": n, "calls": int(calls), "tokens": int(tokens),
            "calls_per_sample": calls / n if n else None, "tokens_per_sample": tokens / n if n else None}


def _diff(base: float, other: float) -> float | None:
    """Relative difference ``(other - base) / base``; None when the baseline spent nothing and the other did."""
    if base == 0:
        return 0.0 if other == 0 else None
    return (other - base) / base


def match(base: dict[str, float], other: dict[str, float], tolerance: float = BUDGET_TOLERANCE) -> dict[str, Any]:
    """``{calls_diff, tokens_diff, matched, verdict}``: relative differences and whether both are within tolerance."""
    calls_diff, tokens_diff = _diff(base["calls"], other["calls"]), _diff(base["tokens"], other["tokens"])
    within = [d is not None and abs(d) <= tolerance + 1e-12 for d in (calls_diff, tokens_diff)]
    matched = all(within)

    def pct(d: float | None) -> str:
        return "n/a" if d is None else f"{100 * d:+.0f}%"

    if matched:
        verdict = f"matched (calls {pct(calls_diff)}, tokens {pct(tokens_diff)}; tolerance {100 * tolerance:.0f}%)"
    else:
        off = [f"{name} {pct(d)}" for name, d, ok in (("calls", calls_diff, within[0]),
                                                       ("tokens", tokens_diff, within[1])) if not ok]
        verdict = f"NOT matched: {', '.join(off)} (tolerance {100 * tolerance:.0f}%)"
    return {"calls_diff": calls_diff, "tokens_diff": tokens_diff, "matched": matched, "tolerance": tolerance,
            "verdict": verdict}


def budget_table(result: dict[str, Any]) -> Any:
    """One rich table: per comparison, each arm's calls and tokens on the shared samples, and the match."""
    from rich.markup import escape
    from rich.table import Table

    from svgarena.harness._compare import _name

    table = Table(title="budget per arm on the shared samples (equal-budget check)", title_justify="left",
                  header_style="bold")
    for col in ("task", "baseline", "vs", "shared", "calls", "calls/sample", "tokens", "tokens/sample", "budget"):
        table.add_column(col, justify="left" if col in ("task", "baseline", "vs", "budget") else "right")

    def pair(a: float | None, b: float | None, fmt: str) -> str:
        return " / ".join("-" if x is None else fmt.format(x) for x in (a, b))

    for c in result["comparisons"]:
        b, o, m = c["budget"]["baseline"], c["budget"]["other"], c["budget"]["match"]
        table.add_row(c["task"], escape(_name(c["baseline"])), escape(_name(c["other"])), str(c["shared"]),
                      pair(b["calls"], o["calls"], "{:d}"), pair(b["calls_per_sample"], o["calls_per_sample"], "{:.2f}"),
                      pair(b["tokens"], o["tokens"], "{:d}"),
                      pair(b["tokens_per_sample"], o["tokens_per_sample"], "{:.0f}"), m["verdict"])
    table.caption = ("baseline / vs; calls = model calls kept (one per round; a tools round counts each turn), "
                     "tokens = input + output; "
                     "an arm is the solver with its feedback and rounds/samples (trajectories.arm)")
    return table
