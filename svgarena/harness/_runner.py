"""The runner: suite x tasks x models through a solver, into the store, scored as samples finish.

Model calls are I/O-bound and run concurrently (``concurrency`` in flight per model); renders go
to the sandboxed worker pool; per-sample scoring runs in a thread so the event loop stays free.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from svgarena.agents import Attempt, Model, SolverContext, get_model, get_solver
from svgarena.harness._artifacts import ArtifactStore
from svgarena.harness._config import RunConfig
from svgarena.harness._meta import run_metadata
from svgarena.harness._store import RunStore, TrajectoryKey
from svgarena.outcome import Outcome
from svgarena.sandboxes import RenderSpec
from svgarena.tasks import AnswerKind, Sample, Task, iter_samples, resolve_suite, select_tasks

log = logging.getLogger("svgarena.run")

DEFAULT_MODELS = ("baseline/oracle", "baseline/vtracer", "baseline/blank")


class Progress(Protocol):
    """What the runner reports as it goes (the CLI draws bars; tests pass nothing)."""

    def start(self, task: str, model: str, total: int) -> None: ...

    def advance(self, task: str, model: str, outcome: Outcome) -> None: ...

    def note(self, text: str) -> None: ...


class _Silent:
    def start(self, task: str, model: str, total: int) -> None: ...

    def advance(self, task: str, model: str, outcome: Outcome) -> None: ...

    def note(self, text: str) -> None:
        log.info(text)


@dataclass
class RunSummary:
    run_id: str
    run_dir: Path
    done: int = 0
    skipped: int = 0  # already finished before this invocation (resume)
    cleared: int = 0  # unfinished trajectories a killed run left, redone now
    outcomes: dict[str, int] = field(default_factory=dict)


def open_run(config: RunConfig, resume: bool) -> tuple[RunConfig, RunStore]:
    """Create a run folder, or reopen one to resume it with its stored config."""
    path = config.run_dir / "run.sqlite"
    if resume:
        if not path.is_file():
            raise FileNotFoundError(f"{config.run_dir}: no run to resume (no run.sqlite); check --run-id/--out")
        store = RunStore(path)
        stored = RunConfig.from_dict(store.run_info()["config"])
        stored.out = config.out  # the folder may have moved
        return stored, store
    if path.exists():
        raise FileExistsError(f"{config.run_dir}: a run with this id exists; use --resume {config.run_id}")
    store = RunStore(path)
    store.init_run(config.run_id, config.to_dict(), run_metadata(config.seed))
    return config, store


async def execute(config: RunConfig, *, resume: bool = False, progress: Progress | None = None) -> RunSummary:
    """Run (or resume) everything the config asks for; returns what happened.

    The suite is loaded and checked before a run folder is created, so a bad suite leaves nothing behind.
    """
    progress = progress or _Silent()
    if resume:
        config, store = open_run(config, resume=True)
        try:
            plan = _plan(config)
        except BaseException:
            store.close()
            raise
    else:
        plan = _plan(config)
        config, store = open_run(config, resume=False)
    summary = RunSummary(run_id=config.run_id, run_dir=config.run_dir)
    if resume:
        summary.cleared = store.clear_unfinished()
        store.init_run(config.run_id, config.to_dict(), {})
    try:
        await _execute(config, plan, store, progress, summary)
        store.set_status("finished")
    except BaseException:
        store.set_status("interrupted")
        raise
    finally:
        store.close()
    return summary


@dataclass
class _Plan:
    models: list[Model]
    units: list[tuple[Task, Model, list[Sample]]]


def _plan(config: RunConfig) -> _Plan:
    """Which model answers which samples of which task; loads (and so validates) the suite."""
    root = resolve_suite(config.suite, config.data)
    tasks = select_tasks(root, config.tasks or None)
    if not tasks:
        raise ValueError(f"no task matching {' '.join(config.tasks)} in suite {root}")
    get_solver(config.solver)  # fail early on an unknown solver
    explicit = bool(config.models)
    models = [get_model(name) for name in (config.models or DEFAULT_MODELS)]
    units = []
    for model in models:
        for task in tasks:
            if model.supports(task) and not explicit:
                continue  # the main job runs each baseline only where it can answer
            units.append((task, model, list(_limited(iter_samples(root, task), config.limit))))
    return _Plan(models=models, units=units)


async def _execute(config: RunConfig, plan: _Plan, store: RunStore, progress: Progress, summary: RunSummary) -> None:
    from svgarena.sandboxes import LocalRenderer
    from svgarena.scoring import get_token_counter

    solve = get_solver(config.solver)
    tokens = get_token_counter(config.tokenizer)
    store.update_meta(tokenizer=tokens.name)
    artifacts = ArtifactStore(config.run_dir / "artifacts")
    done = store.done_keys()

    spec = RenderSpec(timeout_s=config.render_timeout_s)
    renderer = LocalRenderer(config.workers)
    animation = _LazyAnimation()
    try:
        queues: dict[str, list[tuple[Task, Sample, int]]] = {}
        model_by_name = {m.name: m for m in plan.models}
        for task, model, samples in plan.units:
            todo = []
            for sample in samples:
                for epoch in range(config.epochs):
                    key = TrajectoryKey(task.id, model.name, config.solver, sample.id, epoch)
                    if key in done:
                        summary.skipped += 1
                    else:
                        todo.append((task, sample, epoch))
            total = len(samples) * config.epochs
            progress.start(task.id, model.name, total)
            for _ in range(total - len(todo)):
                progress.advance(task.id, model.name, Outcome.OK)
            queues.setdefault(model.name, []).extend(todo)

        async def worker(model: Model, units: Iterator[tuple[Task, Sample, int]]) -> None:
            for task, sample, epoch in units:
                outcome = await _run_one(task, sample, epoch, model, config, store, artifacts, renderer,
                                         animation, spec, solve, tokens)
                summary.done += 1
                summary.outcomes[outcome.value] = summary.outcomes.get(outcome.value, 0) + 1
                progress.advance(task.id, model.name, outcome)

        jobs = []
        for name, units in queues.items():
            it = iter(units)  # shared by this model's workers: each unit is taken exactly once
            jobs += [worker(model_by_name[name], it) for _ in range(max(1, config.concurrency))]
        await asyncio.gather(*jobs)
    finally:
        await renderer.close()
        await animation.close()


async def _run_one(task: Task, sample: Sample, epoch: int, model: Model, config: RunConfig, store: RunStore,
                   artifacts: ArtifactStore, renderer: Any, animation: "_LazyAnimation", spec: RenderSpec,
                   solve: Any, tokens: Any) -> Outcome:
    from svgarena.scoring import score_sample

    key = TrajectoryKey(task.id, model.name, config.solver, sample.id, epoch)
    tid = store.start_trajectory(key, subject=sample.subject)

    def on_attempt(attempt: Attempt) -> None:
        store.add_attempt(tid, _attempt_row(attempt, artifacts))

    ctx = SolverContext(
        renderer=renderer, animation=animation.get, spec=spec, extract_rule=config.extract_rule,
        choice_rule=config.choice_rule, animation_mode=config.animation_mode, on_attempt=on_attempt,
    )
    traj = await solve(sample, task, model, ctx)
    final = traj.final
    assert final is not None, "a solver must return at least one attempt"
    scores = await asyncio.to_thread(
        score_sample, task, sample, final.outcome, final.answer if final.outcome is Outcome.OK else None,
        image=final.image, frames=final.frames, tokens=tokens,
    )
    answer_ref = None
    if final.answer is not None:
        answer_ref = final.answer if task.answer is AnswerKind.CHOICE else artifacts.put_text(final.answer)
    media: dict[str, str] = {}
    if final.image is not None:
        media["png"] = artifacts.put_png(final.image)
    if final.frames is not None and len(final.frames):
        media["png"] = artifacts.put_png(final.frames[0])
    for kind, data in final.media.items():
        media[kind] = artifacts.put(data, "mp4" if kind.startswith("mp4") else kind)
    store.finish_trajectory(
        tid, outcome=final.outcome.value, answer=answer_ref, media=media, stop_reason=traj.stop_reason,
        scores=[(m, s.value, s.ok, s.error) for m, s in scores.items()],
    )
    return final.outcome


def _attempt_row(attempt: Attempt, artifacts: ArtifactStore) -> dict[str, Any]:
    return {
        "round": attempt.round, "outcome": attempt.outcome.value, "reason": attempt.reason,
        "reply": attempt.reply,
        "answer": artifacts.put_text(attempt.answer) if attempt.answer and attempt.answer.lstrip().startswith("<")
        else attempt.answer,
        "rule": attempt.rule, "input_tokens": attempt.usage.input_tokens,
        "output_tokens": attempt.usage.output_tokens, "cost_usd": attempt.usage.cost_usd,
        "latency_s": attempt.usage.latency_s, "retries": attempt.retries, "renderer": attempt.renderer,
        "render_seconds": attempt.render_seconds, "feedback": attempt.feedback,
    }


def _limited(samples: Iterator[Sample], limit: int | None) -> Iterator[Sample]:
    for i, sample in enumerate(samples):
        if limit is not None and i >= limit:
            return
        yield sample


class _LazyAnimation:
    """Starts the browser renderer only when an animated answer first needs it."""

    def __init__(self) -> None:
        self._renderer: Any = None
        self._lock = asyncio.Lock()

    async def get(self) -> Any:
        async with self._lock:
            if self._renderer is None:
                from svgarena.sandboxes import BrowserAnimationRenderer

                self._renderer = BrowserAnimationRenderer()
            return self._renderer

    async def close(self) -> None:
        if self._renderer is not None:
            await self._renderer.close()
