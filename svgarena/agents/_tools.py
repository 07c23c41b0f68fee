"""The ``tools`` solver: the model renders its own SVG through a tool, as often as it likes, then submits.

The model is offered two tools, ``render_svg(svg)`` and ``submit(svg)``. A model whose registry entry
says it has native function calling (``accepts.tools``) gets them as OpenAI-style tool definitions;
the tool's answer goes back as a ``tool`` message (the outcome as text), followed by a ``user``
message carrying the PNG (tool messages cannot hold images for most providers). Any other model
uses the text protocol below. Every render_svg call and the submit are rounds: each is rendered in
the run's sandbox exactly as ``attempt_once`` renders, becomes an Attempt (feedback_mode ``tool``)
and is scored by the harness like a refine round; the submit round has ``model_chose`` set.

Text protocol (models without function calling)::

    <render><svg ...>...</svg></render>   render this SVG and show me the result
    <submit><svg ...>...</svg></submit>   this SVG is my final answer

One call per reply. A reply with no call, an unclosed tag, both tags, two calls, or no
``<svg>...</svg>`` inside the tag (for native calls: unparseable JSON arguments, an unknown tool, no
``svg`` argument) is a malformed call: it is answered with the parse error and counted in the next
round's ``malformed_calls``. Every call, malformed or not, counts against ``max_tool_calls``.
The answer is the submitted SVG, else the last rendered one; ``stop_reason`` says which.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from typing import Any, TypedDict

from svgarena.agents._solvers import SolverContext, _render_animation, one_round, solver
from svgarena.agents._trajectory import Attempt, Trajectory
from svgarena.agents._types import Model, Usage
from svgarena.outcome import Outcome
from svgarena.tasks import AnswerKind, Sample, Task

TOOL_PROTOCOLS = ("auto", "native", "text")
RENDER_TOOL, SUBMIT_TOOL = "render_svg", "submit"

_SVG_PARAM = {"type": "object", "properties": {"svg": {"type": "string", "description": "a complete SVG document"}},
              "required": ["svg"]}
TOOLS: list[dict[str, Any]] = [
    {"type": "function", "function": {
        "name": RENDER_TOOL, "parameters": _SVG_PARAM,
        "description": "Render an SVG document in a sandbox and see the result (a PNG, or why it failed)."}},
    {"type": "function", "function": {
        "name": SUBMIT_TOOL, "parameters": _SVG_PARAM,
        "description": "Submit an SVG document as your final answer. This ends the task."}},
]

_NATIVE_SYSTEM = ("You can check your work before answering. Call render_svg(svg) with a complete SVG document "
                  "to see how it renders; improve it as needed; then call submit(svg) with your final SVG. "
                  "At most {n} tool calls.")
_TEXT_SYSTEM = ("You can check your work before answering. To render an SVG and see the result, reply with the "
                "complete SVG inside <render>...</render>. When it is right, reply with your final SVG inside "
                "<submit>...</submit>. Make exactly one call per reply, for example:\n"
                "<render><svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 128 128\">...</svg></render>\n"
                "At most {n} calls.")
_REMINDER_TEXT = "Reply with one <render><svg>...</svg></render> or <submit><svg>...</svg></submit>."
_REMINDER_NATIVE = "Call render_svg(svg) or submit(svg)."
_TAG = re.compile(r"<(/?)(render|submit)\s*>", re.IGNORECASE)
_SVG = re.compile(r"<svg[^>]*>.*?</svg>", re.DOTALL)


@dataclass
class ToolCall:
    """One parsed call: ``name`` is render_svg or submit; ``error`` set means it was malformed."""

    name: str = ""
    svg: str | None = None
    id: str | None = None
    error: str | None = None
    arguments: str = ""


def parse_text_call(reply: str) -> ToolCall:
    """The one call a text-protocol reply makes, or a ToolCall whose ``error`` says why it cannot be read."""
    tags = list(_TAG.finditer(reply or ""))
    if not tags:
        return ToolCall(error="no tool call in the reply")
    names = {m.group(2).lower() for m in tags}
    if len(names) > 1:
        return ToolCall(error="both <render> and <submit> in one reply; make one call per reply")
    name = names.pop()
    opens = [m for m in tags if not m.group(1)]
    closes = [m for m in tags if m.group(1)]
    if len(opens) > 1 or len(closes) > 1:
        return ToolCall(error=f"more than one <{name}> call in one reply; make one call per reply")
    if not opens:
        return ToolCall(error=f"</{name}> without an opening <{name}>")
    if not closes or closes[0].start() < opens[0].end():
        return ToolCall(error=f"unclosed <{name}> tag; end the call with </{name}>")
    inner = reply[opens[0].end():closes[0].start()]
    m = _SVG.search(inner)
    tool = RENDER_TOOL if name == "render" else SUBMIT_TOOL
    if m is None:
        return ToolCall(name=tool, error=f"no <svg>...</svg> inside <{name}>...</{name}>")
    return ToolCall(name=tool, svg=m.group(0))


def parse_native_call(call: dict[str, Any]) -> ToolCall:
    """One native tool call (``{"id", "name", "arguments"}``) as a ToolCall; malformed ones carry ``error``."""
    name, args, call_id = call.get("name") or "", call.get("arguments") or "", call.get("id")
    out = ToolCall(name=name, id=call_id, arguments=args)
    if name not in (RENDER_TOOL, SUBMIT_TOOL):
        out.error = f"unknown tool {name!r}; the tools are {RENDER_TOOL} and {SUBMIT_TOOL}"
        return out
    try:
        parsed = json.loads(args) if args.strip() else None
    except json.JSONDecodeError as exc:
        out.error = f"the arguments of {name} are not valid JSON ({exc.msg} at character {exc.pos})"
        return out
    if not isinstance(parsed, dict) or not isinstance(parsed.get("svg"), str):
        out.error = f"{name} takes one argument, svg: a string holding the SVG document"
        return out
    m = _SVG.search(parsed["svg"])
    if m is None:
        out.error = f"no <svg>...</svg> in the svg argument of {name}"
        return out
    out.svg = m.group(0)
    return out


def protocol_for(model: Model, requested: str = "auto") -> str:
    """native when asked, or (auto) when the model's registry entry says it has tools; else text."""
    if requested not in TOOL_PROTOCOLS:
        raise ValueError(f"unknown tool protocol {requested!r}; use {', '.join(TOOL_PROTOCOLS)}")
    if requested != "auto":
        return requested
    return "native" if getattr(model, "tools", False) else "text"


