"""The runner: suite x tasks x models through a solver, into the store, scored as samples finish.

Model calls are I/O-bound and run concurrently (``concurrency`` in flight per model); renders go
to the sandboxed worker pool; per-sample scoring runs in a thread so the event loop stays free.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from svgarena.harness._select import select_round
from svgarena.agents import Attempt, BudgetExceeded, Model, SolverContext, get_model, get_solver
from svgarena.harness._artifacts import ArtifactStore
from svgarena.harness._config import RunConfig
from svgarena.harness._meta import run_metadata
from svgarena.harness._rescore import ScoringOptions, score_stored
from svgarena.harness._store import RunStore, TrajectoryKey
from svgarena.outcome import Outcome
from svgarena.sandboxes import RenderSpec
from svgarena.tasks import AnswerKind, Sample, Task, iter_samples, resolve_suite, select_tasks

log = logging.getLogger("svgarena.run")

DEFAULT_MODELS = ("baseline/oracle", "baseline/vtracer", "baseline/blank")
_ORACLE_METRICS = ("ssim", "psnr", "ssim_video", "psnr_video")  # what an oracle arm's feedback may show


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
    stopped: str | None = None  # why the run stopped before finishing (a budget cap), None when it finished
    spend: dict[str, dict[str, Any]] = field(default_factory=dict)  # per model: calls, retries, cache hits, tokens, USD

# Settings a resume may change (None / False on the command line keeps the stored value).
RESUME_OVERRIDES = ("max_cost_usd", "max_tokens", "no_cache", "models_file", "concurrency", "ray_address",
                    "executor")


def open_run(config: RunConfig, resume: bool) -> tuple[RunConfig, RunStore]:
    """Create a run folder, or reopen one to resume it with its stored config."""
    path = config.run_dir / "run.sqlite"
    if resume:
        if not path.is_file():
            raise FileNotFoundError(f"{config.run_dir}: no run to resume (no run.sqlite); check --run-id/--out")
        store = RunStore(path)
        stored = RunConfig.from_dict(store.run_info()["config"])
        stored.out = config.out  # the folder may have moved
        for name in RESUME_OVERRIDES:  # e.g. a higher --max-cost to finish a run its cap stopped
            value = getattr(config, name)
            if value not in (None, False):
                setattr(stored, name, value)
        return stored, store
    if path.exists():
        raise FileExistsError(f"{config.run_dir}: a run with this id exists; use --resume {config.run_id}")
    store = RunStore(path)
    store.init_run(config.run_id, config.to_dict(), run_metadata(config.seed))
    return config, store


async def execute(config: RunConfig, *, resume: bool = False, progress: Progress | None = None,
                  scoring: ScoringOptions | None = None, models: list[Model] | None = None) -> RunSummary:
    """Run (or resume) everything the config asks for; returns what happened.

    The suite is loaded and checked before a run folder is created, so a bad suite leaves nothing behind.
    Pixel metrics, accuracy and token length are scored as samples finish; the neural and set-level
    metrics in one batched pass at the end (``scoring``; a resume scores only what is missing).
    ``models`` replaces the models named in the config (``svgarena import`` passes its replay model).
    """
    progress = progress or _Silent()
    if resume:
        config, store = open_run(config, resume=True)
        try:
            plan = _plan(config, models)
        except BaseException:
            store.close()
            raise
        try:
            unavailable = _preflight_plan(config, plan)
        except BaseException:
            store.close()
            raise
    else:
        plan = _plan(config, models)
        unavailable = _preflight_plan(config, plan)
        config, store = open_run(config, resume=False)
    summary = RunSummary(run_id=config.run_id, run_dir=config.run_dir)
    for name, why in unavailable.items():
        store.add_note(f"skipped, unavailable at preflight: {why}", model=name)
        progress.note(f"skipped {name}: {why}")
    if resume:
        summary.cleared = store.clear_unfinished()
        store.init_run(config.run_id, config.to_dict(), {})
    try:
        scoring = scoring or ScoringOptions()
        await _execute(config, plan, store, progress, summary, half=scoring.half)
        if config.executor == "ray":  # the neural metrics of the end-of-run pass run in scoring actors
            import dataclasses

            scoring = dataclasses.replace(scoring, executor="ray", ray_address=config.ray_address)
        if scoring.enabled:
            score_stored(store, ArtifactStore(config.run_dir / "artifacts"), resolve_suite(config.suite, config.data),
                         scoring, only_missing=True, runner_pass=True, note=log.info,  # the report prints skips
                         progress=_scoring_progress(store))
        store.set_status("stopped" if summary.stopped else "finished")
        if summary.stopped:
            store.add_note(f"stopped: {summary.stopped}")
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
    specs: dict[str, Any] = field(default_factory=dict)  # model name -> its registry ModelSpec (None for a bare route)
    judge: Model | None = None  # --choice-judge


def _plan(config: RunConfig, given: list[Model] | None = None) -> _Plan:
    """Which model answers which samples of which task; loads (and so validates) the suite."""
    root = resolve_suite(config.suite, config.data)
    tasks = select_tasks(root, config.tasks or None)
    if not tasks:
        raise ValueError(f"no task matching {' '.join(config.tasks)} in suite {root}")
    get_solver(config.solver)  # fail early on an unknown solver
    _check_arm(config)
    _check_backend(config)
    explicit = bool(config.models)
    from svgarena.agents import load_registry

    names = config.models or list(DEFAULT_MODELS)
    routed = config.models_file or config.choice_judge or any(not n.startswith("baseline/") for n in names)
    registry = load_registry(config.models_file) if routed and not (given and not config.choice_judge) else None
    models = list(given) if given else [get_model(name, registry) for name in names]
    specs = {m.name: registry.get(m.name) for m in models if registry and not m.name.startswith("baseline/")}
    from svgarena.harness._shard import keep_shard, parse_shard

    shard = parse_shard(config.shard) if config.shard else None
    units = []
    for model in models:
        for task in tasks:
            if model.supports(task) and not explicit:
                continue  # the main job runs each baseline only where it can answer
            units.append((task, model, keep_shard(task.id, _limited(iter_samples(root, task), config.limit), shard)))
    judge = None
    if config.choice_judge and config.choice_rule != "official":
        raise ValueError(f"--choice-judge takes the first character of the judge's reply (evaluate_un.py); "
                         f"it does not combine with --choice {config.choice_rule}")
    if config.choice_judge:
        from svgarena.agents._choice_judge import resolve_judge

        judge = resolve_judge(config.choice_judge, registry)
        specs.setdefault(judge.name, registry.get(judge.name) if registry else None)
    return _Plan(models=models, units=units, specs=specs, judge=judge)


def _check_arm(config: RunConfig) -> None:
    """Bad --select/--feedback/--rounds/--samples fail before anything runs, in one line."""
    from svgarena.agents import FEEDBACK_MODES
    from svgarena.harness._select import SELECTIONS

    if config.select not in SELECTIONS:
        raise ValueError(f"unknown --select {config.select!r}; use {', '.join(SELECTIONS)}")
    if config.feedback not in FEEDBACK_MODES:
        raise ValueError(f"unknown --feedback {config.feedback!r}; use {', '.join(FEEDBACK_MODES)}")
    if config.rounds < 1 or config.samples < 1:
        raise ValueError("--rounds and --samples must be at least 1")
    if config.animation_mode not in ("sarena-exact", "fast"):
        raise ValueError(f"unknown --animation-mode {config.animation_mode!r}; use sarena-exact or fast")
    if config.tokenizer is not None:  # a bad or unloadable --tokenizer fails before the run folder exists
        from svgarena.scoring import get_token_counter
        from svgarena.scoring._tokens import TokenizerUnavailable

        try:
            get_token_counter(config.tokenizer)
        except TokenizerUnavailable as exc:
            raise ValueError(f"--tokenizer {config.tokenizer}: {exc}") from None
    _check_stops(config)
    _check_tools_arm(config)


def _check_stops(config: RunConfig) -> None:
    """--stop-on and the per-sample budgets: known values, positive caps, and only where a solver honours them."""
    from svgarena.agents import STOP_ON

    if config.stop_on is not None and config.stop_on not in STOP_ON:
        raise ValueError(f"unknown --stop-on {config.stop_on!r}; use {', '.join(STOP_ON)}")
    if config.stop_on and not 0.0 < config.oracle_threshold <= 1.0:
        raise ValueError(f"--oracle-threshold must be in (0, 1] (SSIM); got {config.oracle_threshold:g}")
    caps = {"--sample-max-tokens": config.sample_max_tokens, "--sample-max-cost": config.sample_max_cost,
            "--sample-time-limit": config.sample_time_limit}
    for flag, value in caps.items():
        if value is not None and value <= 0:
            raise ValueError(f"{flag} must be positive; got {value:g}")
    multi = config.solver in ("refine", "resample")
    used = [flag for flag, value in caps.items() if value is not None] + (["--stop-on"] if config.stop_on else [])
    if used and not multi:
        raise ValueError(f"{', '.join(used)}: only for --solver refine or resample, not {config.solver}")


def _check_tools_arm(config: RunConfig) -> None:
    """Bad --max-tool-calls/--tool-protocol fail before anything runs."""
    from svgarena.agents import TOOL_PROTOCOLS

    if config.max_tool_calls < 1:
        raise ValueError("--max-tool-calls must be at least 1")
    if config.tool_protocol not in TOOL_PROTOCOLS:
        raise ValueError(f"unknown --tool-protocol {config.tool_protocol!r}; use {', '.join(TOOL_PROTOCOLS)}")


def _preflight_plan(config: RunConfig, plan: _Plan) -> dict[str, str]:
    """Check the plan's routed models (``_preflight.py``); drops the unavailable ones with --skip-unavailable."""
    if not config.preflight:
        return {}
    from svgarena.harness._preflight import PreflightError, preflight

    judge = [plan.judge] if plan.judge is not None and plan.judge.name not in {m.name for m in plan.models} else []
    problems = preflight(plan.models + judge)
    if plan.judge is not None and plan.judge.name in problems:  # no run can go on without its judge
        raise PreflightError({plan.judge.name: problems[plan.judge.name]})
    if not problems:
        return {}
    if not config.skip_unavailable:
        raise PreflightError(problems)
    plan.models = [m for m in plan.models if m.name not in problems]
    plan.units = [u for u in plan.units if u[1].name not in problems]
    return problems


