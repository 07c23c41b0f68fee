"""The ``refine`` and ``resample`` solvers: several rounds per sample, every round kept.

``refine`` is a LangGraph ``StateGraph``: generate -> render -> feedback -> decide, looping back to
generate until a stop rule fires. The graph state holds only small data (round number, hashes, the
stop reason); renders and messages live on the Attempt objects the solver collects, so no base64
image ever sits in graph state. ``resample`` asks the original prompt ``ctx.samples`` times.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any, TypedDict

from svgarena.agents._budget import BudgetExceeded
from svgarena.agents._feedback import (DONE_MARKER, FEEDBACK_MODES, TARGET_MODES, Target, check_feedback, feedback_turn,
                                       load_target)
from svgarena.agents._solvers import SolverContext, attempt_once, one_round, solver
from svgarena.agents._stops import STOP_ON, SampleBudget, oracle_value, run_budget_reached, uses_oracle
from svgarena.agents._trajectory import Attempt, Trajectory
from svgarena.agents._types import Model
from svgarena.outcome import Outcome
from svgarena.tasks import AnswerKind, Sample, Task

__all__ = ["DONE_MARKER", "FEEDBACK_MODES", "feedback_turn", "refine", "resample"]


class _State(TypedDict):
    round: int
    last_hash: str | None
    stop: str


def _hash(svg: str | None) -> str | None:
    return hashlib.sha256(svg.encode("utf-8")).hexdigest() if svg is not None else None


def _arm(ctx: SolverContext, solver_name: str, budget: SampleBudget, **fields: Any) -> dict[str, Any]:
    """The arm's record: solver, feedback, rounds/samples, budgets, and whether (and where) it uses the oracle."""
    feedback = fields.pop("feedback", ctx.feedback)
    oracle = uses_oracle(feedback, ctx.stop_on)
    arm: dict[str, Any] = {"solver": solver_name, "feedback": feedback, **fields, "oracle": bool(oracle)}
    if oracle:
        arm["oracle_use"] = oracle
    if ctx.stop_on:
        arm["stop_on"], arm["oracle_threshold"] = ctx.stop_on, ctx.oracle_threshold
    if budget.active:
        arm["sample_budget"] = budget.describe()
    return arm


def _check_ctx(ctx: SolverContext) -> None:
    check_feedback(ctx.feedback)
    if ctx.stop_on is not None and ctx.stop_on not in STOP_ON:
        raise ValueError(f"unknown stop rule {ctx.stop_on!r}; use {', '.join(STOP_ON)}")
    if (ctx.feedback == "oracle" or ctx.stop_on) and ctx.oracle is None:
        raise ValueError("oracle feedback and --stop-on oracle-threshold need the harness's oracle (SolverContext.oracle)")


async def _score_oracle(attempt: Attempt, ctx: SolverContext) -> None:
    if ctx.oracle is not None and (ctx.feedback == "oracle" or ctx.stop_on == "oracle-threshold"):
        attempt.oracle = await ctx.oracle(attempt)


def _oracle_stop(attempt: Attempt, ctx: SolverContext) -> str:
    if ctx.stop_on != "oracle-threshold":
        return ""
    value = oracle_value(attempt.oracle)
    return "oracle threshold" if value is not None and value >= ctx.oracle_threshold else ""


