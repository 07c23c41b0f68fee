"""Why samples failed: the most common failure reasons per task and model, from the store alone.

A run in which every call failed used to print ``model_error 2`` and nothing else; these lines say
why (``openai/gpt-4o: 2 x model_error: ... OPENAI_API_KEY ...``). Reasons are grouped after they are
shortened, so identical causes with different noise (whitespace, repeated exception prefixes) count
together. Keys are scrubbed by the agents before a reason is stored.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from svgarena.harness._store import RunStore
from svgarena.outcome import Outcome

MAX_REASON = 160  # characters of one reason shown on a line
TOP = 3  # reasons shown per (task, model, solver)

_PREFIX = re.compile(r"\b(?:litellm\.)?(\w+(?:Error|Exception)): (?:(?:litellm\.)?\1: )+")


def short_reason(reason: str | None, limit: int = MAX_REASON) -> str:
    """One line of at most ``limit`` characters: whitespace collapsed, a repeated exception-name
    chain (``litellm.X: X: ...``) said once, and a long one cut in the middle (`` … ``)."""
    text = " ".join((reason or "").split())
    text = _PREFIX.sub(lambda m: f"{m.group(1)}: ", text)
    text = text.replace("litellm.", "")
    if not text:
        return "(no reason recorded)"
    if len(text) <= limit:
        return text
    # Keep both ends: the head names the error, the tail usually says what to do about it.
    head = limit * 3 // 5
    tail = limit - head - 3
    return f"{text[:head].rstrip()} … {text[-tail:].lstrip()}"


def failure_reasons(store: RunStore, top: int = TOP) -> list[dict[str, Any]]:
    """Per (task, model, solver) with failures: the ``top`` most common ``(outcome, reason)`` of its
    failed finished trajectories, as ``{task, model, solver, failed, reasons: [{outcome, reason, count}]}``.

    A trajectory's reason is the one of its selected round (the round its outcome is of), else of
    its last round, else its stop reason."""
    rows = store.db.execute(
        "SELECT t.task, t.model, t.solver, t.outcome, t.stop_reason, a.reason FROM trajectories t "
        "LEFT JOIN attempts a ON a.trajectory_id = t.id AND a.round = COALESCE(t.selected_round, "
        " (SELECT MAX(b.round) FROM attempts b WHERE b.trajectory_id = t.id)) "
        "WHERE t.status='done' AND t.outcome IS NOT NULL AND t.outcome != ? ORDER BY t.id",
        (Outcome.OK.value,))
    groups: dict[tuple[str, str, str], Counter] = {}
    for r in rows:
        key = (r["task"], r["model"], r["solver"])
        groups.setdefault(key, Counter())[(r["outcome"], short_reason(r["reason"] or r["stop_reason"]))] += 1
    out = []
    for (task, model, solver), counts in groups.items():
        out.append({
            "task": task, "model": model, "solver": solver, "failed": sum(counts.values()),
            "reasons": [{"outcome": o, "reason": why, "count": n} for (o, why), n in counts.most_common(top)],
        })
    return out


def failure_lines(entries: list[dict[str, Any]]) -> list[str]:
    """Printable lines, one per reason: ``task  model: N x outcome: reason``."""
    lines = []
    for e in entries:
        who = e["model"] if e["solver"] == "direct" else f"{e['model']} [{e['solver']}]"
        shown = 0
        for r in e["reasons"]:
            lines.append(f"{e['task']}  {who}: {r['count']} x {r['outcome']}: {r['reason']}")
            shown += r["count"]
        if shown < e["failed"]:
            lines.append(f"{e['task']}  {who}: {e['failed'] - shown} more failed for other reasons")
    return lines


def recent_failures(store: RunStore, limit: int = 5) -> list[dict[str, Any]]:
    """The last ``limit`` failed rounds (finished or not), newest first, for live views."""
    rows = store.db.execute(
        "SELECT t.task, t.model, t.sample_id, a.round, a.outcome, a.reason, a.created FROM attempts a "
        "JOIN trajectories t ON t.id = a.trajectory_id WHERE a.outcome != ? ORDER BY a.id DESC LIMIT ?",
        (Outcome.OK.value, limit))
    return [{"task": r["task"], "model": r["model"], "sample_id": r["sample_id"], "round": r["round"],
             "outcome": r["outcome"], "reason": short_reason(r["reason"]), "created": r["created"]} for r in rows]
