"""Solvers: strategies that turn one Sample into a Trajectory using a Model.

Solvers are registered by name with ``@solver``; the harness looks them up with
``get_solver``. ``direct`` makes one call; render-and-refine solvers plug in the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from svgarena.agents._trajectory import Attempt, Trajectory
from svgarena.agents._types import Model
from svgarena.outcome import Outcome
from svgarena.sandboxes._types import Renderer, RenderResult, RenderSpec
from svgarena.tasks import AnswerKind, Sample, Task


class AnimationCapture(Protocol):
    """Captures frames of an animated SVG at given times (the browser renderer)."""

    async def capture(self, svg: str, times: list[float], size: int = 448) -> RenderResult: ...

    async def render_mp4(self, svg: str, out448: str, out128: str | None = None) -> RenderResult: ...


@dataclass
class SolverContext:
    """What a solver may use besides the model: renderers, extraction rules, a per-attempt hook."""

    renderer: Renderer
    animation: Callable[[], Awaitable[AnimationCapture]] | None = None  # started on first use
    spec: RenderSpec = field(default_factory=RenderSpec)
    extract_rule: str = "official"
    choice_rule: str = "official"
    choice_judge: Any = None  # --choice-judge: (messages, round) -> Reply, un_clean_result.py's step (_choice_judge.py)
    choice_judge_name: str = ""
    video_frames: int = 8
    video_input: str = "official"  # official (8 unlabelled JPEG frames) or labelled (PNG frames with timestamps)
    # sarena-exact: 150 frames encoded as H.264 at 448 and 128, metric frames decoded from the 448
    # video (the published protocol); fast: only the metric frames, captured from the timeline.
    animation_mode: str = "sarena-exact"
    metric_frames: int = 8
    # the store writes each attempt as it happens; reporting a round again replaces its row (the tools solver
    # charges calls made after its last render to that round)
    on_attempt: Callable[[Attempt], None] | None = None
    rounds: int = 3  # refine: most rounds per sample
    feedback: str = "render"  # refine: render | render+target | oracle | none
    samples: int = 1  # resample: independent answers per sample
    temperature: float | None = None  # None: the model's own setting
    vision: bool = True  # the model sees images (else feedback is text only)
    # the harness's oracle: a round's SSIM/PSNR against the reference (oracle feedback, --stop-on oracle-threshold)
    oracle: Callable[[Attempt], Awaitable[dict[str, float | None]]] | None = None
    sample_max_tokens: int | None = None  # per-sample budgets: stop_reason "sample budget: tokens|cost|time"
    sample_max_cost: float | None = None
    sample_time_limit: float | None = None
    stop_on: str | None = None  # "oracle-threshold": stop once the oracle SSIM reaches oracle_threshold
    oracle_threshold: float = 0.99
    max_tool_calls: int = 8  # tools: most tool calls per sample (malformed ones count)
    tool_protocol: str = "auto"  # tools: auto (native where the registry says tools), native, or text


SolverFn = Callable[[Sample, Task, Model, SolverContext], Awaitable[Trajectory]]
_SOLVERS: dict[str, SolverFn] = {}


def solver(name: str) -> Callable[[SolverFn], SolverFn]:
    """Register a solver under ``name``."""

    def register(fn: SolverFn) -> SolverFn:
        _SOLVERS[name] = fn
        return fn

    return register


def get_solver(name: str) -> SolverFn:
    try:
        return _SOLVERS[name]
    except KeyError:
        raise ValueError(f"unknown solver {name!r}; available: {', '.join(sorted(_SOLVERS))}") from None


def solver_names() -> list[str]:
    return sorted(_SOLVERS)


@solver("direct")
async def direct(sample: Sample, task: Task, model: Model, ctx: SolverContext) -> Trajectory:
    """One call, one answer: SArena's published protocol."""
    traj = Trajectory(sample_id=sample.id, task=task.id, model=model.name, solver="direct")
    return await one_round(sample, task, model, ctx, traj, "single call")


async def one_round(sample: Sample, task: Task, model: Model, ctx: SolverContext, traj: Trajectory,
                    stop_reason: str) -> Trajectory:
    """A single round-0 answer into ``traj``: the direct solver, and the multi-round solvers on choice tasks."""
    attempt = await attempt_once(sample, task, model, ctx, round_no=0)
    traj.attempts.append(attempt)
    if ctx.on_attempt:
        ctx.on_attempt(attempt)
    traj.stop_reason = stop_reason
    return traj


