"""The run store: one SQLite file per run (WAL), written attempt by attempt as the run goes.

A trajectory row is inserted as ``running`` when its sample starts; its attempts are appended
as they happen; its scores and its ``done`` status are written in one transaction. A run killed
at any moment therefore keeps everything finished, and on resume only trajectories that are not
``done`` are cleared and redone: nothing is lost and nothing is duplicated.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    status TEXT NOT NULL,
    config TEXT NOT NULL,
    meta TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS trajectories (
    id INTEGER PRIMARY KEY,
    task TEXT NOT NULL,
    model TEXT NOT NULL,
    solver TEXT NOT NULL,
    sample_id TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    status TEXT NOT NULL,              -- running | done
    outcome TEXT,
    answer TEXT,                       -- artifact name of the final SVG, or the choice letter
    media TEXT,                        -- JSON {kind: artifact name}: png render, mp4 (448), mp4_128
    subject TEXT,
    stop_reason TEXT,
    started REAL NOT NULL,
    finished REAL,
    UNIQUE (task, model, solver, sample_id, epoch)
);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY,
    trajectory_id INTEGER NOT NULL REFERENCES trajectories(id),
    round INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT,
    reply TEXT,
    answer TEXT,
    rule TEXT,
    input_tokens INTEGER,
    output_tokens INTEGER,
    cost_usd REAL,
    latency_s REAL,
    retries INTEGER,
    renderer TEXT,
    render_seconds REAL,
    feedback TEXT,
    created REAL NOT NULL,
    UNIQUE (trajectory_id, round)
);
CREATE TABLE IF NOT EXISTS scores (
    trajectory_id INTEGER NOT NULL REFERENCES trajectories(id),
    metric TEXT NOT NULL,
    value REAL,                        -- SArena view (black substitution); NULL when not computable
    ok INTEGER NOT NULL,               -- 1 when the sample had a successful output
    error TEXT,
    PRIMARY KEY (trajectory_id, metric)
);
CREATE TABLE IF NOT EXISTS set_scores (
    task TEXT NOT NULL,
    model TEXT NOT NULL,
    solver TEXT NOT NULL,
    metric TEXT NOT NULL,              -- fid, fid_c, fvd: one value over the whole task
    view TEXT NOT NULL,                -- sarena (black substitutes included) | ok_only
    value REAL,
    n_ref INTEGER NOT NULL,
    n_pred INTEGER NOT NULL,
    error TEXT,
    created REAL NOT NULL,
    PRIMARY KEY (task, model, solver, metric, view)
);
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY,
    created REAL NOT NULL,
    task TEXT,
    model TEXT,
    text TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class TrajectoryKey:
    task: str
    model: str
    solver: str
    sample_id: str
    epoch: int = 0


class RunStore:
    """Typed access to ``run.sqlite``. One connection, used from one thread (the runner's loop)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(SCHEMA)

    @classmethod
    def open_existing(cls, path: Path) -> "RunStore":
        if not Path(path).is_file():
            raise FileNotFoundError(f"{path}: no run store here")
        return cls(path)

    def close(self) -> None:
        self.db.close()

    # -- runs ---------------------------------------------------------------------------------
    def init_run(self, run_id: str, config: dict[str, Any], meta: dict[str, Any]) -> None:
        now = time.time()
        self.db.execute(
            "INSERT INTO runs (run_id, created, updated, status, config, meta) VALUES (?,?,?,?,?,?) "
            "ON CONFLICT(run_id) DO UPDATE SET updated=excluded.updated, status='running'",
            (run_id, now, now, "running", json.dumps(config, sort_keys=True), json.dumps(meta, sort_keys=True)),
        )

    def set_status(self, status: str) -> None:
        self.db.execute("UPDATE runs SET status=?, updated=?", (status, time.time()))

    def run_info(self) -> dict[str, Any]:
        row = self.db.execute("SELECT * FROM runs LIMIT 1").fetchone()
        if row is None:
            raise ValueError(f"{self.path}: run store holds no run")
        return {"run_id": row["run_id"], "created": row["created"], "updated": row["updated"],
                "status": row["status"], "config": json.loads(row["config"]), "meta": json.loads(row["meta"])}

    def update_meta(self, **values: Any) -> None:
        """Merge values into the run's metadata (e.g. the tokenizer actually used)."""
        meta = dict(self.run_info()["meta"], **values)
        self.db.execute("UPDATE runs SET meta=?", (json.dumps(meta, sort_keys=True),))

    def add_note(self, text: str, task: str | None = None, model: str | None = None) -> None:
        self.db.execute("INSERT INTO notes (created, task, model, text) VALUES (?,?,?,?)",
                        (time.time(), task, model, text))

    def notes(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.execute("SELECT task, model, text FROM notes ORDER BY id")]

    # -- trajectories -------------------------------------------------------------------------
    def done_keys(self) -> set[TrajectoryKey]:
        rows = self.db.execute(
            "SELECT task, model, solver, sample_id, epoch FROM trajectories WHERE status='done'")
        return {TrajectoryKey(*r) for r in rows}

    def clear_unfinished(self) -> int:
        """Drop what a killed run left half-done, so it is redone cleanly; returns how many."""
        with self._tx():
            ids = [r[0] for r in self.db.execute("SELECT id FROM trajectories WHERE status!='done'")]
            for tid in ids:
                self.db.execute("DELETE FROM scores WHERE trajectory_id=?", (tid,))
                self.db.execute("DELETE FROM attempts WHERE trajectory_id=?", (tid,))
                self.db.execute("DELETE FROM trajectories WHERE id=?", (tid,))
        return len(ids)

    def start_trajectory(self, key: TrajectoryKey, subject: str | None = None) -> int:
        cur = self.db.execute(
            "INSERT INTO trajectories (task, model, solver, sample_id, epoch, status, subject, started) "
            "VALUES (?,?,?,?,?,'running',?,?)",
            (key.task, key.model, key.solver, key.sample_id, key.epoch, subject, time.time()),
        )
        return int(cur.lastrowid)

    def add_attempt(self, trajectory_id: int, attempt: dict[str, Any]) -> None:
        cols = ("round", "outcome", "reason", "reply", "answer", "rule", "input_tokens", "output_tokens",
                "cost_usd", "latency_s", "retries", "renderer", "render_seconds", "feedback")
        self.db.execute(
            f"INSERT INTO attempts (trajectory_id, {', '.join(cols)}, created) VALUES (?, {', '.join('?' * len(cols))}, ?)",
            (trajectory_id, *(attempt.get(c) for c in cols), time.time()),
        )

    def finish_trajectory(self, trajectory_id: int, *, outcome: str, answer: str | None,
                          media: dict[str, str] | None = None, stop_reason: str = "", scores: Iterable[tuple[str, float | None, bool, str | None]]) -> None:
        """Write scores and mark the trajectory done, atomically."""
        with self._tx():
            self.db.executemany(
                "INSERT OR REPLACE INTO scores (trajectory_id, metric, value, ok, error) VALUES (?,?,?,?,?)",
                [(trajectory_id, m, v, int(ok), err) for m, v, ok, err in scores],
            )
            self.db.execute(
                "UPDATE trajectories SET status='done', outcome=?, answer=?, media=?, stop_reason=?, finished=? "
                "WHERE id=?",
                (outcome, answer, json.dumps(media or {}, sort_keys=True), stop_reason, time.time(), trajectory_id),
            )

    def put_scores(self, rows: Iterable[tuple[int, str, float | None, bool, str | None]]) -> None:
        """Insert or replace per-sample scores (a scoring pass, or a rescore), in one transaction."""
        with self._tx():
            self.db.executemany(
                "INSERT OR REPLACE INTO scores (trajectory_id, metric, value, ok, error) VALUES (?,?,?,?,?)",
                [(tid, m, v, int(ok), err) for tid, m, v, ok, err in rows],
            )

    def put_set_scores(self, task: str, model: str, solver: str, scores: Iterable[Any]) -> None:
        """Insert or replace set-level scores (objects with metric, view, value, n_ref, n_pred, error)."""
        now = time.time()
        with self._tx():
            self.db.executemany(
                "INSERT OR REPLACE INTO set_scores (task, model, solver, metric, view, value, n_ref, n_pred, error, "
                "created) VALUES (?,?,?,?,?,?,?,?,?,?)",
                [(task, model, solver, s.metric, s.view, s.value, s.n_ref, s.n_pred, s.error, now) for s in scores],
            )

    def set_scores(self) -> Iterator[sqlite3.Row]:
        yield from self.db.execute("SELECT * FROM set_scores ORDER BY task, model, solver, metric, view")

    def score_counts(self) -> dict[tuple[str, str, str, str], int]:
        """How many finished trajectories of each (task, model, solver) have a row for each metric."""
        rows = self.db.execute(
            "SELECT t.task, t.model, t.solver, s.metric, COUNT(*) FROM scores s JOIN trajectories t "
            "ON t.id = s.trajectory_id WHERE t.status='done' GROUP BY t.task, t.model, t.solver, s.metric")
        return {(r[0], r[1], r[2], r[3]): int(r[4]) for r in rows}

    # -- reading ------------------------------------------------------------------------------
    def trajectories(self, status: str | None = "done") -> Iterator[sqlite3.Row]:
        sql = "SELECT * FROM trajectories"
        args: tuple = ()
        if status:
            sql += " WHERE status=?"
            args = (status,)
        yield from self.db.execute(sql + " ORDER BY id", args)

    def scores(self) -> Iterator[sqlite3.Row]:
        yield from self.db.execute(
            "SELECT t.task, t.model, t.solver, t.sample_id, t.epoch, t.outcome, t.subject, s.metric, s.value, s.ok, s.error "
            "FROM scores s JOIN trajectories t ON t.id = s.trajectory_id WHERE t.status='done' ORDER BY t.id")

    def attempts(self) -> Iterator[sqlite3.Row]:
        yield from self.db.execute(
            "SELECT t.task, t.model, t.solver, t.sample_id, t.epoch, a.* FROM attempts a "
            "JOIN trajectories t ON t.id = a.trajectory_id ORDER BY a.id")

    def _tx(self):
        return _Transaction(self.db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
