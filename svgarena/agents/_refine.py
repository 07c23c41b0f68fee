"""The ``refine`` and ``resample`` solvers: several rounds per sample, every round kept.

``refine`` is a LangGraph ``StateGraph``: generate -> render -> feedback -> decide, looping back to
generate until a stop rule fires. The graph state holds only small data (round number, hashes, the
stop reason); renders and messages live on the Attempt objects the solver collects, so no base64
image ever sits in graph state. ``resample`` asks the original prompt ``ctx.samples`` times.
"""

from __future__ import annotations

import hashlib
import io
from typing import Any, TypedDict

from svgarena.agents._solvers import SolverContext, attempt_once, solver
from svgarena.agents._trajectory import Attempt, Trajectory
from svgarena.agents._types import Model
from svgarena.outcome import Outcome
from svgarena.tasks import AnswerKind, Sample, Task

DONE_MARKER = "<done/>"
FEEDBACK_MODES = ("render", "none")

_RENDER_TEXT = ("Above is how your SVG rendered. Compare it with the task and reply with an improved, complete "
                "SVG in one <svg>...</svg> block. If your SVG is already right, reply with it unchanged and "
                f"add {DONE_MARKER} to stop.")
_NONE_TEXT = ("Review and improve your SVG. Reply with an improved, complete SVG in one <svg>...</svg> block. "
              f"If your SVG is already right, reply with it unchanged and add {DONE_MARKER} to stop.")
_BLIND_NOTE = "(You cannot see images, so the render is not shown; only its outcome is reported.)"


class _State(TypedDict):
    round: int
    last_hash: str | None
    stop: str


def _png(image: Any) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def _hash(svg: str | None) -> str | None:
    return hashlib.sha256(svg.encode("utf-8")).hexdigest() if svg is not None else None


def feedback_turn(attempt: Attempt, mode: str, vision: bool) -> tuple[str, list[bytes], list[dict[str, Any]]]:
    """The text, images and user content parts shown to the model after ``attempt``."""
    from svgarena.agents._messages import bytes_data_url

    if mode == "none":
        return _NONE_TEXT, [], [{"type": "text", "text": _NONE_TEXT}]
    failed = "" if attempt.outcome is Outcome.OK else f"Your answer failed: {attempt.outcome.value}: {attempt.reason}. "
    images = [_png(attempt.image)] if vision and attempt.image is not None else []
    text = failed + _RENDER_TEXT
    if not vision:
        text = f"{failed}{_BLIND_NOTE} " + _RENDER_TEXT.replace("Above is how your SVG rendered. ", "")
    elif not images:
        text = failed + _RENDER_TEXT.replace("Above is how your SVG rendered. ", "There is no render to show. ")
    parts: list[dict[str, Any]] = [{"type": "image_url", "image_url": {"url": bytes_data_url(png, "image/png")}}
                                   for png in images]
    parts.append({"type": "text", "text": text})
    return text, images, parts


def _check_feedback(mode: str) -> None:
    if mode not in FEEDBACK_MODES:
        raise ValueError(f"unknown feedback mode {mode!r}; use {' or '.join(FEEDBACK_MODES)}")


async def _direct_choice(sample: Sample, task: Task, model: Model, ctx: SolverContext, traj: Trajectory) -> Trajectory:
    attempt = await attempt_once(sample, task, model, ctx, round_no=0)
    traj.attempts.append(attempt)
    if ctx.on_attempt:
        ctx.on_attempt(attempt)
    traj.stop_reason = "choice task: direct"
    return traj


@solver("refine")
async def refine(sample: Sample, task: Task, model: Model, ctx: SolverContext) -> Trajectory:
    """Answer, see the render (or a plain review turn), answer again; up to ``ctx.rounds`` rounds."""
    from langgraph.graph import END, StateGraph

    _check_feedback(ctx.feedback)
    traj = Trajectory(sample_id=sample.id, task=task.id, model=model.name, solver="refine",
                      arm={"solver": "refine", "feedback": ctx.feedback, "rounds": ctx.rounds, "oracle": False})
    if task.answer is AnswerKind.CHOICE:
        return await _direct_choice(sample, task, model, ctx, traj)
    convo: list[dict[str, Any]] = []  # the running chat, kept outside graph state
    pending: dict[str, Attempt] = {}

    async def generate(state: _State) -> dict[str, Any]:
        k = state["round"]
        if k == 0:
            attempt = await attempt_once(sample, task, model, ctx, round_no=0)
            if attempt.messages:
                convo.extend(attempt.messages)
        else:
            attempt = await attempt_once(sample, task, model, ctx, round_no=k, messages=list(convo))
        pending["now"] = attempt
        return {}

    async def render(state: _State) -> dict[str, Any]:
        # attempt_once already extracted and rendered the answer; record the markers the decision needs
        attempt = pending["now"]
        attempt.model_chose = DONE_MARKER in (attempt.reply or "")
        return {}

    async def feedback(state: _State) -> dict[str, Any]:
        attempt = pending["now"]
        k = state["round"]
        h = _hash(attempt.answer)
        if attempt.outcome is Outcome.MODEL_ERROR and not attempt.reply:
            stop = "model error"
        elif attempt.model_chose:
            stop = "done marker"
        elif k > 0 and h is not None and h == state["last_hash"]:
            stop = "identical svg"
        elif k + 1 >= ctx.rounds:
            stop = "rounds exhausted"
        else:
            stop = ""
        if not stop:
            text, images, parts = feedback_turn(attempt, ctx.feedback, ctx.vision)
            attempt.feedback, attempt.feedback_mode, attempt.feedback_images = text, ctx.feedback, images
            convo.append({"role": "assistant", "content": attempt.reply})
            convo.append({"role": "user", "content": parts})
        traj.attempts.append(attempt)
        if ctx.on_attempt:
            ctx.on_attempt(attempt)
        return {"stop": stop, "last_hash": h}

    async def decide(state: _State) -> dict[str, Any]:
        return {} if state["stop"] else {"round": state["round"] + 1}

    graph = StateGraph(_State)
    graph.add_node("generate", generate)
    graph.add_node("render", render)
    graph.add_node("feedback", feedback)
    graph.add_node("decide", decide)
    graph.set_entry_point("generate")
    graph.add_edge("generate", "render")
    graph.add_edge("render", "feedback")
    graph.add_edge("feedback", "decide")
    graph.add_conditional_edges("decide", lambda s: END if s["stop"] else "generate")
    app = graph.compile()
    final = await app.ainvoke({"round": 0, "last_hash": None, "stop": ""},
                              config={"recursion_limit": 4 * max(ctx.rounds, 1) + 8})
    traj.stop_reason = final["stop"]
    return traj


@solver("resample")
async def resample(sample: Sample, task: Task, model: Model, ctx: SolverContext) -> Trajectory:
    """``ctx.samples`` independent answers to the original prompt, one round each."""
    traj = Trajectory(sample_id=sample.id, task=task.id, model=model.name, solver="resample",
                      arm={"solver": "resample", "feedback": "none", "samples": ctx.samples, "oracle": False})
    if task.answer is AnswerKind.CHOICE:
        return await _direct_choice(sample, task, model, ctx, traj)
    for k in range(max(ctx.samples, 1)):
        attempt = await attempt_once(sample, task, model, ctx, round_no=k)
        traj.attempts.append(attempt)
        if ctx.on_attempt:
            ctx.on_attempt(attempt)
    traj.stop_reason = "samples exhausted"
    return traj
