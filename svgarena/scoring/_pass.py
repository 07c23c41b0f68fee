"""A scoring pass: every requested metric over groups of stored answers, streamed in batches.

The caller (the runner at the end of a run, or ``svgarena score``) supplies groups, one per
(task, model, solver), each able to iterate its ``ScoringItem``s, and a sink that stores what
comes out. The pass builds each metric once, loads each network once, walks every group once
(each batch goes to all of the group's metrics, so images are read once), writes per-sample
scores batch by batch and set-level scores per group.

A metric whose checkpoint is missing is skipped with one line per checkpoint naming the
metrics and the fetch command; a metric of a task that no module implements is reported as not
computed. Neither stops the pass. A batch whose metric raises is rescored sample by sample, so
only the sample that raised loses its value (with the error stored beside it).
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from svgarena.scoring._batch import Batch, ScoringItem
from svgarena.scoring._metrics import METRICS, Metric, ScoringContext, SetScore
from svgarena.scoring._scorer import COMPUTED_METRICS, SampleScore
from svgarena.scoring._weights import CheckpointMissing
from svgarena.tasks._types import Task

log = logging.getLogger(__name__)


@dataclass
class Group:
    """The stored answers of one (task, model, solver)."""

    task: Task
    model: str
    solver: str
    sample_ids: list[str]
    items: Callable[[], Iterable[ScoringItem]]
    done: frozenset[str] = frozenset()  # metrics already complete here (skipped when only_missing)


class Sink(Protocol):
    def put_scores(self, rows: list[tuple[int, str, float | None, bool, str | None]]) -> None: ...

    def put_set_scores(self, task: str, model: str, solver: str, scores: list[SetScore]) -> None: ...


@dataclass
class PassReport:
    """What a pass did: samples (or groups, for set metrics) scored per metric, and what it skipped."""

    scored: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # metric -> the line that explains it
    lines: list[str] = field(default_factory=list)  # the skip lines, one per checkpoint or reason
    line_metrics: dict[str, list[str]] = field(default_factory=dict)  # line -> the metrics it names
    seconds: float = 0.0


def runner_metrics() -> set[str]:
    """Metrics the runner does not score as samples finish: the neural and set-level ones."""
    return {name for name in METRICS if name not in COMPUTED_METRICS}


def _batches(items: Iterable[ScoringItem], size: int) -> Iterator[list[ScoringItem]]:
    chunk: list[ScoringItem] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _score_safely(metric: Metric, batch: Batch, ctx: ScoringContext, pending: Any = None) -> list[SampleScore]:
    """The metric over the batch; if it raises, sample by sample so only the culprit loses its value.

    ``pending``: the batch was already submitted (``metric.submit``, a remote metric); collect it.
    """
    try:
        scores = metric.collect(pending) if pending is not None else metric.score(batch, ctx)
        if len(scores) != len(batch):
            raise RuntimeError(f"{metric.name} returned {len(scores)} scores for {len(batch)} samples")
        # NaN (or infinite) values are left out of the means, as SArena skips them, with the reason kept
        return [SampleScore(None, s.ok, "the metric is NaN") if s.value is not None and not math.isfinite(s.value)
                else s for s in scores]
    except Exception as exc:  # noqa: BLE001
        if len(batch) == 1:
            return [SampleScore(None, batch.has_pred(0) or batch.has_pred_frames(0), f"{type(exc).__name__}: {exc}")]
    out = []
    for item in batch.items:
        out.extend(_score_safely(metric, Batch(batch.task, [item], batch.size), ctx))
    return out


def run_pass(groups: Iterable[Group], sink: Sink, ctx: ScoringContext, *, metrics: Iterable[str] | None = None,
             only_missing: bool = False, note: Callable[[str], None] = log.info,
             build: Callable[[str], Metric] | None = None,
             progress: Callable[[int, int, str], None] | None = None) -> PassReport:
    """Score ``groups`` on each task's metrics (restricted to ``metrics`` when given).

    ``build(name)`` makes each metric (default: the registry's factory); the Ray executor passes
    one that runs the neural metrics in scoring actors. ``progress(done, total, what)`` is called
    after every batch: samples of the pass gone through so far, of all groups' samples, and which group."""
    groups = list(groups)
    total = sum(len(g.sample_ids) for g in groups)
    done = 0
    if progress is not None:
        progress(0, total, "")
    wanted = set(metrics) if metrics is not None else None
    report = PassReport()
    started = time.monotonic()
    built: dict[str, Metric] = {}
    missing: dict[str, tuple[CheckpointMissing, list[str]]] = {}
    unavailable: list[str] = []

    def get(name: str) -> Metric | None:
        if name in report.skipped:
            return None
        if name in built:
            return built[name]
        if name not in METRICS:
            report.skipped[name] = "no implementation in this version"
            unavailable.append(name)
            return None
        metric = build(name) if build is not None else METRICS[name]()
        try:
            metric.prepare(ctx)
        except CheckpointMissing as exc:
            key = exc.checkpoint.name
            missing.setdefault(key, (exc, []))[1].append(name)
            report.skipped[name] = exc.line([name])
            return None
        except Exception as exc:  # noqa: BLE001 - a metric that cannot start is skipped, the pass goes on
            line = f"skipped {name}: it could not be loaded ({type(exc).__name__}: {exc})"
            report.skipped[name] = line
            report.lines.append(line)
            report.line_metrics[line] = [name]
            note(line)
            return None
        built[name] = metric
        return metric

    for group in groups:
        base, what = done, f"{group.task.id} {group.model}"
        names = [m for m in group.task.metrics if (wanted is None or m in wanted)]
        if only_missing:
            names = [m for m in names if m not in group.done]
        active = [m for m in (get(n) for n in names) if m is not None]
        if not active:
            done = base + len(group.sample_ids)
            if progress is not None:
                progress(done, total, what)
            continue
        per_sample = [m for m in active if not m.set_level]
        per_set = [m for m in active if m.set_level]
        key = f"{group.task.id}:{_hash(group.sample_ids)}"
        for m in per_set:
            m.begin(key, ctx)
        # Remote metrics (scoring actors) take batches through submit/collect: up to one batch per
        # actor is in flight while the driver reads the next; scores are written in batch order.
        window = max([getattr(m, "window", 1) for m in per_sample if hasattr(m, "submit")] or [1])
        in_flight: deque[tuple[list[ScoringItem], Batch, dict[str, Any]]] = deque()

        def finish(chunk: list[ScoringItem], batch: Batch, submitted: dict[str, Any]) -> None:
            nonlocal done
            rows: list[tuple[int, str, float | None, bool, str | None]] = []
            for m in per_sample:
                for item, s in zip(chunk, _score_safely(m, batch, ctx, submitted.get(m.name))):
                    rows.append((item.trajectory_id, m.name, s.value, s.ok, s.error))
                report.scored[m.name] = report.scored.get(m.name, 0) + len(chunk)
            if rows:
                sink.put_scores(rows)
            done += len(chunk)
            if progress is not None:
                progress(min(done, base + len(group.sample_ids)), total, what)

        for chunk in _batches(group.items(), max(1, ctx.batch_size)):
            batch = Batch(group.task, chunk, ctx.image_size)
            submitted = {m.name: m.submit(batch, ctx) for m in per_sample if hasattr(m, "submit")}
            for m in per_set:
                m.add(batch, ctx)
            in_flight.append((chunk, batch, submitted))
            while len(in_flight) > max(0, window - 1):
                finish(*in_flight.popleft())
        while in_flight:
            finish(*in_flight.popleft())
        for m in per_set:
            try:
                results = m.finish(ctx)
            except Exception as exc:  # noqa: BLE001
                results = [SetScore(m.name, v, None, 0, 0, f"{type(exc).__name__}: {exc}") for v in ("sarena", "ok_only")]
            sink.put_set_scores(group.task.id, group.model, group.solver, results)
            report.scored[m.name] = report.scored.get(m.name, 0) + 1
        if done != base + len(group.sample_ids):  # samples no longer in the suite were not scored
            done = base + len(group.sample_ids)
            if progress is not None:
                progress(done, total, what)

    for exc, names in missing.values():
        line = exc.line(names)
        report.lines.append(line)
        report.line_metrics[line] = list(names)
        note(line)
    if unavailable:
        names = sorted(set(unavailable))
        line = f"not computed: {', '.join(names)} (no implementation in this version)"
        report.lines.append(line)
        report.line_metrics[line] = names
        note(line)
    report.seconds = time.monotonic() - started
    return report


def _hash(ids: list[str]) -> str:
    from svgarena.scoring._metrics import group_key

    return group_key(ids)