def _check_backend(config: RunConfig) -> None:
    """Fail before anything is created when the render backend or renderer cannot be used."""
    from svgarena.sandboxes import check_choice

    check_choice(config.backend, config.renderer)
    if config.executor not in ("local", "ray"):
        raise ValueError(f"unknown --executor {config.executor!r}; use local or ray")
    if config.executor == "ray":  # connect now, in the main thread, so a missing cluster fails before the run folder
        from svgarena.sandboxes._ray import connect

        try:
            connect(config.ray_address)
        except RuntimeError as exc:
            raise ValueError(str(exc)) from None
    if config.backend == "docker":
        from svgarena.sandboxes import docker_problem

        problem = docker_problem()
        if problem:
            raise ValueError(f"the docker backend cannot run: {problem}")


async def _execute(config: RunConfig, plan: _Plan, store: RunStore, progress: Progress, summary: RunSummary,
                   half: bool = False) -> None:
    from svgarena.sandboxes import open_backend
    from svgarena.scoring import get_token_counter

    solve = get_solver(config.solver)
    tokens = get_token_counter(config.tokenizer)
    store.update_meta(tokenizer=tokens.name)
    if config.executor == "ray":  # where the head was: a supervising `svgarena run` probes it if the driver dies
        from svgarena.sandboxes import connected_head

        store.update_meta(ray_head=connected_head())
    if config.shard:  # which slice of the suite this run holds (`svgarena merge` checks it)
        from svgarena.harness._shard import parse_shard

        store.update_meta(shard=parse_shard(config.shard).describe())
    artifacts = ArtifactStore(config.run_dir / "artifacts")
    done = store.done_keys()
    calls = _CallLayer(config, plan)
    store.update_meta(models=calls.described())
    from svgarena.harness._protocol import protocol_differences

    policies = [m.policy.max_retries for m in calls.models.values()]
    answering = {  # the routed models that answer tasks (a --choice-judge alone is not one): their settings
        m.name: {"temperature": calls.models[m.name].inner.temperature,
                 "max_tokens": calls.models[m.name].inner.max_tokens,
                 "video": calls.models[m.name].video_format,
                 "video_task": any(u.name == m.name and "video" in t.inputs for t, u, _ in plan.units),
                 "source": plan.specs[m.name].source if plan.specs.get(m.name) else "route"}
        for m in plan.models if m.name in calls.models}
    store.update_meta(protocol_differences=protocol_differences(  # what differs from the official scripts
        config, tokenizer=tokens.name, max_retries=max(policies) if policies else None, half=half,
        routed=bool(calls.models), models=answering))
    store.put_heartbeat("plan", {"units": [  # what `svgarena watch` counts progress against
        {"task": t.id, "model": m.name, "total": len(s) * config.epochs} for t, m, s in plan.units]})

    spec = RenderSpec(timeout_s=config.render_timeout_s, renderer=config.renderer)
    if config.executor == "ray":  # render actors on the cluster; model calls and the store stay here
        from svgarena.sandboxes._ray import RayAnimation, RayRenderer

        renderer = await asyncio.to_thread(RayRenderer, config.backend, config.workers, run=config.run_id,
                                           address=config.ray_address)
        animation = _LazyAnimation(lambda: RayAnimation(address=config.ray_address))
    else:
        renderer = await asyncio.to_thread(open_backend, config.backend, config.workers, run=config.run_id)
        animation = _LazyAnimation()
    live = _start_live(config, store, calls, renderer, len(done))
    try:
        queues: dict[str, list[tuple[Task, Sample, int]]] = {}
        model_by_name = {m.name: calls.models.get(m.name, m) for m in plan.models}
        noted = {(n["task"], n["model"], n["text"]) for n in store.notes()}  # a resume does not repeat them
        for task, model, samples in plan.units:
            if config.solver != "direct" and task.answer is AnswerKind.CHOICE and samples:
                # the multi-round solvers answer choice tasks in one direct call: said once per (task, model)
                text = (f"{task.id}: choice task, answered directly for {model.name} "
                        f"({config.solver} does not apply)")
                if (task.id, model.name, text) not in noted:
                    store.add_note(text, task=task.id, model=model.name)
                progress.note(text)
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

        judge = calls.models.get(plan.judge.name) if plan.judge is not None else None
        stop = asyncio.Event()  # set when a budget cap is reached: no worker takes another sample

        async def worker(model: Model, units: Iterator[tuple[Task, Sample, int]]) -> None:
            for task, sample, epoch in units:
                if stop.is_set():
                    return
                try:
                    outcome = await _run_one(task, sample, epoch, model, config, store, artifacts, renderer,
                                             animation, spec, solve, tokens, judge=judge)
                except BudgetExceeded as exc:  # the sample stays unfinished; a resume with a higher cap redoes it
                    finished = getattr(exc, "outcome", None)  # ... unless a multi-round one ended on "run budget"
                    if finished is not None:
                        summary.done += 1
                        summary.outcomes[finished.value] = summary.outcomes.get(finished.value, 0) + 1
                        progress.advance(task.id, model.name, finished)
                    if summary.stopped is None:
                        summary.stopped = str(exc)
                        progress.note(f"stopping: {exc}")
                    stop.set()
                    return
                summary.done += 1
                summary.outcomes[outcome.value] = summary.outcomes.get(outcome.value, 0) + 1
                progress.advance(task.id, model.name, outcome)

        jobs = []
        for name, units in queues.items():
            it = iter(units)  # shared by this model's workers: each unit is taken exactly once
            workers = config.concurrency or getattr(model_by_name[name], "concurrency", 8)
            jobs += [worker(model_by_name[name], it) for _ in range(max(1, workers))]
        await asyncio.gather(*jobs)
    finally:
        await live.stop()
        await calls.aclose_models()
        summary.spend = calls.close()
        await renderer.close()
        await animation.close()


