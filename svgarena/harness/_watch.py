"""``svgarena watch``: follow a run another process is writing, from its store alone.

The store is the attach channel: a read-only WAL reader never blocks the writer and cannot write,
so there is no socket to serve and nothing to corrupt. Each poll builds one :class:`Snapshot`
(plain data); a terminal gets it redrawn by Rich Live at a bounded rate, a pipe gets a line log
(the progress block when it changed, at most every few seconds, and each new failure once). It stops once the run's status says the runner is gone.
"""

from __future__ import annotations

import math
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from svgarena.harness._failures import failure_lines, failure_reasons, recent_failures, short_reason
from svgarena.harness._store import RunStore
from svgarena.outcome import Outcome

ENDED = ("finished", "stopped", "interrupted")  # run statuses after which nothing more is written
POLL_S = 0.5  # one store read and at most one redraw per poll: ~2 per second
STALE_S = 10.0  # a running run whose heartbeat is older than this is flagged (the runner may be gone)
REASONS_TOP = 2  # failure reasons kept per (task, model, solver) for the live views
REASON_LINES = 4  # failure-reason lines a frame shows at most (the report has them all)
# The grouped reasons scan every failed trajectory: computed again only when a trajectory has finished since.
_REASONS: dict[str, tuple[tuple[str, int, int], list[dict[str, Any]]]] = {}  # store path -> (key, entries)


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
class ModelLive:
    """One routed model's call layer now (from the runner's ``live`` heartbeat)."""

    name: str
    in_flight: int = 0
    limit: int = 0  # the adaptive concurrency limit now
    max_limit: int = 0
    calls: int = 0
    retries: int = 0
    rate_limited: int = 0  # 429 answers so far
    retry_after: int = 0  # of which said Retry-After
    backing_off: int = 0  # requests sleeping before a retry now
    paused_s: float = 0.0  # a Retry-After pause holding every new call back, seconds left
    out_tok_s: float = 0.0  # output tokens per second over the window
    backoff_share: float = 0.0  # share of the window's call-slot time spent sleeping in backoff
    window_s: float = 0.0
    unusable: str | None = None

    def line(self) -> str:
        share = f"{100 * self.backoff_share:.0f}%"
        text = (f"  {self.name}: {self.in_flight} in flight, limit {self.limit}/{self.max_limit}, "
                f"{self.out_tok_s:.1f} out tok/s, backoff {share} of the last {self.window_s:.0f}s, "
                f"{self.calls} calls, {self.retries} retries, {self.rate_limited} x 429")
        if self.retry_after:
            text += f" ({self.retry_after} Retry-After)"
        if self.backing_off:
            text += f", {self.backing_off} waiting to retry"
        if self.paused_s > 0:
            text += f", paused {self.paused_s:.1f}s"
        if self.unusable:
            text += f"; not called any more: {short_reason(self.unusable, 100)}"
        return text


@dataclass
class PoolLive:
    """The render pool's health (from the ``live`` heartbeat)."""

    backend: str = "?"
    size: int = 0
    alive: int = 0
    renders: int = 0
    crashes: int = 0
    timeouts: int = 0
    start_failures: int = 0
    renders_per_s: float = 0.0

    def line(self) -> str:
        text = (f"  render pool ({self.backend}): {self.alive}/{self.size} workers alive, {self.renders} renders, "
                f"{self.renders_per_s:.1f}/s, {self.crashes} crashes, {self.timeouts} timeouts")
        return text + (f", {self.start_failures} failed starts" if self.start_failures else "")


@dataclass
class Spend:
    """Tokens and cost so far against the caps (the budget the runner enforces)."""

    cost_usd: float = 0.0
    tokens: int = 0
    max_cost_usd: float | None = None
    max_tokens: int | None = None

    def line(self) -> str:
        cost = f"cost ${self.cost_usd:.4f}" + (f" of ${self.max_cost_usd:g} (--max-cost)" if self.max_cost_usd
                                                else " (no --max-cost)")
        tokens = f"tokens {self.tokens}" + (f" of {self.max_tokens} (--max-tokens)" if self.max_tokens
                                            else " (no --max-tokens)")
        return f"  {cost}, {tokens}"