class _State(TypedDict):
    calls: int
    stop: str


@dataclass
class _Pending:
    """What happened since the last round: calls, malformed ones and their errors, tokens spent."""

    calls: int = 0
    turns: int = 0  # model calls (one per reply)
    malformed: int = 0
    errors: list[str] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)  # replies that made no round (kept: the store is the record)
    usage: Usage = field(default_factory=Usage)
    retries: int = 0

    def add_usage(self, usage: Usage, retries: int) -> None:
        self.usage = Usage(self.usage.input_tokens + usage.input_tokens, self.usage.output_tokens + usage.output_tokens,
                           self.usage.cost_usd + usage.cost_usd, self.usage.latency_s + usage.latency_s)
        self.retries += retries

    def fold_into(self, attempt: Attempt) -> None:
        """Charge these calls and tokens to ``attempt``, then start afresh."""
        u = attempt.usage
        attempt.usage = Usage(u.input_tokens + self.usage.input_tokens, u.output_tokens + self.usage.output_tokens,
                              u.cost_usd + self.usage.cost_usd, u.latency_s + self.usage.latency_s)
        attempt.retries += self.retries
        attempt.tool_calls += self.calls
        attempt.malformed_calls += self.malformed
        attempt.extra["model_calls"] = int(attempt.extra.get("model_calls", 0)) + self.turns
        if self.errors:
            attempt.extra.setdefault("malformed", []).extend(self.errors)
        if self.replies:
            attempt.extra.setdefault("malformed_replies", []).extend(self.replies)
        self.calls, self.turns, self.malformed, self.errors, self.usage, self.retries = 0, 0, 0, [], Usage(), 0
        self.replies = []


def _png(image: Any) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


async def _render(svg: str, task: Task, ctx: SolverContext, attempt: Attempt) -> None:
    """Render ``svg`` into ``attempt`` in the run's sandbox, as ``attempt_once`` does (static or animated)."""
    if task.answer is AnswerKind.ANIMATED_SVG:
        if ctx.animation is None:
            attempt.outcome, attempt.reason = Outcome.RENDER_ERROR, "no animation renderer configured"
            return
        result = await _render_animation(await ctx.animation(), svg, ctx, attempt)
    else:
        result = await ctx.renderer.render(svg, ctx.spec)
        attempt.image = result.image if result.ok else None
    attempt.outcome, attempt.reason = result.outcome, result.reason
    attempt.renderer, attempt.render_seconds = result.renderer, result.seconds


