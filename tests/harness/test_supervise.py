"""The supervising parent of Ray runs: how a driver's end is judged, and the command line it re-runs."""

from __future__ import annotations

import signal
import socket
import sqlite3
from pathlib import Path

import typer

from svgarena.cli import _command_line, app
from svgarena.harness import RunStore, stored_executor
from svgarena.harness._supervise import judge


def _store(run_dir: Path, status: str, meta: dict) -> Path:
    path = run_dir / "run.sqlite"
    store = RunStore(path)
    store.init_run("r", {"executor": "ray"}, meta)
    store.set_status(status)
    store.close()
    return path


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status_and_notes(path: Path) -> tuple[str, list[str]]:
    con = sqlite3.connect(path)
    try:
        return (con.execute("SELECT status FROM runs").fetchone()[0],
                [r[0] for r in con.execute("SELECT text FROM notes")])
    finally:
        con.close()


def test_a_driver_that_closed_its_store_is_passed_through(tmp_path: Path) -> None:
    for status, code in (("finished", 0), ("interrupted", 2), ("stopped", 3), ("interrupted", 130)):
        path = _store(tmp_path, status, {"ray_head": f"127.0.0.1:{_closed_port()}"})
        end = judge(code, tmp_path, "svgarena run --resume r")
        assert (end.returncode, end.message) == (code, None)
        assert _status_and_notes(path) == (status, [])
        path.unlink()


def test_no_store_at_all_is_passed_through(tmp_path: Path) -> None:
    """A child that failed before creating its run folder (a bad flag, preflight) printed its own line."""
    assert judge(2, tmp_path / "absent", "x").message is None


def test_a_driver_ended_by_ray_with_the_head_gone_is_a_lost_cluster(tmp_path: Path) -> None:
    port = _closed_port()
    path = _store(tmp_path, "running", {"ray_head": f"127.0.0.1:{port}"})
    end = judge(1, tmp_path, "svgarena run --resume r --out runs")
    assert end.returncode == 2
    assert end.message.startswith(f"error: lost the Ray cluster (the head 127.0.0.1:{port}: ")
    assert "the driver process ended: exit 1" in end.message
    assert end.message.endswith("; the run is saved, finish it with: svgarena run --resume r --out runs")
    status, notes = _status_and_notes(path)
    assert status == "interrupted" and len(notes) == 1 and notes[0].startswith("interrupted: lost the Ray cluster")


def test_a_driver_killed_while_the_head_answers_is_an_unexpected_end(tmp_path: Path) -> None:
    with socket.socket() as head:
        head.bind(("127.0.0.1", 0))
        head.listen()
        path = _store(tmp_path, "running", {"ray_head": f"127.0.0.1:{head.getsockname()[1]}"})
        end = judge(-signal.SIGKILL, tmp_path, "svgarena run --resume r")
    assert end.returncode == 2
    assert end.message == ("error: the run's driver process ended unexpectedly (killed by signal SIGKILL); "
                           "the run is saved, finish it with: svgarena run --resume r")
    assert _status_and_notes(path)[0] == "interrupted"


def test_stored_executor(tmp_path: Path) -> None:
    assert stored_executor(tmp_path) is None
    _store(tmp_path, "running", {})
    assert stored_executor(tmp_path) == "ray"


def test_the_child_gets_the_options_given_and_only_those() -> None:
    command = typer.main.get_command(app)
    run = command.get_command(None, "run")  # type: ignore[attr-defined]
    given = ["--task", "icon/*", "--model", "a", "--model", "b/c", "--executor", "ray", "--no-cache",
             "--rounds", "2", "--json", "--max-cost", "1.5"]
    ctx = run.make_context("run", list(given))
    rebuilt = _command_line(ctx)
    assert rebuilt[0] == "run"
    again = run.make_context("run", rebuilt[1:])
    assert again.params == ctx.params
    assert "--limit" not in rebuilt and "--out" not in rebuilt  # defaults are left to the child


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def _supervised_watch(tmp_path: Path):
    """A supervising parent whose child follows a run that never ends (`svgarena watch`), and the child's pid."""
    import subprocess
    import sys
    import time

    _store(tmp_path, "running", {})
    code = ("import sys; from pathlib import Path; from svgarena.harness import supervise; "
            f"end = supervise(['watch', {str(tmp_path)!r}, '--no-live'], Path({str(tmp_path)!r}), 'RESUME'); "
            "print(end.returncode, end.message); sys.exit(end.returncode)")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.time() + 60
    while not _children(parent.pid) and time.time() < deadline:
        time.sleep(0.05)
    kids = _children(parent.pid)
    assert len(kids) == 1, "the supervisor must start one child"
    time.sleep(1.0)  # let the child get into its loop
    return parent, kids[0]


def test_killing_the_parent_kills_the_driver(tmp_path: Path) -> None:
    import time

    parent, child = _supervised_watch(tmp_path)
    parent.kill()
    parent.wait(timeout=10)
    deadline = time.time() + 10
    while _alive(child) and time.time() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "a SIGKILLed supervisor must take its driver with it"


def test_a_signal_to_the_parent_reaches_the_driver_once(tmp_path: Path) -> None:
    """Ctrl-C at a terminal goes to the parent's process group only; the parent passes it on."""
    parent, child = _supervised_watch(tmp_path)
    assert Path(f"/proc/{child}/stat").read_text().split()[4] == str(child)  # the child leads its own group
    parent.send_signal(signal.SIGINT)
    out, _ = parent.communicate(timeout=30)
    # watch ends with 130 on SIGINT (or, when the signal lands while it is still importing, dies of it); it never
    # closes a store, so the parent finds it 'running' and says so
    ends = [f"2 error: the run's driver process ended unexpectedly ({how}); the run is saved, finish it with: RESUME"
            for how in ("exit 130", "killed by signal SIGINT")]
    assert out.strip() in ends
