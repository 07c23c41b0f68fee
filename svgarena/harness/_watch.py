"""``svgarena watch``: follow a run another process is writing, from its store alone.

The store is the attach channel: a read-only WAL reader never blocks the writer and cannot write,
so there is no socket to serve and nothing to corrupt. Each poll builds one :class:`Snapshot`
(plain data); a terminal gets it redrawn by Rich Live at a bounded rate, a pipe gets a line log
printed only when something changed. It stops once the run's status says the runner is gone.
"""

from __future__ import annotations

import math
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from svgarena.harness._failures import recent_failures
from svgarena.harness._store import RunStore
from svgarena.outcome import Outcome

ENDED = ("finished", "stopped", "interrupted")  # run statuses after which nothing more is written
POLL_S = 0.5  # one store read and at most one redraw per poll: ~2 per second


@dataclass
class Row:
    """Progress of one (task, model) so far."""

    task: str
    model: str
    done: int = 0
    ok: int = 0
    running: int = 0
    total: int | None = None  # from the runner's plan heartbeat; None when unknown
    metric: str | None = None  # headline metric: the task's first metric with scores so far
    value: float | None = None  # its mean over the scored samples so far

    @property
    def success_rate(self) -> float | None:
        return 100.0 * self.ok / self.done if self.done else None


@dataclass
class Snapshot:
    run_id: str
    status: str
    rows: list[Row] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    taken: float = 0.0

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    def lines(self) -> list[str]:
        """The snapshot as plain text lines (the non-TTY log, and the tests' view)."""
        out = [f"run {self.run_id}: {self.status}"]
        for r in self.rows:
            total = r.total if r.total is not None else "?"
            sr = "-" if r.success_rate is None else f"{r.success_rate:.1f}%"
            metric = f", {_headline(r.metric, r.value)}" if r.metric else ""
            running = f", {r.running} running" if r.running else ""
            out.append(f"  {r.task}  {r.model}: {r.done}/{total} done, SR {sr}{metric}{running}")
        for f in self.failures:
            out.append(f"  failed {f['task']} {f['model']} {f['sample_id']} (round {f['round']}): "
                       f"{f['outcome']}: {f['reason']}")
        return out


def _headline(metric: str | None, value: float | None) -> str:
    """``SSIM 0.812``: the metric's display label and format, as in the results tables."""
    from svgarena.harness._report import METRIC_LABELS

    if metric is None:
        return "-"
    label, fmt = METRIC_LABELS.get(metric, (metric, "{:.3f}"))
    return f"{label} {'-' if value is None or math.isnan(value) else fmt.format(value)}"


def snapshot(store: RunStore, n_failures: int = 5) -> Snapshot:
    """What the run looks like now. Every query is one short read transaction (autocommit)."""
    from svgarena.tasks import TASKS

    info = store.db.execute("SELECT run_id, status FROM runs LIMIT 1").fetchone()
    snap = Snapshot(run_id=info["run_id"] if info else "?", status=info["status"] if info else "starting",
                    taken=time.time())
    rows: dict[tuple[str, str], Row] = {}

    def row(task: str, model: str) -> Row:
        return rows.setdefault((task, model), Row(task, model))

    plan = store.heartbeats().get("plan", {})
    for unit in plan.get("units", []):
        row(unit["task"], unit["model"]).total = int(unit["total"])
    for r in store.db.execute(
            "SELECT task, model, status, outcome, COUNT(*) AS n FROM trajectories GROUP BY task, model, status, outcome"
    ).fetchall():
        g = row(r["task"], r["model"])
        if r["status"] == "done":
            g.done += r["n"]
            g.ok += r["n"] if r["outcome"] == Outcome.OK.value else 0
        else:
            g.running += r["n"]
    means = {(r["task"], r["model"], r["metric"]): r["mean"] for r in store.db.execute(
        "SELECT t.task, t.model, s.metric, AVG(s.value) AS mean FROM scores s JOIN trajectories t "
        "ON t.id = s.trajectory_id WHERE t.status='done' AND s.value IS NOT NULL GROUP BY t.task, t.model, s.metric"
    ).fetchall()}
    for (task, model), g in rows.items():
        spec = TASKS.get(task)
        for name in (spec.metrics if spec else ()):
            if (task, model, name) in means:
                g.metric, g.value = name, means[(task, model, name)]
                break
    order = {t: i for i, t in enumerate(TASKS)}
    snap.rows = sorted(rows.values(), key=lambda g: (order.get(g.task, len(order)), g.task, g.model))
    snap.failures = recent_failures(store, n_failures)
    return snap


def render(snap: Snapshot) -> Any:
    """The snapshot as a Rich renderable: a progress table and the last failures."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"run {snap.run_id}: {snap.status}", title_justify="left", header_style="bold")
    for col in ("task", "model", "done", "SR %", "headline", "running"):
        table.add_column(col, justify="left" if col in ("task", "model", "headline") else "right")
    for r in snap.rows:
        total = r.total if r.total is not None else "?"
        table.add_row(r.task, r.model, f"{r.done}/{total}",
                      "-" if r.success_rate is None else f"{r.success_rate:.1f}",
                      _headline(r.metric, r.value), str(r.running))
    parts: list[Any] = [table]
    if snap.failures:
        parts.append(Text("last failures:", style="bold"))
        for f in snap.failures:
            parts.append(Text(f"  {f['task']} {f['model']} {f['sample_id']} (round {f['round']}): "
                              f"{f['outcome']}: {f['reason']}", overflow="ellipsis", no_wrap=True))
    return Group(*parts)


def _read(path: Path) -> Snapshot | None:
    """One snapshot, or None while the writer has not created the store's tables yet."""
    try:
        store = RunStore.open_existing(path, readonly=True)
    except sqlite3.OperationalError:
        return None
    try:
        return snapshot(store)
    except sqlite3.OperationalError:  # e.g. no such table: the writer is still creating the store
        return None
    finally:
        store.close()


def watch(path: Path, *, live: bool, console: Any, poll_s: float = POLL_S,
          timeout_s: float | None = None, sleep: Callable[[float], None] = time.sleep) -> Snapshot | None:
    """Follow the store at ``path`` until its run has ended (or ``timeout_s`` passed); returns the
    last snapshot. ``live``: redraw in place with Rich Live; otherwise print lines on change."""
    start = time.monotonic()
    printed: list[str] | None = None

    def show(snap: Snapshot) -> None:
        nonlocal printed
        lines = snap.lines()
        if lines != printed:
            for line in lines:
                console.print(line, markup=False, highlight=False, soft_wrap=True)
            printed = lines

    def follow(draw) -> Snapshot | None:
        last: Snapshot | None = None
        while True:
            snap = _read(path)
            if snap is not None:
                last = snap
                draw(snap)
                if snap.ended:
                    return last
            if timeout_s is not None and time.monotonic() - start > timeout_s:
                return last
            sleep(poll_s)

    if live:
        from rich.live import Live

        with Live(console=console, auto_refresh=False, transient=False) as screen:
            return follow(lambda snap: screen.update(render(snap), refresh=True))
    return follow(show)
    while True:
        snap = _read(path)
        if snap is not None:
            last = snap
            show(snap)
            if snap.ended:
                break
        if timeout_s is not None and time.monotonic() - start > timeout_s:
            break
        sleep(poll_s)
    return last
