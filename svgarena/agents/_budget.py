"""What a run has spent: a ledger of every call (each try, cache hit or refusal) and the caps on it.

The ledger (table ``calls`` in ``<run folder>/calls.sqlite``) records every HTTP call the retry
layer makes, with its error class, provider status, wait before the next try, tokens and cost,
plus cache hits and calls not made. Its totals survive kills and resumes, so ``--max-cost`` and
``--max-tokens`` bound the whole run, not one invocation of it. Error texts are scrubbed of keys
before they get here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from svgarena.agents._cache import connect
from svgarena.agents._types import Usage

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY,
    created REAL NOT NULL,
    model TEXT NOT NULL,
    trajectory TEXT,                   -- task|model|solver|sample|epoch of the attempt it served
    call_index INTEGER,                -- which call of that trajectory
    try INTEGER NOT NULL,              -- 0 for the first try, n for the n-th retry
    status TEXT NOT NULL,              -- ok | empty | error | cached | not_called
    error_class TEXT,                  -- rate_limit | transient | permanent | empty
    error_type TEXT,
    status_code INTEGER,
    error TEXT,
    wait_s REAL,                       -- backoff slept before the next try
    latency_s REAL,
    input_tokens INTEGER,
    output_tokens INTEGER,
    cost_usd REAL,
    cache_key TEXT
);
CREATE INDEX IF NOT EXISTS calls_model ON calls (model);
"""

PAID = ("ok", "empty", "error")  # statuses of calls that reached (or tried to reach) the provider


class BudgetExceeded(Exception):
    """A cap was reached: no new call may start. The run stops and can be resumed with a higher cap."""

    def __init__(self, what: str, cap: float, spent: float) -> None:
        self.what, self.cap, self.spent = what, cap, spent
        unit = "USD" if what == "cost" else "tokens"
        flag = "--max-cost" if what == "cost" else "--max-tokens"
        shown = (f"{cap:g} {unit}", f"{spent:.4f} {unit}") if what == "cost" else (f"{int(cap)} {unit}", f"{int(spent)} {unit}")
        super().__init__(f"the run reached {flag} {shown[0]} (spent {shown[1]}); no new model calls were started")
        self.flag = flag


@dataclass
class CallRecord:
    model: str
    status: str
    trajectory: str = ""
    call_index: int = 0
    try_no: int = 0
    error_class: str | None = None
    error_type: str | None = None
    status_code: int | None = None
    error: str | None = None
    wait_s: float = 0.0
    usage: Usage = field(default_factory=Usage)
    cache_key: str | None = None


class CallLedger:
    """Append-only record of calls, with totals for the budget and the report."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.db = connect(self.path)
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    def record(self, rec: CallRecord) -> None:
        u = rec.usage
        self.db.execute(
            "INSERT INTO calls (created, model, trajectory, call_index, try, status, error_class, error_type, "
            "status_code, error, wait_s, latency_s, input_tokens, output_tokens, cost_usd, cache_key) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (time.time(), rec.model, rec.trajectory, rec.call_index, rec.try_no, rec.status, rec.error_class,
             rec.error_type, rec.status_code, rec.error, rec.wait_s, u.latency_s, u.input_tokens, u.output_tokens,
             u.cost_usd, rec.cache_key))

    def set_wait(self, wait_s: float) -> None:
        """Note the backoff chosen after the last recorded try."""
        self.db.execute("UPDATE calls SET wait_s=? WHERE id=(SELECT max(id) FROM calls)", (wait_s,))

    def totals(self) -> tuple[float, int]:
        """(USD, tokens) spent by every call this run has made, across all its invocations."""
        marks = ",".join("?" * len(PAID))
        cost, tokens = self.db.execute(
            f"SELECT coalesce(sum(cost_usd), 0), coalesce(sum(input_tokens + output_tokens), 0) FROM calls "
            f"WHERE status IN ({marks})", PAID).fetchone()
        return float(cost), int(tokens)

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per model: calls made, retries, cache hits, calls not made, tokens and cost (what was paid)."""
        return summarize(self.db)


def summarize(db: Any) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    rows = db.execute(
        "SELECT model, "
        "sum(status IN ('ok','empty','error')), sum(status IN ('ok','empty','error') AND try > 0), "
        "sum(status = 'cached'), sum(status = 'not_called'), sum(error_class = 'rate_limit'), "
        "coalesce(sum(CASE WHEN status IN ('ok','empty','error') THEN input_tokens END), 0), "
        "coalesce(sum(CASE WHEN status IN ('ok','empty','error') THEN output_tokens END), 0), "
        "coalesce(sum(CASE WHEN status IN ('ok','empty','error') THEN cost_usd END), 0) "
        "FROM calls GROUP BY model ORDER BY model")
    for model, calls, retries, cached, skipped, limited, tin, tout, cost in rows:
        out[model] = {"calls": int(calls or 0), "retries": int(retries or 0), "cache_hits": int(cached or 0),
                      "not_called": int(skipped or 0), "rate_limited": int(limited or 0),
                      "input_tokens": int(tin), "output_tokens": int(tout), "cost_usd": float(cost)}
    return out


def run_spend(run_dir: Path) -> dict[str, dict[str, Any]]:
    """The ledger summary of a run folder, or {} when the run made no model calls (read-only)."""
    import sqlite3

    path = Path(run_dir) / "calls.sqlite"
    if not path.is_file():
        return {}
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30.0)
    try:
        return summarize(db)
    except sqlite3.OperationalError:  # no calls table yet
        return {}
    finally:
        db.close()


class Budget:
    """Caps on a run's spending; ``check`` before every new call, ``charge`` after it."""

    def __init__(self, max_cost_usd: float | None = None, max_tokens: int | None = None,
                 spent_usd: float = 0.0, spent_tokens: int = 0) -> None:
        self.max_cost_usd = max_cost_usd
        self.max_tokens = max_tokens
        self.spent_usd = spent_usd
        self.spent_tokens = spent_tokens

    def check(self) -> None:
        if self.max_cost_usd is not None and self.spent_usd >= self.max_cost_usd:
            raise BudgetExceeded("cost", self.max_cost_usd, self.spent_usd)
        if self.max_tokens is not None and self.spent_tokens >= self.max_tokens:
            raise BudgetExceeded("tokens", self.max_tokens, self.spent_tokens)

    def charge(self, usage: Usage) -> None:
        self.spent_usd += usage.cost_usd
        self.spent_tokens += usage.input_tokens + usage.output_tokens