@solver("refine")
async def refine(sample: Sample, task: Task, model: Model, ctx: SolverContext) -> Trajectory:
    """Answer, see the render (or a plain review turn), answer again; up to ``ctx.rounds`` rounds."""
    from langgraph.graph import END, StateGraph

    _check_ctx(ctx)
    budget = SampleBudget.from_ctx(ctx)
    traj = Trajectory(sample_id=sample.id, task=task.id, model=model.name, solver="refine",
                      arm=_arm(ctx, "refine", budget, rounds=ctx.rounds))
    if task.answer is AnswerKind.CHOICE:
        return await one_round(sample, task, model, ctx, traj, "choice task: direct")
    convo: list[dict[str, Any]] = []  # the running chat, kept outside graph state
    pending: dict[str, Attempt] = {}
    targets: list[Target] = []  # the task's target image, loaded on first use

    async def generate(state: _State) -> dict[str, Any]:
        k = state["round"]
        try:
            if k == 0:
                attempt = await attempt_once(sample, task, model, ctx, round_no=0)
                if attempt.messages:
                    convo.extend(attempt.messages)
            else:
                attempt = await attempt_once(sample, task, model, ctx, round_no=k, messages=list(convo))
        except BudgetExceeded as exc:
            if k == 0:
                raise  # nothing done yet: the sample stays unfinished, a resume with a higher cap redoes it
            traj.budget_error = exc
            return {"stop": "run budget"}
        pending["now"] = attempt
        return {}

    async def render(state: _State) -> dict[str, Any]:
        # attempt_once already extracted and rendered the answer (in the sandbox); add the markers the
        # decision needs and, for an oracle arm, the harness's scores against the reference
        attempt = pending["now"]
        # the done marker chooses this round only when it carries an SVG; a bare "<done/>" chooses the round before
        attempt.model_chose = DONE_MARKER in (attempt.reply or "") and attempt.answer is not None
        await _score_oracle(attempt, ctx)
        return {}

    async def feedback(state: _State) -> dict[str, Any]:
        attempt = pending["now"]
        k = state["round"]
        h = _hash(attempt.answer)
        if attempt.outcome is Outcome.MODEL_ERROR and not attempt.reply:
            stop = "model error"
        elif DONE_MARKER in (attempt.reply or ""):
            stop = "done marker"
            if not attempt.model_chose:
                _choose_previous(traj, ctx, attempt)
        elif k > 0 and h is not None and h == state["last_hash"]:
            stop = "identical svg"
        elif _oracle_stop(attempt, ctx):
            stop = "oracle threshold"
        elif k + 1 >= ctx.rounds:
            stop = "rounds exhausted"
        else:
            stop = budget.exceeded([*traj.attempts, attempt]) or ""
        if not stop:
            reached = run_budget_reached(model)
            if reached is not None:
                traj.budget_error, stop = reached, "run budget"
        if not stop:
            target = None
            if ctx.feedback in TARGET_MODES:
                if not targets:
                    targets.append(await load_target(sample, task, ctx.renderer, ctx.spec))
                target = targets[0]
                if target.png is None:
                    attempt.extra["target"] = target.note
            if not ctx.vision and ctx.feedback != "none":
                attempt.extra["blind"] = True  # a text-only model: told it cannot see the render
            text, images, parts = feedback_turn(attempt, ctx.feedback, ctx.vision, target=target,
                                                oracle=attempt.oracle if ctx.feedback == "oracle" else None)
            attempt.feedback, attempt.feedback_mode, attempt.feedback_images = text, ctx.feedback, images
            convo.append({"role": "assistant", "content": attempt.reply})
            # a text-only turn goes as a plain string: chat templates of text models (llama.cpp's SmolLM2)
            # concatenate string contents and fail on a list of parts
            convo.append({"role": "user", "content": parts if images else text})
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
    graph.add_conditional_edges("generate", lambda s: END if s["stop"] else "render")
    graph.add_edge("render", "feedback")
    graph.add_edge("feedback", "decide")
    graph.add_conditional_edges("decide", lambda s: END if s["stop"] else "generate")
    app = graph.compile()
    final = await app.ainvoke({"round": 0, "last_hash": None, "stop": ""},
                              config={"recursion_limit": 4 * max(ctx.rounds, 1) + 8})
    traj.stop_reason = final["stop"]
    return traj


def _choose_previous(traj: Trajectory, ctx: SolverContext, attempt: Attempt) -> None:
    """A done marker with no SVG: the model keeps its previous answer, so the last earlier round that had an SVG
    becomes its choice (reported again, so the store's row says so). The marker round stays recorded as it was."""
    for i in range(len(traj.attempts) - 1, -1, -1):
        prev = traj.attempts[i]
        if prev.answer is None:
            continue
        # a copy: the store may still be encoding the reported round in a thread
        chosen = dataclasses.replace(prev, model_chose=True, extra=dict(prev.extra))
        traj.attempts[i] = chosen
        attempt.extra["done_marker_chose"] = chosen.round
        if ctx.on_attempt:
            ctx.on_attempt(chosen)
        return


@solver("resample")
async def resample(sample: Sample, task: Task, model: Model, ctx: SolverContext) -> Trajectory:
    """``ctx.samples`` independent answers to the original prompt, one round each (the equal-budget control)."""
    if ctx.stop_on is not None and ctx.stop_on not in STOP_ON:
        raise ValueError(f"unknown stop rule {ctx.stop_on!r}; use {', '.join(STOP_ON)}")
    if ctx.stop_on and ctx.oracle is None:
        raise ValueError("--stop-on oracle-threshold needs the harness's oracle (SolverContext.oracle)")
    budget = SampleBudget.from_ctx(ctx)
    traj = Trajectory(sample_id=sample.id, task=task.id, model=model.name, solver="resample",
                      arm=_arm(ctx, "resample", budget, feedback="none", samples=ctx.samples))
    if task.answer is AnswerKind.CHOICE:
        return await one_round(sample, task, model, ctx, traj, "choice task: direct")
    stop = "samples exhausted"
    for k in range(max(ctx.samples, 1)):
        if k > 0:
            cut = budget.exceeded(traj.attempts)
            reached = None if cut else run_budget_reached(model)
            if cut or reached is not None:
                traj.budget_error = reached
                stop = cut or "run budget"
                break
        try:
            attempt = await attempt_once(sample, task, model, ctx, round_no=k)
        except BudgetExceeded as exc:
            if k == 0:
                raise
            traj.budget_error, stop = exc, "run budget"
            break
        if ctx.stop_on:
            await _score_oracle(attempt, ctx)
        traj.attempts.append(attempt)
        if ctx.on_attempt:
            ctx.on_attempt(attempt)
        if _oracle_stop(attempt, ctx):
            stop = "oracle threshold"
            break
    traj.stop_reason = stop
    return traj
