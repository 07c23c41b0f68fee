"""Store versions: a version-1 run folder (svgarena 0.1) opens, migrates in place, and keeps its numbers."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from svgarena.harness import RunStore, TrajectoryKey
from svgarena.harness._store import STORE_VERSION, StoreVersionError

# The version-1 schema exactly as svgarena 0.1 wrote it (no user_version, no per-round tables).
V1_SCHEMA = """
CREATE TABLE runs (run_id TEXT PRIMARY KEY, created REAL NOT NULL, updated REAL NOT NULL, status TEXT NOT NULL,
    config TEXT NOT NULL, meta TEXT NOT NULL);
CREATE TABLE trajectories (id INTEGER PRIMARY KEY, task TEXT NOT NULL, model TEXT NOT NULL, solver TEXT NOT NULL,
    sample_id TEXT NOT NULL, epoch INTEGER NOT NULL, status TEXT NOT NULL, outcome TEXT, answer TEXT, media TEXT,
    subject TEXT, stop_reason TEXT, started REAL NOT NULL, finished REAL,
    UNIQUE (task, model, solver, sample_id, epoch));
CREATE TABLE attempts (id INTEGER PRIMARY KEY, trajectory_id INTEGER NOT NULL REFERENCES trajectories(id),
    round INTEGER NOT NULL, outcome TEXT NOT NULL, reason TEXT, reply TEXT, answer TEXT, rule TEXT,
    input_tokens INTEGER, output_tokens INTEGER, cost_usd REAL, latency_s REAL, retries INTEGER, renderer TEXT,
    render_seconds REAL, feedback TEXT, created REAL NOT NULL, UNIQUE (trajectory_id, round));
CREATE TABLE scores (trajectory_id INTEGER NOT NULL REFERENCES trajectories(id), metric TEXT NOT NULL, value REAL,
    ok INTEGER NOT NULL, error TEXT, PRIMARY KEY (trajectory_id, metric));
CREATE TABLE set_scores (task TEXT NOT NULL, model TEXT NOT NULL, solver TEXT NOT NULL, metric TEXT NOT NULL,
    view TEXT NOT NULL, value REAL, n_ref INTEGER NOT NULL, n_pred INTEGER NOT NULL, error TEXT,
    created REAL NOT NULL, PRIMARY KEY (task, model, solver, metric, view));
