"""The reply cache: an identical request is answered from disk, so no call is ever paid for twice.

The key is a SHA-256 over the model (name, route, endpoint), the generation settings, the
messages with every inline medium replaced by its hash, the epoch and the call's index within its
trajectory. Only successful, non-empty replies are kept. The cache is a table in
``<run folder>/calls.sqlite`` beside the run's store, so a resumed run (or a run redone in the
same folder) asks nothing it already has an answer for.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from svgarena.agents._types import Reply, Usage

CALLS_DB = "calls.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS replies (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    text TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    latency_s REAL NOT NULL,
    raw TEXT NOT NULL,
    created REAL NOT NULL
);
"""


def _canonical(value: Any) -> Any:
    """Messages with inline media (``data:`` URLs) replaced by ``<mime>;sha256=<hex>``: small keys, same identity."""
    if isinstance(value, str):
        if value.startswith("data:") and ";base64," in value[:100]:
            head, _, payload = value.partition(";base64,")
            return f"{head[5:]};sha256={hashlib.sha256(payload.encode('ascii', 'replace')).hexdigest()}"
        return value
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value


def cache_key(model: str, settings: dict[str, Any], messages: list[dict[str, Any]], epoch: int = 0,
              call_index: int = 0) -> str:
    """The cache key of one request (``settings`` hold route, endpoint and generation settings, never a key)."""
    doc = {"model": model, "settings": settings, "messages": _canonical(messages), "epoch": epoch,
           "call": call_index}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def connect(path: Path) -> sqlite3.Connection:
    """A WAL connection to the run's ``calls.sqlite`` (shared by the cache and the call ledger)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=30.0, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    return db


class ReplyCache:
    """Successful replies by request key, in ``calls.sqlite``; one connection, used from the event loop's thread."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.db = connect(self.path)
        self.db.executescript(_SCHEMA)
        self.hits = 0
        self.misses = 0

    def close(self) -> None:
        self.db.close()

    def get(self, key: str) -> Reply | None:
        row = self.db.execute("SELECT text, input_tokens, output_tokens, cost_usd, latency_s, raw FROM replies "
                              "WHERE key=?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        text, tin, tout, cost, latency, raw = row
        meta = json.loads(raw)
        return Reply(text=text, usage=Usage(input_tokens=tin, output_tokens=tout, cost_usd=cost, latency_s=latency),
                     raw=meta, tool_calls=list(meta.pop("tool_calls", None) or []))

    def put(self, key: str, model: str, reply: Reply) -> None:
        if reply.error is not None or not (reply.text.strip() or reply.tool_calls):
            return  # only successful replies are cached
        u = reply.usage
        raw = {k: v for k, v in reply.raw.items() if k in ("model", "finish_reason")}
        if reply.tool_calls:
            raw["tool_calls"] = reply.tool_calls
        self.db.execute(
            "INSERT OR REPLACE INTO replies (key, model, text, input_tokens, output_tokens, cost_usd, latency_s, raw, "
            "created) VALUES (?,?,?,?,?,?,?,?,?)",
            (key, model, reply.text, u.input_tokens, u.output_tokens, u.cost_usd, u.latency_s, json.dumps(raw),
             time.time()))

    def __len__(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM replies").fetchone()[0])