async def attempt_once(sample: Sample, task: Task, model: Model, ctx: SolverContext, round_no: int,
                       messages: list[dict[str, Any]] | None = None) -> Attempt:
    """Ask once, extract the answer, render it; every failure becomes a typed Outcome."""
    from svgarena.agents._extract import extract_svg, parse_choice
    from svgarena.agents._messages import build_messages

    reason = model.supports(task)
    if reason:
        return Attempt(round=round_no, outcome=Outcome.MODEL_ERROR, reason=reason)
    if messages is None:
        try:
            messages = build_messages(sample, task, video_frames=ctx.video_frames,
                                      video_format=getattr(model, "video_format", None),
                                      video_input=ctx.video_input)
        except (OSError, ValueError) as exc:
            return Attempt(round=round_no, outcome=Outcome.MODEL_ERROR,
                           reason=f"could not prepare the input: {type(exc).__name__}: {exc}")
    reply = await model.respond(sample, messages)
    attempt = Attempt(round=round_no, outcome=Outcome.OK, reply=reply.text, usage=reply.usage,
                      retries=reply.retries, messages=messages,
                      priced_usd=reply.raw.get("cached_cost_usd", reply.usage.cost_usd))
    if reply.error:
        attempt.outcome, attempt.reason = Outcome.MODEL_ERROR, reply.error
        return attempt
    if task.answer is AnswerKind.CHOICE:
        if ctx.choice_judge is not None:
            from svgarena.agents._choice_judge import judge_choice

            choice, judged, attempt.extra["choice_judge"] = await judge_choice(
                ctx.choice_judge, ctx.choice_judge_name, reply.text, round_no)
            if judged.error:  # un_clean_result.py:54-55 writes nothing: the item counts as wrong
                attempt.rule = choice.rule
                attempt.outcome, attempt.reason = Outcome.MODEL_ERROR, f"choice judge {ctx.choice_judge_name}: {judged.error}"
                return attempt
        else:
            choice = parse_choice(reply.text, rule=ctx.choice_rule)
        attempt.rule, attempt.answer = choice.rule, choice.letter
        if choice.letter is None:
            attempt.outcome, attempt.reason = Outcome.NO_SVG, ("empty reply: no first character to score (official rule)"
                                                               if choice.rule == "official" else
                                                               "no choice letter A-D in the reply")
        return attempt
    extraction = extract_svg(reply.text, rule=ctx.extract_rule)
    attempt.rule, attempt.answer = extraction.rule, extraction.svg
    if extraction.svg is None:
        attempt.outcome, attempt.reason = Outcome.NO_SVG, "no <svg>...</svg> in the reply"
        return attempt
    if task.answer is AnswerKind.ANIMATED_SVG:
        if ctx.animation is None:
            attempt.outcome, attempt.reason = Outcome.RENDER_ERROR, "no animation renderer configured"
            return attempt
        capturer = await ctx.animation()
        result = await _render_animation(capturer, extraction.svg, ctx, attempt)
    else:
        result = await ctx.renderer.render(extraction.svg, ctx.spec)
        attempt.image = result.image if result.ok else None
    attempt.outcome, attempt.reason = result.outcome, result.reason
    attempt.renderer, attempt.render_seconds = result.renderer, result.seconds
    return attempt


async def _render_animation(capturer: AnimationCapture, svg: str, ctx: SolverContext, attempt: Attempt) -> RenderResult:
    """Render an animated answer in the configured mode; fills ``attempt.frames`` and ``attempt.media``."""
    from svgarena.sandboxes import fast_times, sample_frames

    if ctx.animation_mode == "fast":
        result = await capturer.capture(svg, fast_times(ctx.metric_frames), size=ctx.spec.width)
        attempt.frames = result.meta.get("frames") if result.ok else None
        return result
    if ctx.animation_mode != "sarena-exact":
        raise ValueError(f"unknown animation mode {ctx.animation_mode!r}; use sarena-exact or fast")
    import asyncio
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="svgarena-video-") as tmp:
        out448, out128 = str(Path(tmp) / "448.mp4"), str(Path(tmp) / "128.mp4")
        result = await capturer.render_mp4(svg, out448, out128)
        if result.ok:
            attempt.frames = await asyncio.to_thread(sample_frames, out448, ctx.metric_frames)
            attempt.media = {"mp4": Path(out448).read_bytes(), "mp4_128": Path(out128).read_bytes()}
    result.meta.pop("frames", None)  # 150 full frames are not kept beyond the videos
    return result