def _shown_image(attempt: Attempt) -> bytes | None:
    """The PNG the model is shown for a render: the image, or an animation's metric frames side by side."""
    if attempt.image is not None:
        return _png(attempt.image)
    if attempt.frames is not None and len(attempt.frames):
        import numpy as np
        from PIL import Image

        strip = np.concatenate(list(attempt.frames), axis=1)
        img = Image.fromarray(strip)
        img.thumbnail((224 * len(attempt.frames), 224))
        return _png(np.asarray(img))
    return None


def _result_text(attempt: Attempt, vision: bool, has_image: bool) -> str:
    if attempt.outcome is not Outcome.OK:
        return f"render failed: {attempt.outcome.value}: {attempt.reason}"
    size = f"{attempt.image.shape[1]}x{attempt.image.shape[0]}" if attempt.image is not None else "animation"
    if not vision:
        return f"ok: the SVG rendered ({size}); you cannot see images, so only the outcome is reported"
    if has_image:
        return f"ok: rendered ({size}); the image follows"
    return f"ok: rendered ({size}); there is no image to show"


@solver("tools")
async def tools(sample: Sample, task: Task, model: Model, ctx: SolverContext) -> Trajectory:
    """The model calls render_svg as it likes (up to ``ctx.max_tool_calls`` calls), then submits."""
    from langgraph.graph import END, StateGraph

    from svgarena.agents._messages import build_messages, bytes_data_url

    limit = max(1, ctx.max_tool_calls)
    protocol = protocol_for(model, ctx.tool_protocol)
    traj = Trajectory(sample_id=sample.id, task=task.id, model=model.name, solver="tools",
                      arm={"solver": "tools", "feedback": "tool", "protocol": protocol, "max_tool_calls": limit,
                           "oracle": False})
    if task.answer is AnswerKind.CHOICE:  # nothing to render: one direct answer
        return await one_round(sample, task, model, ctx, traj, "choice task: direct")
    reason = model.supports(task)
    if reason:
        _emit(traj, ctx, Attempt(round=0, outcome=Outcome.MODEL_ERROR, reason=reason))
        traj.stop_reason = "model error"
        return traj
    try:
        first = build_messages(sample, task, video_frames=ctx.video_frames,
                               video_format=getattr(model, "video_format", None), video_input=ctx.video_input)
    except (OSError, ValueError) as exc:
        _emit(traj, ctx, Attempt(round=0, outcome=Outcome.MODEL_ERROR,
                                 reason=f"could not prepare the input: {type(exc).__name__}: {exc}"))
        traj.stop_reason = "model error"
        return traj
    system = (_NATIVE_SYSTEM if protocol == "native" else _TEXT_SYSTEM).format(n=limit)
    convo: list[dict[str, Any]] = [{"role": "system", "content": system}, *first]
    offered = TOOLS if protocol == "native" else None
    reminder = _REMINDER_NATIVE if protocol == "native" else _REMINDER_TEXT
    pending = _Pending()
    rounds = [0]
    vision = ctx.vision

    def new_round(call: ToolCall, reply_text: str, messages: list[dict[str, Any]]) -> Attempt:
        attempt = Attempt(round=rounds[0], outcome=Outcome.OK, reply=reply_text, answer=call.svg,
                          rule=f"tool:{protocol}", messages=messages,
                          extra={"tool": call.name, "protocol": protocol, **({"call_id": call.id} if call.id else {})})
        rounds[0] += 1
        pending.calls += 1
        pending.fold_into(attempt)
        return attempt

    async def run_call(call: ToolCall, reply_text: str, messages: list[dict[str, Any]]) -> tuple[str, bytes | None, bool]:
        """Carry out one call; the tool's answer text, the PNG to show, and whether it ended the session."""
        if call.error:
            pending.calls += 1
            pending.malformed += 1
            pending.errors.append(call.error)
            return f"malformed call: {call.error}. {reminder}", None, False
        attempt = new_round(call, reply_text, messages)
        assert call.svg is not None
        await _render(call.svg, task, ctx, attempt)
        if call.name == SUBMIT_TOOL:
            attempt.model_chose = True
            _emit(traj, ctx, attempt)  # each round goes to the store as soon as it is rendered
            return "submitted", None, True
        png = _shown_image(attempt) if vision and attempt.outcome is Outcome.OK else None
        text = _result_text(attempt, vision, png is not None)
        attempt.feedback, attempt.feedback_mode = text, "tool"
        attempt.feedback_images = [png] if png is not None else []
        _emit(traj, ctx, attempt)
        return text, png, False

    async def call_model(state: _State) -> dict[str, Any]:
        messages = list(convo)
        kwargs: dict[str, Any] = {"tools": offered} if offered else {}
        if ctx.temperature is not None:
            kwargs["temperature"] = ctx.temperature
        reply = await model.respond(sample, messages, **kwargs)
        pending.add_usage(reply.usage, reply.retries)
        pending.turns += 1
        if reply.error:
            return {"stop": f"model error: {reply.error}"}
        calls = [parse_native_call(c) for c in reply.tool_calls] if protocol == "native" else []
        if protocol == "native" and not calls:
            calls = [ToolCall(error="no tool call in the reply")]
        if protocol == "text":
            calls = [parse_text_call(reply.text)]
        used, rounds_before = state["calls"], rounds[0]
        results: list[tuple[ToolCall, str]] = []
        images: list[tuple[ToolCall, bytes]] = []
        stop = ""
        for call in calls:
            if stop or used >= limit:
                results.append((call, "not run: " + (stop or "the tool call budget is spent")))
                continue
            used += 1
            text, png, ended = await run_call(call, reply.text, messages)
            results.append((call, text))
            if png is not None:
                images.append((call, png))
            if ended:
                stop = "submitted"
        if rounds[0] == rounds_before:  # only malformed calls: keep what the model said
            pending.replies.append(reply.text)
        if stop:
            return {"calls": used, "stop": stop}
        _answer(reply, results, images)
        if used >= limit:
            return {"calls": used, "stop": "max tool calls"}
        return {"calls": used, "stop": ""}

    def _answer(reply: Any, results: list[tuple[ToolCall, str]], images: list[tuple[ToolCall, bytes]]) -> None:
        """Append the assistant turn and the tools' answers to the running chat."""
        if protocol == "native" and reply.tool_calls:
            convo.append({"role": "assistant", "content": reply.text or None, "tool_calls": [
                {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                for c in reply.tool_calls]})
            for call, text in results:
                convo.append({"role": "tool", "tool_call_id": call.id, "content": text})
            if images:
                parts: list[dict[str, Any]] = []
                for call, png in images:
                    parts.append({"type": "text", "text": f"The render from {RENDER_TOOL} call {call.id}:"})
                    parts.append({"type": "image_url", "image_url": {"url": bytes_data_url(png, "image/png")}})
                convo.append({"role": "user", "content": parts})
            return
        convo.append({"role": "assistant", "content": reply.text})
        text = "\n".join(t for _, t in results)
        if images:
            convo.append({"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": bytes_data_url(png, "image/png")}} for _, png in images]
                + [{"type": "text", "text": text}]})
        else:
            convo.append({"role": "user", "content": text})

    graph = StateGraph(_State)
    graph.add_node("call", call_model)
    graph.set_entry_point("call")
    graph.add_conditional_edges("call", lambda s: END if s["stop"] else "call")
    final = await graph.compile().ainvoke({"calls": 0, "stop": ""}, config={"recursion_limit": 2 * limit + 8})
    stop = final["stop"]
    failed = stop.startswith("model error")
    rendered = bool(traj.attempts)
    if not rendered:  # nothing was rendered: one round records the calls, tokens and why
        last = Attempt(round=0, outcome=Outcome.MODEL_ERROR if failed else Outcome.NO_SVG, rule=f"tool:{protocol}",
                       reason=stop[len("model error: "):] if failed else
                       f"no SVG rendered or submitted in {pending.calls} tool call(s)", extra={"protocol": protocol})
        pending.fold_into(last)
        _emit(traj, ctx, last)
    elif failed or pending.turns or pending.calls:  # calls after the last render are charged to it: report it again
        # a copy: the store may still be encoding the reported round in a thread
        last = dataclasses.replace(traj.attempts[-1], extra=dict(traj.attempts[-1].extra))
        traj.attempts[-1] = last
        if failed:
            last.extra["stopped_by"] = stop
        pending.fold_into(last)
        if ctx.on_attempt:
            ctx.on_attempt(last)
    if stop == "submitted":
        traj.stop_reason = "submitted"
    else:
        kind = "model error" if failed else stop
        traj.stop_reason = f"{kind} ({'last render is the answer' if rendered else 'nothing rendered'})"
    return traj


def _emit(traj: Trajectory, ctx: SolverContext, attempt: Attempt) -> None:
    traj.attempts.append(attempt)
    if ctx.on_attempt:
        ctx.on_attempt(attempt)