def _scoring_progress(store: RunStore) -> Any:
    """The end-of-run scoring pass's counts for the dashboards (heartbeat ``scoring``, <= 2 writes/s)."""
    from svgarena.harness._live import ScoringHeartbeat

    return ScoringHeartbeat(store)


def _start_live(config: RunConfig, store: RunStore, calls: "_CallLayer", renderer: Any, done_before: int) -> Any:
    """The heartbeat publisher (``_live.py``): the run's in-memory state for the dashboards, <= 2 writes/s."""
    from svgarena.harness._live import LivePublisher

    live = LivePublisher(store, models=calls.models, budget=calls.budget, renderer=renderer,
                         max_cost_usd=config.max_cost_usd, max_tokens=config.max_tokens, done_before=done_before)
    live.start()
    return live


class _CallLayer:
    """The run's reply cache, call ledger and budget (in ``<run>/calls.sqlite``), and its LiteLLM models wrapped in them."""

    def __init__(self, config: RunConfig, plan: _Plan) -> None:
        from svgarena.agents import CALLS_DB, Budget, CallLedger, LiteLLMModel, ManagedModel, ReplyCache

        self.specs = plan.specs
        self.models: dict[str, Any] = {}
        self.ledger = self.cache = None
        self.budget: Any = None
        routed = [m for m in plan.models if isinstance(m, LiteLLMModel)]
        if plan.judge is not None and plan.judge.name not in {m.name for m in routed}:
            routed.append(plan.judge)
        if not routed:
            return
        from svgarena.agents import import_litellm

        import_litellm()  # now, with the offline price list, not inside the first call's deadline

        path = config.run_dir / CALLS_DB
        self.ledger = CallLedger(path)
        self.cache = None if config.no_cache else ReplyCache(path)
        spent_usd, spent_tokens = self.ledger.totals()  # what earlier invocations of this run already spent
        budget = self.budget = Budget(config.max_cost_usd, config.max_tokens, spent_usd, spent_tokens)
        for model in routed:
            if config.temperature is not None:  # --temperature overrides the registry's (resample needs > 0)
                model.temperature = config.temperature
            self.models[model.name] = ManagedModel.from_spec(
                model, plan.specs.get(model.name), concurrency=config.concurrency, cache=self.cache,
                ledger=self.ledger, budget=budget)

    def described(self) -> dict[str, Any]:
        """The settings of each routed model, for the run's record (key variable names, never keys)."""
        out = {}
        for name, managed in self.models.items():
            spec = self.specs.get(name)
            out[name] = {**managed.inner.settings(), "concurrency": managed.concurrency,
                         "max_retries": managed.policy.max_retries, "source": spec.source if spec else "route",
                         "api_key_env": managed.inner.api_key_env, "client": managed.inner.client}
        return out

    async def aclose_models(self) -> None:
        for managed in self.models.values():
            await managed.aclose()

    def close(self) -> dict[str, dict[str, Any]]:
        spend = self.ledger.summary() if self.ledger is not None else {}
        for db in (self.cache, self.ledger):
            if db is not None:
                db.close()
        return spend


