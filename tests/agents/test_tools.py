"""The tools solver on its own: call parsing, the native and text round trips, budgets and hostile renders."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from svgarena.agents import TOOLS, Reply, SolverContext, get_solver, parse_native_call, parse_text_call
from svgarena.outcome import Outcome
from svgarena.sandboxes import LocalRenderer, RenderSpec
from svgarena.tasks import Sample, get_task

GOOD = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><circle cx="5" cy="5" r="{r}"/></svg>'
NS = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'


def _use_bomb(levels: int = 12, fan: int = 8) -> str:
    defs = '<rect id="u0" width="1" height="1"/>'
    for i in range(1, levels + 1):
        defs += f'<g id="u{i}">' + f'<use xlink:href="#u{i - 1}"/>' * fan + "</g>"
    return f'<svg {NS} viewBox="0 0 10 10"><defs>{defs}</defs><use xlink:href="#u{levels}"/></svg>'


def native(name: str, args: Any, call_id: str = "c1") -> dict[str, Any]:
    return {"id": call_id, "name": name, "arguments": args if isinstance(args, str) else json.dumps(args)}


class Scripted:
    """Answers from a list of replies (text, or a list of native calls), recording what it was sent."""

    name = "scripted"
    video_format = None

    def __init__(self, replies: list[Any], tools: bool = False) -> None:
        self.replies, self.seen, self.offered = list(replies), [], []
        self.tools = tools

    def supports(self, task: Any) -> str | None:
        return None

    async def respond(self, sample: Any, messages: list[dict[str, Any]], tools: Any = None,
                      temperature: float | None = None) -> Reply:
        self.seen.append(messages)
        self.offered.append(tools)
        nxt = self.replies.pop(0)
        if isinstance(nxt, Reply):
            return nxt
        if isinstance(nxt, list):
            return Reply(text="", tool_calls=nxt)
        return Reply(text=nxt)


def _solve(replies: list[Any], *, tools: bool = False, task_id: str = "icon/text2svg",
           spec: RenderSpec | None = None, **ctx: Any):
    task = get_task(task_id)
    sample = Sample(id="1", task=task.id, prompt="Draw a circle.", target=GOOD.format(r=3))
    model = Scripted(replies, tools=tools)
    hooked: list[int] = []
    with LocalRenderer(1) as renderer:
        context = SolverContext(renderer=renderer, on_attempt=lambda a: hooked.append(a.round),
                                spec=spec or RenderSpec(), **ctx)
        traj = asyncio.run(get_solver("tools")(sample, task, model, context))
    return traj, model, hooked


def test_text_protocol_parse_errors_name_what_is_wrong() -> None:
    assert parse_text_call(f"Here: <render>{GOOD.format(r=1)}</render>").svg == GOOD.format(r=1)
    assert parse_text_call(f"<SUBMIT>\n{GOOD.format(r=1)}\n</SUBMIT>").name == "submit"
    cases = {
        f"<render>{GOOD}": "unclosed <render>",
        f"<render>{GOOD}</render><submit>{GOOD}</submit>": "both <render> and <submit>",
        f"<render>{GOOD}</render><render>{GOOD}</render>": "more than one <render>",
        "<submit>I am done</submit>": "no <svg>...</svg> inside <submit>",
        GOOD.format(r=2): "no tool call",
        f"{GOOD}</render>": "without an opening <render>",
    }
    for reply, error in cases.items():
        assert error in (parse_text_call(reply).error or ""), reply


def test_native_call_parse_errors() -> None:
    assert parse_native_call(native("render_svg", {"svg": GOOD})).svg == GOOD
    assert "not valid JSON" in parse_native_call(native("render_svg", '{"svg": "<svg')).error
    assert "unknown tool 'draw'" in parse_native_call(native("draw", {"svg": GOOD})).error
    assert "takes one argument, svg" in parse_native_call(native("submit", {"code": GOOD})).error
    assert "no <svg>" in parse_native_call(native("submit", {"svg": "a circle"})).error


@pytest.mark.timeout(60)
def test_text_protocol_round_trip_counts_the_malformed_call() -> None:
    replies = [f"<render>{GOOD.format(r=1)}</render>", f"<render>{GOOD.format(r=2)}",
               f"Final: <submit>{GOOD.format(r=3)}</submit>"]
    traj, model, hooked = _solve(replies)
    assert traj.stop_reason == "submitted" and traj.arm["protocol"] == "text"
    assert [a.round for a in traj.attempts] == [0, 1] and hooked == [0, 1]
    first, sub = traj.attempts
    assert first.outcome is Outcome.OK and first.feedback_mode == "tool" and first.feedback.startswith("ok")
    assert first.feedback_images[0].startswith(b"\x89PNG") and not first.model_chose
    assert sub.model_chose and sub.answer == GOOD.format(r=3) and sub.image is not None
    assert (sub.tool_calls, sub.malformed_calls) == (2, 1) and "unclosed <render>" in sub.extra["malformed"][0]
    assert sub.extra["malformed_replies"] == [replies[1]] and "malformed_replies" not in first.extra
    assert model.offered == [None, None, None]  # no tool definitions on the text path
    assert "<render>" in model.seen[0][0]["content"] and model.seen[0][0]["role"] == "system"
    after_render = model.seen[1]
    assert after_render[-2] == {"role": "assistant", "content": replies[0]}
    assert [p["type"] for p in after_render[-1]["content"]] == ["image_url", "text"]
    after_bad = model.seen[2][-1]
    assert after_bad["role"] == "user" and "malformed call: unclosed <render>" in after_bad["content"]


@pytest.mark.timeout(60)
def test_native_round_trip_sends_a_tool_message_then_the_image_as_a_user_message() -> None:
    replies = [[native("render_svg", {"svg": GOOD.format(r=1)}, "a")],
               [native("submit", {"svg": GOOD.format(r=3)}, "b")]]
    traj, model, _ = _solve(replies, tools=True)
    assert traj.arm["protocol"] == "native" and model.offered[0] == TOOLS
    assert traj.stop_reason == "submitted" and [a.model_chose for a in traj.attempts] == [False, True]
    assert traj.attempts[0].extra["call_id"] == "a" and traj.attempts[0].rule == "tool:native"
    assistant, tool, user = model.seen[1][-3:]
    assert assistant["role"] == "assistant" and assistant["tool_calls"][0]["id"] == "a"
    assert assistant["tool_calls"][0]["function"]["name"] == "render_svg"
    assert tool["role"] == "tool" and tool["tool_call_id"] == "a" and tool["content"].startswith("ok")
    assert isinstance(tool["content"], str)  # the image never goes into the tool message
    assert user["role"] == "user" and user["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")


@pytest.mark.timeout(60)
def test_native_bad_arguments_are_answered_in_the_tool_message_and_counted() -> None:
    replies = [[native("render_svg", '{"svg": "<svg', "x")], Reply(text="I think it is done."),
               [native("submit", {"svg": GOOD.format(r=3)}, "y")]]
    traj, model, _ = _solve(replies, tools=True)
    (sub,) = traj.attempts
    assert (sub.round, sub.malformed_calls, sub.tool_calls) == (0, 2, 3) and sub.model_chose
    tool = model.seen[1][-1]
    assert tool == {"role": "tool", "tool_call_id": "x",
                    "content": tool["content"]} and "not valid JSON" in tool["content"]
    nudge = model.seen[2][-1]
    assert nudge["role"] == "user" and "no tool call" in nudge["content"]


@pytest.mark.timeout(60)
def test_max_tool_calls_stops_with_the_last_render_as_the_answer() -> None:
    traj, model, _ = _solve([f"<render>{GOOD.format(r=r)}</render>" for r in (1, 2, 3, 4)], max_tool_calls=3)
    assert traj.stop_reason == "max tool calls (last render is the answer)" and len(model.seen) == 3
    assert [a.round for a in traj.attempts] == [0, 1, 2] and traj.final.answer == GOOD.format(r=3)
    assert not any(a.model_chose for a in traj.attempts)


@pytest.mark.timeout(60)
def test_only_malformed_calls_end_as_one_no_svg_round() -> None:
    traj, _, _ = _solve(["no idea", "<render>still nothing</render>"], max_tool_calls=2)
    (only,) = traj.attempts
    assert only.outcome is Outcome.NO_SVG and (only.malformed_calls, only.tool_calls) == (2, 2)
    assert traj.stop_reason == "max tool calls (nothing rendered)"
    assert only.extra["malformed_replies"] == ["no idea", "<render>still nothing</render>"]


@pytest.mark.timeout(60)
def test_hostile_render_becomes_a_typed_failure_and_the_session_goes_on() -> None:
    replies = [f"<render>{_use_bomb()}</render>", f"<submit>{GOOD.format(r=3)}</submit>"]
    traj, model, _ = _solve(replies, spec=RenderSpec(timeout_s=2.0))
    bad, sub = traj.attempts
    assert bad.outcome in (Outcome.PARSE_ERROR, Outcome.RENDER_ERROR, Outcome.RENDER_TIMEOUT)
    assert bad.feedback.startswith(f"render failed: {bad.outcome.value}") and bad.feedback_images == []
    assert model.seen[1][-1] == {"role": "user", "content": bad.feedback}
    assert sub.outcome is Outcome.OK and sub.model_chose


@pytest.mark.timeout(60)
def test_blind_models_get_the_outcome_as_text_only() -> None:
    traj, model, _ = _solve([f"<render>{GOOD.format(r=1)}</render>", f"<submit>{GOOD.format(r=1)}</submit>"],
                            vision=False)
    assert "cannot see images" in traj.attempts[0].feedback and traj.attempts[0].feedback_images == []
    assert isinstance(model.seen[1][-1]["content"], str)


@pytest.mark.timeout(60)
def test_choice_tasks_answer_directly_and_model_errors_stop() -> None:
    traj, model, _ = _solve(["B"], task_id="icon/understanding")
    assert traj.stop_reason == "choice task: direct" and traj.attempts[0].answer == "B"
    traj, _, _ = _solve([f"<render>{GOOD.format(r=1)}</render>", Reply(error="RateLimitError: slow down")])
    assert traj.stop_reason == "model error (last render is the answer)" and len(traj.attempts) == 1
    assert traj.attempts[0].outcome is Outcome.OK and "RateLimitError" in traj.attempts[0].extra["stopped_by"]


def test_registry_says_which_models_have_native_tools(tmp_path) -> None:
    from svgarena.agents import ManagedModel, get_model, load_registry, protocol_for

    reg = load_registry(cwd=tmp_path)
    have = {n: reg.get(n).tools for n in ("gpt-4o", "claude-sonnet-4", "gemini-2.5-pro", "internsvg-8b", "smollm2")}
    assert have == {"gpt-4o": True, "claude-sonnet-4": True, "gemini-2.5-pro": True, "internsvg-8b": False,
                    "smollm2": False}
    assert get_model("gpt-4o", reg).tools and not get_model("openai/local-thing", reg).tools
    models = tmp_path / "m.yaml"
    models.write_text("models:\n  mine: {route: openai/mine, api_base: 'http://127.0.0.1:9/v1', client: direct, "
                      "accepts: {tools: true}}\n")
    mine = ManagedModel(get_model("mine", load_registry(models, cwd=tmp_path)))
    assert protocol_for(mine) == "native" and protocol_for(mine.for_trajectory("t", 0)) == "native"
    assert protocol_for(mine, "text") == "text"
    with pytest.raises(ValueError, match="unknown tool protocol"):
        protocol_for(mine, "json")


def test_reply_cache_keeps_tool_calls_and_a_call_only_reply_is_not_empty(tmp_path) -> None:
    from svgarena.agents import ErrorClass, ReplyCache, classify

    reply = Reply(text="", tool_calls=[native("render_svg", {"svg": GOOD})])
    assert classify(reply) is ErrorClass.OK and classify(Reply(text="")) is ErrorClass.EMPTY
    cache = ReplyCache(tmp_path / "calls.sqlite")
    try:
        cache.put("k", "m", reply)
        assert cache.get("k").tool_calls == reply.tool_calls and "tool_calls" not in cache.get("k").raw
    finally:
        cache.close()


@pytest.mark.timeout(60)
def test_animated_answers_are_rendered_by_the_animation_capture_and_shown_as_a_frame_strip() -> None:
    import numpy as np

    from svgarena.sandboxes import RenderResult

    class Capture:
        def __init__(self) -> None:
            self.seen: list[str] = []

        async def capture(self, svg: str, times: list[float], size: int = 448) -> RenderResult:
            self.seen.append(svg)
            frames = np.zeros((len(times), size, size, 3), dtype=np.uint8)
            return RenderResult(Outcome.OK, image=frames[0], meta={"frames": frames}, renderer="fake-browser")

    capture = Capture()

    async def get() -> Capture:
        return capture

    task = get_task("animation/text2sani")
    sample = Sample(id="1", task=task.id, prompt="Animate a circle.", target=GOOD.format(r=3))
    model = Scripted([f"<render>{GOOD.format(r=1)}</render>", f"<submit>{GOOD.format(r=2)}</submit>"])
    with LocalRenderer(1) as renderer:
        ctx = SolverContext(renderer=renderer, animation=get, animation_mode="fast", metric_frames=4)
        traj = asyncio.run(get_solver("tools")(sample, task, model, ctx))
    assert capture.seen == [GOOD.format(r=1), GOOD.format(r=2)] and traj.stop_reason == "submitted"
    first = traj.attempts[0]
    assert first.frames is not None and first.frames.shape[0] == 4 and first.renderer == "fake-browser"
    from PIL import Image
    import io

    strip = Image.open(io.BytesIO(first.feedback_images[0]))
    assert strip.size == (4 * 224, 224)  # the metric frames side by side


def test_each_round_is_reported_before_the_next_model_call_and_later_calls_are_charged_to_it() -> None:
    """The store has every round as it happens (not one call late); calls after the last render update it."""
    task = get_task("icon/text2svg")
    sample = Sample(id="1", task=task.id, prompt="Draw a circle.", target=GOOD.format(r=3))
    hooked: list[tuple[int, int]] = []
    model = Scripted([f"<render>{GOOD.format(r=1)}</render>", f"<render>{GOOD.format(r=2)}</render>",
                      "no call here", Reply(text="", error="server went away")])
    seen_at_call: list[int] = []
    respond = model.respond

    async def counting(*args: Any, **kwargs: Any) -> Reply:
        seen_at_call.append(len(hooked))
        return await respond(*args, **kwargs)

    model.respond = counting  # type: ignore[method-assign]
    with LocalRenderer(1) as renderer:
        context = SolverContext(renderer=renderer, spec=RenderSpec(), max_tool_calls=8,
                                on_attempt=lambda a: hooked.append((a.round, a.malformed_calls)))
        traj = asyncio.run(get_solver("tools")(sample, task, model, context))
    assert seen_at_call == [0, 1, 2, 2]  # round k was reported before call k+1 went out
    # round 1 is reported again at the end, now carrying the malformed call and the failed call after it
    assert hooked == [(0, 0), (1, 0), (1, 1)]
    last = traj.attempts[-1]
    assert [a.round for a in traj.attempts] == [0, 1] and last.extra["model_calls"] == 3
    assert last.extra["stopped_by"].startswith("model error") and traj.stop_reason.startswith("model error")