CREATE TABLE notes (id INTEGER PRIMARY KEY, created REAL NOT NULL, task TEXT, model TEXT, text TEXT NOT NULL);
"""


def _v1_store(path: Path) -> None:
    db = sqlite3.connect(path)
    db.executescript(V1_SCHEMA)
    db.execute("INSERT INTO runs VALUES ('r', 1, 1, 'finished', '{}', '{}')")
    db.execute("INSERT INTO trajectories VALUES (1, 'icon/img2svg', 'm', 'direct', 's1', 0, 'done', 'ok', 'a.svg', "
               "'{}', NULL, 'single call', 1, 2)")
    db.execute("INSERT INTO attempts (trajectory_id, round, outcome, created) VALUES (1, 0, 'ok', 1)")
    db.execute("INSERT INTO scores VALUES (1, 'ssim', 0.75, 1, NULL)")
    db.execute("INSERT INTO set_scores VALUES ('icon/img2svg', 'm', 'direct', 'fid', 'sarena', 3.5, 1, 1, NULL, 1)")
    db.commit()
    db.close()


def test_version_1_store_migrates_in_place_and_keeps_its_scores(tmp_path: Path) -> None:
    path = tmp_path / "run.sqlite"
    _v1_store(path)
    with pytest.raises(StoreVersionError, match="report"):  # a read-only open cannot migrate: one clear sentence
        RunStore.open_existing(path, readonly=True)
    store = RunStore.open_existing(path)
    assert store.version == STORE_VERSION
    assert [(r["round"], r["metric"], r["value"]) for r in store.round_scores()] == [(0, "ssim", 0.75)]
    assert [(r["metric"], r["value"]) for r in store.scores()] == [("ssim", 0.75)]
    traj = next(store.trajectories())
    assert (traj["selection"], traj["selected_round"]) == ("last", 0)
    assert [(r["round"], r["metric"], r["value"]) for r in store.round_set_scores()] == [(0, "fid", 3.5)]
    store.close()
    reader = RunStore.open_existing(path, readonly=True)  # migrated: now readable without writing
    assert reader.version == STORE_VERSION
    reader.close()


def test_store_newer_than_this_code_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "run.sqlite"
    RunStore(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={STORE_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(StoreVersionError, match="newer svgarena"):
        RunStore.open_existing(path)


def test_rounds_feedback_and_selection_are_stored(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "run.sqlite")
    store.init_run("r", {}, {})
    tid = store.start_trajectory(TrajectoryKey("icon/img2svg", "m", "refine", "s1"))
    for r in range(3):
        store.add_attempt(tid, {"round": r, "outcome": "ok", "svg_hash": f"h{r}", "media": {"png": f"{r}.png"},
                                "model_chose": r == 1})
        store.set_attempt_feedback(tid, r, feedback="look", feedback_mode="render", feedback_images=[f"{r}.png"])
    store.finish_trajectory(tid, outcome="ok", answer=None, scores=[("ssim", 0.9, True, None)],
                            round_scores=[(r, "ssim", 0.5 + 0.2 * r, True, None) for r in range(3)],
                            selection="best-model", selected_round=1, arm={"solver": "refine", "feedback": "render"})
    rows = list(store.attempts())
    assert [r["model_chose"] for r in rows] == [0, 1, 0]
    assert rows[2]["feedback_images"] == '["2.png"]' and rows[0]["media"] == '{"png": "0.png"}'
    assert [round(r["value"], 2) for r in store.round_scores()] == [0.5, 0.7, 0.9]
    traj = next(store.trajectories())
    assert traj["selected_round"] == 1 and traj["selection"] == "best-model"
    store.put_heartbeat("runner", {"in_flight": 3})
    assert store.heartbeats()["runner"]["in_flight"] == 3
    store.close()


def _newer_store(path: Path) -> None:
    RunStore(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={STORE_VERSION + 1}")
    db.commit()
    db.close()


# Commands that open a run store: on a store this code cannot open as asked each ends with one `error:` line.
# A version-1 store is migrated by the commands that open it for writing (report, score, run --resume), so only
# the read-only ones refuse it; a store from a newer svgarena is refused by every one.
_READONLY_COMMANDS = {
    "compare": ["compare", "{run}", "{run}"],
    "export": ["export", "{run}", "{tmp}/exported"],
    "merge": ["merge", "{run}", "--into", "{tmp}/merged"],
    "watch": ["watch", "{run}", "--no-live", "--timeout", "1"],
}
_ALL_COMMANDS = {
    **_READONLY_COMMANDS,
    "report": ["report", "{run}"],
    "report-rounds": ["report", "{run}", "--rounds"],
    "report-html": ["report", "{run}", "--html", "{tmp}/r.html"],
    "score": ["score", "{run}", "--metrics", "ssim"],
    "run-resume": ["run", "--resume", "r", "--no-preflight", "--model", "baseline/oracle", "--task", "icon/img2svg"],
}


@pytest.mark.parametrize(("kind", "command"), [("v1", c) for c in _READONLY_COMMANDS]
                         + [("newer", c) for c in _ALL_COMMANDS])
def test_cli_commands_refuse_a_store_they_cannot_open_with_one_line(kind: str, command: str, tmp_path: Path,
                                                                      monkeypatch) -> None:
    from typer.testing import CliRunner

    from svgarena.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SVGARENA_CONFIG_DIR", str(tmp_path / "config"))
    run_dir = tmp_path / "runs" / "r"
    run_dir.mkdir(parents=True)
    (_v1_store if kind == "v1" else _newer_store)(run_dir / "run.sqlite")
    argv = [a.format(run=run_dir, tmp=tmp_path) for a in _ALL_COMMANDS[command]]
    res = CliRunner().invoke(app, argv)
    assert res.exception is None or isinstance(res.exception, SystemExit), (
        f"{command}: {type(res.exception).__name__}: {res.exception}")
    assert res.exit_code == 2, (command, res.exit_code, res.stdout, res.stderr)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), (command, res.stderr)
    assert ("svgarena report" if kind == "v1" else "newer svgarena") in lines[0], lines[0]
    assert "Traceback" not in res.stdout + res.stderr
