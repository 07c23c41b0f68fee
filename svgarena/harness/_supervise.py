"""A supervising parent for runs on a Ray cluster: the driver's unexpected death still ends in one line.

A run with ``--executor ray`` can lose its cluster in two ways. Usually the driver's head watch
sees it first: the run raises ``ClusterLost``, marks its store ``interrupted`` and exits 2 with one
line. But when the driver's local raylet dies before the watch notices, Ray's core worker ends the
driver process itself (exit 1, Ray's own message, the store left ``running``): nothing inside that
process can catch it. So ``svgarena run --executor ray`` runs the driver as a child process and
waits. When the child ends and its store still says ``running`` (it never closed: killed, or ended
by Ray), this parent, now the store's only writer, marks it ``interrupted``, notes why, and prints
the one line: ``lost the Ray cluster`` when the head recorded in the run's metadata no longer
answers, else that the driver ended unexpectedly. Either way the store is resumable as after a
SIGKILL.

The child gets its own process group, so a Ctrl-C at the terminal reaches only this parent, which
passes SIGINT (and SIGTERM, SIGHUP) on to the child once; the child dies with the parent
(``PR_SET_PDEATHSIG``), so SIGKILL of the parent still kills the driver, as it would without the
supervisor. Only the CLI uses this, and only for Ray runs.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

SUPERVISED_ENV = "SVGARENA_SUPERVISED"  # set in the child: it runs the driver itself


@dataclass
class ChildEnd:
    """How a supervised driver ended: its exit status, and the line to print when it died unexpectedly."""

    returncode: int
    message: str | None = None  # None: the child closed its store itself (and printed what it had to)


def supervising() -> bool:
    """True in the parent's position: not already a supervised child."""
    return os.environ.get(SUPERVISED_ENV) != "1"


def supervise(argv: list[str], run_dir: Path, resume_hint: str) -> ChildEnd:
    """Run ``svgarena <argv>`` as a child driver, forward signals, and judge how it ended."""
    env = dict(os.environ, **{SUPERVISED_ENV: "1"})
    parent = os.getpid()
    child = subprocess.Popen([sys.executable, "-m", "svgarena.cli", *argv], env=env,
                             preexec_fn=lambda: _die_with_parent(parent), process_group=0)
    forwarded: dict[int, object] = {}

    def forward(signum: int, _frame: object) -> None:
        try:
            child.send_signal(signum)
        except ProcessLookupError:
            pass

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        forwarded[sig] = signal.signal(sig, forward)
    try:
        returncode = child.wait()
    finally:
        for sig, handler in forwarded.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
    return judge(returncode, run_dir, resume_hint)


def judge(returncode: int, run_dir: Path, resume_hint: str) -> ChildEnd:
    """The child's end: passed through when it closed its store; else mark the store and say what happened."""
    path = run_dir / "run.sqlite"
    status, meta = _status(path)
    if status != "running":  # finished, stopped, interrupted, or no store at all: the child said it all
        return ChildEnd(returncode)
    how = f"killed by signal {signal.Signals(-returncode).name}" if returncode < 0 else f"exit {returncode}"
    head = meta.get("ray_head")
    from svgarena.sandboxes import head_unreachable

    gone = head_unreachable(head, timeout_s=3.0) if head else None
    if gone:
        what = f"lost the Ray cluster (the head {gone}; the driver process ended: {how})"
    else:
        what = f"the run's driver process ended unexpectedly ({how})"
    from svgarena.harness._store import RunStore

    store = RunStore(path)
    try:
        store.set_status("interrupted")
        store.add_note(f"interrupted: {what}")
    finally:
        store.close()
    return ChildEnd(2, f"error: {what}; the run is saved, finish it with: {resume_hint}")


def stored_executor(run_dir: Path) -> str | None:
    """The executor an existing run was started with (what ``--resume`` without ``--executor`` uses)."""
    try:
        con = sqlite3.connect(f"file:{run_dir / 'run.sqlite'}?mode=ro", uri=True, timeout=5.0)
        try:
            row = con.execute("SELECT config FROM runs LIMIT 1").fetchone()
        finally:
            con.close()
        return json.loads(row[0]).get("executor") if row else None
    except (sqlite3.Error, ValueError, TypeError):
        return None  # no readable store: the run itself says so


def _status(path: Path) -> tuple[str | None, dict]:
    if not path.is_file():
        return None, {}
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30.0)
    try:
        row = con.execute("SELECT status, meta FROM runs LIMIT 1").fetchone()
    except sqlite3.Error:
        return None, {}
    finally:
        con.close()
    if row is None:
        return None, {}
    return row[0], json.loads(row[1] or "{}")


def _die_with_parent(parent: int) -> None:
    """In the child, before exec: SIGKILL when the parent dies (Linux), so killing the parent kills the run."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)