@dataclass
class Snapshot:
    """Everything the dashboards draw, built from the store alone (tables plus the ``live`` heartbeat)."""

    run_id: str
    status: str
    rows: list[Row] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    reasons: list[dict[str, Any]] = field(default_factory=list)  # ``failure_reasons``: most common per task and model
    taken: float = 0.0
    solver: str = "direct"
    models: list[ModelLive] = field(default_factory=list)
    pool: PoolLive | None = None
    spend: Spend | None = None
    running_rounds: dict[int, int] = field(default_factory=dict)  # round being worked on -> trajectories
    finished_rounds: dict[int, int] = field(default_factory=dict)  # rounds used -> finished trajectories
    scoring: dict[str, Any] | None = None  # the end-of-run scoring pass: done, total, what, elapsed_s
    elapsed_s: float | None = None
    done_before: int = 0  # finished before this invocation of the runner (a resume): not in its pace
    live_age_s: float | None = None  # seconds since the runner last wrote its heartbeat

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    @property
    def multi_round(self) -> bool:
        return self.solver != "direct" or any(n > 1 for n in self.finished_rounds)

    @property
    def progress(self) -> tuple[int, int | None]:
        """(finished trajectories, planned ones or None when a unit's total is unknown)."""
        done = sum(r.done for r in self.rows)
        totals = [r.total for r in self.rows]
        return done, (sum(totals) if totals and None not in totals else None)  # type: ignore[arg-type]

    @property
    def left_s(self) -> float | None:
        """Time left at the pace so far (None before the first finished trajectory or without a plan)."""
        done, total = self.progress
        now = done - self.done_before
        if now <= 0 or total is None or self.elapsed_s is None:
            return None
        return max(0.0, self.elapsed_s / now * (total - done))

    def progress_line(self) -> str:
        done, total = self.progress
        text = f"  {done}/{total if total is not None else '?'} trajectories done"
        if self.elapsed_s is not None:
            text += f", {_clock(self.elapsed_s)} elapsed"
        if self.left_s is not None and not self.ended:
            text += f", about {_clock(self.left_s)} left"
        return text

    def scoring_line(self) -> str:
        s = self.scoring or {}
        done, total, elapsed = int(s.get("done", 0)), int(s.get("total", 0)), float(s.get("elapsed_s", 0.0))
        text = f"  scoring pass: {done}/{total} samples"
        if done < total:
            text += f", {_clock(elapsed)} elapsed"
            if done:
                text += f", about {_clock(elapsed / done * (total - done))} left"
            if s.get("what"):
                text += f" [{s['what']}]"
        else:
            text += f" scored in {_clock(elapsed)}"
        return text

    def rounds_line(self) -> str:
        at = ", ".join(f"round {r}: {n}" for r, n in sorted(self.running_rounds.items())) or "none running"
        used = ", ".join(f"{r} round{'s' if r != 1 else ''}: {n}" for r, n in sorted(self.finished_rounds.items()))
        return f"  trajectories at {at}; finished after {used or '-'}"

    def lines(self) -> list[str]:
        """The snapshot as plain text lines (the non-TTY log, and the tests' view)."""
        out = [f"run {self.run_id}: {self.status}"]
        for r in self.rows:
            total = r.total if r.total is not None else "?"
            sr = "-" if r.success_rate is None else f"{r.success_rate:.1f}%"
            metric = f", {_headline(r.metric, r.value)}" if r.metric else ""
            running = f", {r.running} running" if r.running else ""
            out.append(f"  {r.task}  {r.model}: {r.done}/{total} done, SR {sr}{metric}{running}")
        if self.rows:
            out.append(self.progress_line())
        if self.multi_round:
            out.append(self.rounds_line())
        if self.scoring is not None:
            out.append(self.scoring_line())
        out += [m.line() for m in self.models]
        if self.spend is not None:
            out.append(self.spend.line())
        if self.pool is not None:
            out.append(self.pool.line())
        if self.reasons:
            out.append("  most common failure reasons:")
            out += [f"    {line}" for line in self.reason_lines()]
        for f in self.failures:
            out.append(failure_line(f))
        return out

    def reason_lines(self, cap: int = REASON_LINES) -> list[str]:
        """``task  model: N x outcome: reason``, the groups with most failures first, at most ``cap`` lines."""
        lines = failure_lines(sorted(self.reasons, key=lambda e: -e["failed"]))
        if len(lines) > cap:
            lines = lines[:cap - 1] + [f"... {len(lines) - cap + 1} more (svgarena report {self.run_id})"]
        return lines


def failure_line(f: dict[str, Any]) -> str:
    return f"  failed {f['task']} {f['model']} {f['sample_id']} (round {f['round']}): {f['outcome']}: {f['reason']}"


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
    snap.reasons = _reasons(store, snap)
    _add_live(store, snap)
    return snap


def _reasons(store: RunStore, snap: Snapshot) -> list[dict[str, Any]]:
    """``failure_reasons`` of the store, from a cache while no trajectory has finished since the last frame
    (the query reads every failed trajectory's round; a frame costs only the counts it already has)."""
    done = sum(r.done for r in snap.rows)
    key = (snap.run_id, done, done - sum(r.ok for r in snap.rows))
    cached = _REASONS.get(str(store.path))
    if cached is not None and cached[0] == key:
        return cached[1]
    entries = failure_reasons(store, REASONS_TOP) if key[2] else []
    _REASONS[str(store.path)] = (key, entries)
    return entries