async def _run_one(task: Task, sample: Sample, epoch: int, model: Model, config: RunConfig, store: RunStore,
                   artifacts: ArtifactStore, renderer: Any, animation: "_LazyAnimation", spec: RenderSpec,
                   solve: Any, tokens: Any, judge: Any = None) -> Outcome:
    from svgarena.scoring import score_sample

    key = TrajectoryKey(task.id, model.name, config.solver, sample.id, epoch)
    tid = store.start_trajectory(key, subject=sample.subject)

    round_media: dict[int, dict[str, str]] = {}
    writes: list[asyncio.Task] = []
    reported: set[int] = set()

    async def write(attempt: Attempt, before: asyncio.Task | None, again: bool) -> None:
        # PNG encoding and artifact files run off the event loop (a 448x448 PNG costs tens of ms, which
        # at hundreds of samples in flight stalls every model call); rows still go in round order
        media, row = await asyncio.to_thread(_attempt_record, attempt, artifacts)
        if before is not None:
            await before
        round_media[attempt.round] = media
        row["media"] = media or None
        (store.replace_attempt if again else store.add_attempt)(tid, row)

    def on_attempt(attempt: Attempt) -> None:
        again = attempt.round in reported
        reported.add(attempt.round)
        writes.append(asyncio.get_running_loop().create_task(write(attempt, writes[-1] if writes else None, again)))

    scored: dict[int, dict[str, Any]] = {}  # rounds the oracle already scored (reused for round_scores)

    async def oracle(attempt: Attempt) -> dict[str, float | None]:
        """The round's pixel scores against the reference: what oracle feedback and the oracle stop rule see."""
        scored[attempt.round] = await asyncio.to_thread(
            score_sample, task, sample, attempt.outcome, attempt.answer if attempt.outcome is Outcome.OK else None,
            image=attempt.image, frames=attempt.frames, tokens=tokens)
        return {m: s.value for m, s in scored[attempt.round].items() if m in _ORACLE_METRICS}

    ctx = SolverContext(
        renderer=renderer, animation=animation.get, spec=spec, extract_rule=config.extract_rule,
        choice_rule=config.choice_rule, animation_mode=config.animation_mode, on_attempt=on_attempt,
        video_frames=config.video_frames, rounds=config.rounds, feedback=config.feedback,
        samples=config.samples, temperature=config.temperature,
        vision=bool(getattr(getattr(model, "inner", model), "images", True)), video_input=config.video_input,
        oracle=oracle, sample_max_tokens=config.sample_max_tokens, sample_max_cost=config.sample_max_cost,
        sample_time_limit=config.sample_time_limit, stop_on=config.stop_on, oracle_threshold=config.oracle_threshold,
        max_tool_calls=config.max_tool_calls, tool_protocol=config.tool_protocol,
    )
    if judge is not None and task.answer is AnswerKind.CHOICE:
        judge_traj = "|".join((key.task, key.model, key.solver, key.sample_id, str(epoch), "choice-judge"))
        ctx.choice_judge_name = judge.name

        async def call_judge(messages: list[dict[str, Any]], round_no: int) -> Any:
            return await judge.call(messages, epoch=epoch, trajectory=judge_traj, call_index=round_no)

        ctx.choice_judge = call_judge
    bind = getattr(model, "for_trajectory", None)  # routed models number their calls per trajectory (cache keys)
    caller = bind("|".join((key.task, key.model, key.solver, key.sample_id, str(epoch))), epoch) if bind else model
    try:
        traj = await solve(sample, task, caller, ctx)
    finally:
        if writes:  # every reported round is in the store before the trajectory is scored and finished
            await asyncio.gather(*writes)
    assert traj.attempts, "a solver must return at least one attempt"
    per_round = {}
    for attempt in traj.attempts:  # every round is scored; the selection picks the headline one
        if attempt.round in scored and attempt.oracle is not None:
            per_round[attempt.round] = scored[attempt.round]
            continue
        per_round[attempt.round] = await asyncio.to_thread(
            score_sample, task, sample, attempt.outcome, attempt.answer if attempt.outcome is Outcome.OK else None,
            image=attempt.image, frames=attempt.frames, tokens=tokens,
        )
    traj.selection = config.select
    traj.selected_round = select_round(traj.attempts, per_round, config.select)
    final = traj.final
    assert final is not None
    scores = per_round[final.round]
    answer_ref = None
    if final.answer is not None:
        answer_ref = final.answer if task.answer is AnswerKind.CHOICE else artifacts.put_text(final.answer)
    media = round_media.get(final.round)
    if media is None:  # a solver that did not report the round through on_attempt
        media = _round_media(final, artifacts)
    arm = dict(traj.arm or {"solver": config.solver})
    arm["selection"] = config.select
    if config.select == "best-oracle":  # the headline round was picked by the reference: an oracle arm
        arm["oracle"] = True
        arm["oracle_use"] = [*arm.get("oracle_use", []), "selection"]
    store.finish_trajectory(
        tid, outcome=final.outcome.value, answer=answer_ref, media=media, stop_reason=traj.stop_reason,
        scores=[(m, s.value, s.ok, s.error) for m, s in scores.items()],
        round_scores=[(r, m, s.value, s.ok, s.error) for r, sc in per_round.items() for m, s in sc.items()],
        selection=config.select, selected_round=traj.selected_round, arm=arm,
    )
    if traj.budget_error is not None:  # the run's cap ended this trajectory: it is kept, the run stops
        traj.budget_error.outcome = final.outcome  # type: ignore[attr-defined]
        raise traj.budget_error
    return final.outcome


