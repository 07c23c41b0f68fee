"""The run store: one SQLite file per run (WAL), written attempt by attempt as the run goes.

A trajectory row is inserted as ``running`` when its sample starts; its attempts (rounds) are
appended as they happen; its scores and its ``done`` status are written in one transaction. A run
killed at any moment therefore keeps everything finished, and on resume only trajectories that are
not ``done`` are cleared and redone: nothing is lost and nothing is duplicated.

Store versions (``PRAGMA user_version``):

- 1 (svgarena 0.1, ``user_version`` 0): one scored answer per trajectory.
- 2: every round is scored. ``attempts`` gain the feedback shown after the round (mode, text,
  images by artifact name), the round's renders, the SVG's hash and whether the model chose this
  round; ``round_scores`` and ``round_set_scores`` hold per-round scores; ``trajectories`` gain the
  selection rule, the selected round and the arm; ``heartbeat`` holds live runner state for
  ``watch``. The headline ``scores``/``set_scores`` stay the selected round's. A version-1 store is
  migrated in place when opened for writing (additive: its one attempt becomes round 0); a
  read-only open of a version-1 store, or any open of a store newer than this code, raises
  ``StoreVersionError`` with one sentence saying what to do.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STORE_VERSION = 2

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
    selection TEXT,                    -- last | best-model | best-oracle: which round is the answer
    selected_round INTEGER,            -- the round the headline scores are of
    arm TEXT,                          -- JSON: solver, feedback, selection, rounds/samples, budget
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
    feedback TEXT,                     -- text shown to the model after this round (the next round's input)
    feedback_mode TEXT,                -- render | render+target | oracle | none | tool | '' (no feedback)
    feedback_images TEXT,              -- JSON list of artifact names of the images shown after this round
    media TEXT,                        -- JSON {kind: artifact name}: this round's png, frames, mp4, mp4_128
    svg_hash TEXT,                     -- sha256 of the extracted SVG (no-op rounds repeat it)
    model_chose INTEGER NOT NULL DEFAULT 0,  -- 1: the model chose this round (submit, done marker)
    tool_calls INTEGER,                -- tools solver: calls made in this round
    malformed_calls INTEGER,           -- tools solver: calls that did not parse
    extra TEXT,                        -- JSON: solver-specific details (vision note, tool names, ...)
    created REAL NOT NULL,
    UNIQUE (trajectory_id, round)
);
CREATE TABLE IF NOT EXISTS scores (
    trajectory_id INTEGER NOT NULL REFERENCES trajectories(id),
    metric TEXT NOT NULL,
    value REAL,                        -- SArena view (black substitution), NULL when not computable
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
CREATE TABLE IF NOT EXISTS round_scores (
    trajectory_id INTEGER NOT NULL REFERENCES trajectories(id),
    round INTEGER NOT NULL,
    metric TEXT NOT NULL,
    value REAL,                        -- SArena view, as in scores
    ok INTEGER NOT NULL,
    error TEXT,
    PRIMARY KEY (trajectory_id, round, metric)
);
CREATE TABLE IF NOT EXISTS round_set_scores (
    task TEXT NOT NULL,
    model TEXT NOT NULL,
    solver TEXT NOT NULL,
    round INTEGER NOT NULL,            -- the answers of this round (carried forward past a trajectory's end)
    metric TEXT NOT NULL,
    view TEXT NOT NULL,
    value REAL,
    n_ref INTEGER NOT NULL,
    n_pred INTEGER NOT NULL,
    error TEXT,
    created REAL NOT NULL,
    PRIMARY KEY (task, model, solver, round, metric, view)
);
CREATE TABLE IF NOT EXISTS heartbeat (
    key TEXT PRIMARY KEY,              -- 'runner', 'model:<name>', 'pool', ...
    updated REAL NOT NULL,
    data TEXT NOT NULL                 -- JSON snapshot the dashboard draws
);
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY,
    created REAL NOT NULL,
    task TEXT,
    model TEXT,
    text TEXT NOT NULL
);
"""


_V2_COLUMNS = {
    "attempts": [("feedback_mode", "TEXT"), ("feedback_images", "TEXT"), ("media", "TEXT"), ("svg_hash", "TEXT"),
                 ("model_chose", "INTEGER NOT NULL DEFAULT 0"), ("tool_calls", "INTEGER"),
                 ("malformed_calls", "INTEGER"), ("extra", "TEXT")],
    "trajectories": [("selection", "TEXT"), ("selected_round", "INTEGER"), ("arm", "TEXT")],
}

ATTEMPT_COLUMNS = ("round", "outcome", "reason", "reply", "answer", "rule", "input_tokens", "output_tokens",
                   "cost_usd", "latency_s", "retries", "renderer", "render_seconds", "feedback", "feedback_mode",
                   "feedback_images", "media", "svg_hash", "model_chose", "tool_calls", "malformed_calls", "extra")