def _pick(cls: type, data: dict[str, Any], **extra: Any) -> Any:
    """A dataclass from a heartbeat dict, ignoring keys it does not know (a newer writer)."""
    names = set(cls.__dataclass_fields__)
    return cls(**{k: v for k, v in data.items() if k in names}, **extra)


def _add_live(store: RunStore, snap: Snapshot) -> None:
    """The runner's ``live`` heartbeat (calls, budget, pool) and the refine round counts."""
    import json

    from svgarena.harness._live import LIVE_KEY, SCORING_KEY

    beats = store.heartbeats()
    snap.scoring = beats.get(SCORING_KEY)
    live = beats.get(LIVE_KEY)
    if live:
        snap.models = [_pick(ModelLive, m, name=name) for name, m in sorted((live.get("models") or {}).items())]
        if live.get("spend") is not None:
            snap.spend = _pick(Spend, live["spend"])
        if live.get("pool") is not None:
            snap.pool = _pick(PoolLive, live["pool"])
        snap.elapsed_s = live.get("elapsed_s")
        snap.done_before = int(live.get("done_before") or 0)
        snap.live_age_s = max(0.0, snap.taken - float(live.get("updated", snap.taken)))
    row = store.db.execute("SELECT config FROM runs LIMIT 1").fetchone()
    if row is not None:
        try:
            snap.solver = json.loads(row["config"]).get("solver") or "direct"
        except ValueError:
            pass
    for r in store.db.execute(
            "SELECT done, n, COUNT(*) AS k FROM (SELECT t.status = 'done' AS done, COUNT(a.id) AS n FROM trajectories t "
            "LEFT JOIN attempts a ON a.trajectory_id = t.id GROUP BY t.id) GROUP BY done, n").fetchall():
        (snap.finished_rounds if r["done"] else snap.running_rounds)[int(r["n"])] = int(r["k"])


def render(snap: Snapshot) -> Any:
    """The snapshot as a Rich renderable: progress per task and model, the call layer per model,
    spend against the caps, the render pool, refine rounds, the most common failure reasons per task and
    model, and the last failures."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    title = f"run {snap.run_id}: {snap.status}  " + snap.progress_line().strip()
    if snap.live_age_s is not None and not snap.ended and snap.live_age_s > STALE_S:
        title += f"  [no heartbeat for {snap.live_age_s:.0f}s]"
    table = Table(title=title, title_justify="left", header_style="bold")
    for col in ("task", "model", "done", "SR %", "headline", "running"):
        table.add_column(col, justify="left" if col in ("task", "model", "headline") else "right")
    for r in snap.rows:
        total = r.total if r.total is not None else "?"
        table.add_row(r.task, r.model, f"{r.done}/{total}",
                      "-" if r.success_rate is None else f"{r.success_rate:.1f}",
                      _headline(r.metric, r.value), str(r.running))
    parts: list[Any] = [table]
    if snap.models:  # lines, not a second table: a Rich table costs ~5 ms of CPU per frame, a line ~0.1 ms
        parts.append(Text("model calls:", style="bold"))
        for m in snap.models:
            parts.append(Text(m.line(), style="red" if m.unusable else ""))
    for text in ([snap.scoring_line().strip()] if snap.scoring is not None else []) + \
            ([snap.spend.line().strip()] if snap.spend else []) + \
            ([snap.pool.line().strip()] if snap.pool else []) + ([snap.rounds_line().strip()] if snap.multi_round else []):
        parts.append(Text(text, overflow="ellipsis", no_wrap=True))
    if snap.reasons:
        parts.append(Text("most common failure reasons:", style="bold"))
        for line in snap.reason_lines():  # wrapped, not cut, as the failures below
            parts.append(Text(f"  {line}"))
    if snap.failures:
        parts.append(Text("last failures:", style="bold"))
        for f in snap.failures:  # wrapped, not cut: the end of a reason often names the fix (a key variable)
            parts.append(Text(failure_line(f)))
    return Group(*parts)


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _read(path: Path) -> Snapshot | None:
    """One snapshot, or None while the writer has not created the store's tables yet."""
    try:
        store = RunStore.open_existing(path, readonly=True)
    except (sqlite3.OperationalError, FileNotFoundError):
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
    last snapshot. ``live``: redraw in place with Rich Live; otherwise a line log (``_dashboard.LineLog``)."""
    from svgarena.harness._dashboard import LineLog

    start = time.monotonic()
    log = LineLog(lambda line: console.print(line, markup=False, highlight=False, soft_wrap=True))
    show = log.update

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