def _attempt_record(attempt: Attempt, artifacts: ArtifactStore) -> tuple[dict[str, str], dict[str, Any]]:
    """A round's media and its store row (artifacts written); thread-safe, for ``asyncio.to_thread``."""
    return _round_media(attempt, artifacts), _attempt_row(attempt, artifacts)


def _round_media(attempt: Attempt, artifacts: ArtifactStore) -> dict[str, str]:
    """The artifacts of one round's render: png (first frame of an animation), frames (fast mode), mp4s."""
    media: dict[str, str] = {}
    if attempt.image is not None:
        media["png"] = artifacts.put_png(attempt.image)
    if attempt.frames is not None and len(attempt.frames):
        media["png"] = artifacts.put_png(attempt.frames[0])
        if "mp4" not in attempt.media:  # fast mode keeps no video: keep the metric frames, side by side, for scoring
            import numpy as np

            media["frames"] = artifacts.put_png(np.concatenate(list(attempt.frames), axis=1))
    for kind, data in attempt.media.items():
        media[kind] = artifacts.put(data, "mp4" if kind.startswith("mp4") else kind)
    return media


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
        "feedback_mode": attempt.feedback_mode,
        "feedback_images": [artifacts.put(img, "png") for img in attempt.feedback_images],
        "svg_hash": hashlib.sha256(attempt.answer.encode()).hexdigest()
        if attempt.answer and attempt.answer.lstrip().startswith("<") else None,
        "model_chose": attempt.model_chose, "tool_calls": attempt.tool_calls,
        "malformed_calls": attempt.malformed_calls, "extra": attempt.extra or None,
    }


def _limited(samples: Iterator[Sample], limit: int | None) -> Iterator[Sample]:
    for i, sample in enumerate(samples):
        if limit is not None and i >= limit:
            return
        yield sample


class _LazyAnimation:
    """Starts the browser renderer only when an animated answer first needs it."""

    def __init__(self, factory: Any = None) -> None:
        self._renderer: Any = None
        self._lock = asyncio.Lock()
        self._factory = factory  # None: a BrowserAnimationRenderer here

    async def get(self) -> Any:
        async with self._lock:
            if self._renderer is None:
                if self._factory is not None:
                    self._renderer = await asyncio.to_thread(self._factory)
                    return self._renderer
                from svgarena.sandboxes import BrowserAnimationRenderer

                self._renderer = BrowserAnimationRenderer()
            return self._renderer

    async def close(self) -> None:
        if self._renderer is not None:
            await self._renderer.close()