_JSON_ATTEMPT_COLUMNS = ("feedback_images", "media", "extra")
# SQL for the model calls of one round ``a`` of attempts: one, or the ``model_calls`` a tools round records
ROUND_MODEL_CALLS_SQL = ("CASE WHEN json_valid(a.extra) THEN COALESCE(json_extract(a.extra, '$.model_calls'), 1) "
                         "ELSE 1 END")


def _attempt_values(attempt: dict[str, Any]) -> list[Any]:
    """A round's row values in ``ATTEMPT_COLUMNS`` order (JSON columns encoded, model_chose as 0/1)."""
    values = []
    for c in ATTEMPT_COLUMNS:
        v = attempt.get(c)
        if c in _JSON_ATTEMPT_COLUMNS and v is not None and not isinstance(v, str):
            v = json.dumps(v, sort_keys=True)
        if c == "model_chose":
            v = int(bool(v))
        values.append(v)
    return values


class StoreVersionError(RuntimeError, ValueError):
    """A run store this code cannot open as asked (too new, or too old for a read-only open).

    Also a ValueError, so every CLI command that opens a store ends with its one ``error:`` line."""


def store_version(db: sqlite3.Connection) -> int:
    """1 for a store written before versions were recorded, else its ``user_version``; 0 for an empty file."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version:
        return version
    has = db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='trajectories'").fetchone()
    return 1 if has else 0


@dataclass(frozen=True)
class TrajectoryKey:
    task: str
    model: str
    solver: str
    sample_id: str
    epoch: int = 0


class RunStore:
    """Typed access to ``run.sqlite``. One connection, used from one thread (the runner's loop)."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        if readonly:
            # A WAL reader never blocks the writer; mode=ro guarantees this process writes nothing.
            self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30.0, isolation_level=None)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        try:
            self._check_version()
        except sqlite3.DatabaseError:  # e.g. `svgarena report some.png`: one line, not a traceback
            self.db.close()
            raise ValueError(f"{self.path}: not a svgarena run store (not an SQLite database)") from None
        except BaseException:
            self.db.close()
            raise
        if not readonly:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()

    @classmethod
    def open_existing(cls, path: Path, *, readonly: bool = False) -> "RunStore":
        if not Path(path).is_file():
            raise FileNotFoundError(f"{path}: no run store here")
        return cls(path, readonly=readonly)

    @property
    def version(self) -> int:
        return store_version(self.db)

    def _check_version(self) -> None:
        version = store_version(self.db)
        if version > STORE_VERSION:
            raise StoreVersionError(
                f"{self.path}: this run store is version {version}, written by a newer svgarena (this one reads "
                f"versions 1-{STORE_VERSION}); upgrade svgarena to open it")
        if self.readonly and version and version < STORE_VERSION:
            raise StoreVersionError(
                f"{self.path}: this run store is version {version} and cannot be upgraded read-only; run "
                f"`svgarena report {self.path.parent}` once to migrate it to version {STORE_VERSION}")

    def _migrate(self) -> None:
        """Create a new store, or bring a version-1 store to version 2 in place (additive, one transaction)."""
        version = store_version(self.db)
        if version == STORE_VERSION:
            self.db.executescript(SCHEMA)  # tables added later in the same version, if any
            return
        with self._tx():
            if version == 1:
                for table, columns in _V2_COLUMNS.items():
                    have = {r[1] for r in self.db.execute(f"PRAGMA table_info({table})")}
                    for name, decl in columns:
                        if name not in have:
                            self.db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    self.db.execute(statement)
            if version == 1:  # every version-1 trajectory is one direct answer: round 0, selected
                self.db.execute("INSERT OR IGNORE INTO round_scores (trajectory_id, round, metric, value, ok, error) "
                                "SELECT s.trajectory_id, COALESCE(MAX(a.round), 0), s.metric, s.value, s.ok, s.error "
                                "FROM scores s LEFT JOIN attempts a ON a.trajectory_id = s.trajectory_id "
                                "GROUP BY s.trajectory_id, s.metric")
                self.db.execute("UPDATE trajectories SET selection='last', selected_round=(SELECT MAX(round) FROM "
                                "attempts a WHERE a.trajectory_id = trajectories.id) WHERE status='done'")
                self.db.execute("INSERT OR IGNORE INTO round_set_scores (task, model, solver, round, metric, view, "
                                "value, n_ref, n_pred, error, created) SELECT task, model, solver, 0, metric, view, "
                                "value, n_ref, n_pred, error, created FROM set_scores")
            self.db.execute(f"PRAGMA user_version={STORE_VERSION}")

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
                self.db.execute("DELETE FROM round_scores WHERE trajectory_id=?", (tid,))
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
        """Append one round (keys of ``ATTEMPT_COLUMNS``; lists/dicts for the JSON columns)."""
        values = _attempt_values(attempt)
        self.db.execute(
            f"INSERT INTO attempts (trajectory_id, {', '.join(ATTEMPT_COLUMNS)}, created) "
            f"VALUES (?, {', '.join('?' * len(ATTEMPT_COLUMNS))}, ?)",
            (trajectory_id, *values, time.time()),
        )

    def replace_attempt(self, trajectory_id: int, attempt: dict[str, Any]) -> None:
        """Rewrite a round already stored (same keys as ``add_attempt``; the round number picks the row)."""
        values = _attempt_values(attempt)
        self.db.execute(
            f"UPDATE attempts SET {', '.join(f'{c}=?' for c in ATTEMPT_COLUMNS)} WHERE trajectory_id=? AND round=?",
            (*values, trajectory_id, attempt["round"]),
        )

    def set_attempt_feedback(self, trajectory_id: int, round_no: int, *, feedback: str, feedback_mode: str,
                             feedback_images: list[str] | None = None) -> None:
        """Record the feedback shown after a round once the solver has built it (the round row exists already)."""
        self.db.execute(
            "UPDATE attempts SET feedback=?, feedback_mode=?, feedback_images=? WHERE trajectory_id=? AND round=?",
            (feedback, feedback_mode, json.dumps(feedback_images or []), trajectory_id, round_no))

    def finish_trajectory(self, trajectory_id: int, *, outcome: str, answer: str | None,
                          media: dict[str, str] | None = None, stop_reason: str = "",
                          scores: Iterable[tuple[str, float | None, bool, str | None]],
                          round_scores: Iterable[tuple[int, str, float | None, bool, str | None]] = (),
                          selection: str = "last", selected_round: int | None = None,
                          arm: dict[str, Any] | None = None) -> None:
        """Write the headline scores (the selected round's), every round's scores, and mark it done, atomically."""
        with self._tx():
            self.db.executemany(
                "INSERT OR REPLACE INTO scores (trajectory_id, metric, value, ok, error) VALUES (?,?,?,?,?)",
                [(trajectory_id, m, v, int(ok), err) for m, v, ok, err in scores],
            )
            self.db.executemany(
                "INSERT OR REPLACE INTO round_scores (trajectory_id, round, metric, value, ok, error) "
                "VALUES (?,?,?,?,?,?)",
                [(trajectory_id, r, m, v, int(ok), err) for r, m, v, ok, err in round_scores],
            )
            if selected_round is None:
                row = self.db.execute("SELECT MAX(round) FROM attempts WHERE trajectory_id=?",
                                      (trajectory_id,)).fetchone()
                selected_round = row[0] if row and row[0] is not None else 0
            self.db.execute(
                "UPDATE trajectories SET status='done', outcome=?, answer=?, media=?, stop_reason=?, finished=?, "
                "selection=?, selected_round=?, arm=? WHERE id=?",
                (outcome, answer, json.dumps(media or {}, sort_keys=True), stop_reason, time.time(), selection,
                 selected_round, json.dumps(arm, sort_keys=True) if arm is not None else None, trajectory_id),
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

    def put_round_scores(self, rows: Iterable[tuple[int, int, str, float | None, bool, str | None]]) -> None:
        """Insert or replace per-round scores ``(trajectory_id, round, metric, value, ok, error)``."""
        with self._tx():
            self.db.executemany(
                "INSERT OR REPLACE INTO round_scores (trajectory_id, round, metric, value, ok, error) "
                "VALUES (?,?,?,?,?,?)",
                [(tid, r, m, v, int(ok), err) for tid, r, m, v, ok, err in rows],
            )

    def put_round_set_scores(self, task: str, model: str, solver: str, round_no: int, scores: Iterable[Any]) -> None:
        """Insert or replace one round's set-level scores (objects as for ``put_set_scores``)."""
        now = time.time()
        with self._tx():
            self.db.executemany(
                "INSERT OR REPLACE INTO round_set_scores (task, model, solver, round, metric, view, value, n_ref, "
                "n_pred, error, created) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [(task, model, solver, round_no, s.metric, s.view, s.value, s.n_ref, s.n_pred, s.error, now)
                 for s in scores],
            )

    def round_scores(self) -> Iterator[sqlite3.Row]:
        """Every finished trajectory's per-round scores, with the trajectory's identity."""
        yield from self.db.execute(
            "SELECT t.id AS trajectory_id, t.task, t.model, t.solver, t.sample_id, t.epoch, t.subject, "
            "t.selected_round, r.round, r.metric, r.value, r.ok, r.error FROM round_scores r "
            "JOIN trajectories t ON t.id = r.trajectory_id WHERE t.status='done' ORDER BY t.id, r.round")

    def round_set_scores(self) -> Iterator[sqlite3.Row]:
        yield from self.db.execute("SELECT * FROM round_set_scores ORDER BY task, model, solver, round, metric, view")

    # -- heartbeat (live state for the dashboard and `watch`) ---------------------------------
    def put_heartbeat(self, key: str, data: dict[str, Any]) -> None:
        self.db.execute("INSERT OR REPLACE INTO heartbeat (key, updated, data) VALUES (?,?,?)",
                        (key, time.time(), json.dumps(data, sort_keys=True, default=str)))

    def heartbeats(self) -> dict[str, dict[str, Any]]:
        """``{key: {"updated": t, **data}}`` for every heartbeat row."""
        return {r["key"]: {"updated": r["updated"], **json.loads(r["data"])}
                for r in self.db.execute("SELECT key, updated, data FROM heartbeat")}

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
