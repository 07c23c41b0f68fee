"""The refine and resample solvers on their own: feedback turns, stop rules and the per-round hook."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from svgarena.agents import DONE_MARKER, Reply, SolverContext, get_solver
from svgarena.sandboxes import LocalRenderer
from svgarena.tasks import Sample, get_task

GOOD = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><circle cx="5" cy="5" r="{r}"/></svg>'


class Scripted:
    """Answers from a list of replies, recording every message list it was sent."""

    name = "scripted"
    video_format = None

    def __init__(self, replies: list[str]) -> None:
        self.replies, self.seen = list(replies), []

    def supports(self, task: Any) -> str | None:
        return None

    async def respond(self, sample: Any, messages: list[dict[str, Any]]) -> Reply:
        self.seen.append(messages)
        return Reply(text=self.replies.pop(0))


def _solve(name: str, replies: list[str], task_id: str = "icon/text2svg", **ctx: Any):
    task = get_task(task_id)
    sample = Sample(id="1", task=task.id, prompt="Draw a circle.", target=GOOD.format(r=3))
    model = Scripted(replies)
    hooked: list[tuple[int, str]] = []
    with LocalRenderer(1) as renderer:
        context = SolverContext(renderer=renderer, on_attempt=lambda a: hooked.append((a.round, a.feedback_mode)),
                                **ctx)
        traj = asyncio.run(get_solver(name)(sample, task, model, context))
    return traj, model, hooked


def _parts(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return messages[-1]["content"]


@pytest.mark.timeout(60)
def test_render_feedback_shows_the_png_and_hook_sees_feedback_attached() -> None:
    traj, model, hooked = _solve("refine", [GOOD.format(r=1), GOOD.format(r=2), GOOD.format(r=3)], rounds=3)
    assert traj.stop_reason == "rounds exhausted" and [a.round for a in traj.attempts] == [0, 1, 2]
    assert hooked == [(0, "render"), (1, "render"), (2, "")]  # called once per round, after its feedback
    first = traj.attempts[0]
    assert first.feedback_images and first.feedback_images[0].startswith(b"\x89PNG")
    assert DONE_MARKER in first.feedback
    sent = _parts(model.seen[1])
    assert sent[0]["type"] == "image_url" and sent[0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert model.seen[1][-2] == {"role": "assistant", "content": GOOD.format(r=1)}
    assert traj.arm == {"solver": "refine", "feedback": "render", "rounds": 3, "oracle": False}


@pytest.mark.timeout(60)
def test_failed_round_feedback_names_the_reason_and_blind_models_get_text_only() -> None:
    traj, model, _ = _solve("refine", ["sorry, no idea", GOOD.format(r=2), GOOD.format(r=2)], rounds=3, vision=False)
    assert "no_svg" in traj.attempts[0].feedback and "cannot see images" in traj.attempts[0].feedback
    assert model.seen[1][-1]["content"] == traj.attempts[0].feedback  # text only: a plain string, no parts
    assert traj.attempts[1].feedback_images == []
    assert traj.stop_reason == "identical svg" and len(traj.attempts) == 3


@pytest.mark.timeout(60)
def test_done_marker_stops_and_is_the_models_choice() -> None:
    traj, model, _ = _solve("refine", [GOOD.format(r=1), GOOD.format(r=3) + " " + DONE_MARKER], rounds=5)
    assert traj.stop_reason == "done marker" and traj.attempts[-1].model_chose
    assert not traj.attempts[0].model_chose and len(model.seen) == 2


@pytest.mark.timeout(60)
def test_bare_done_marker_chooses_the_previous_svg_round() -> None:
    """"Looks right. <done/>" with no SVG keeps the previous answer: that round is the model's choice, so
    --select best-model never picks the failed marker round; the marker round stays recorded."""
    from svgarena.harness._select import select_round
    from svgarena.outcome import Outcome

    traj, model, hooked = _solve("refine", [GOOD.format(r=1), GOOD.format(r=2), "Looks right. " + DONE_MARKER],
                                 rounds=5)
    assert traj.stop_reason == "done marker" and len(traj.attempts) == 3 and len(model.seen) == 3
    marker = traj.attempts[2]
    assert marker.outcome is Outcome.NO_SVG and not marker.model_chose and marker.extra["done_marker_chose"] == 1
    assert [a.model_chose for a in traj.attempts] == [False, True, False]
    assert hooked == [(0, "render"), (1, "render"), (1, "render"), (2, "")]  # round 1 reported again, now chosen
    assert select_round(traj.attempts, {}, "best-model") == 1
    # a bare marker on round 0 has nothing to keep: no round is chosen, best-model falls back to the last
    traj, _, _ = _solve("refine", [DONE_MARKER], rounds=3)
    assert traj.stop_reason == "done marker" and [a.model_chose for a in traj.attempts] == [False]


@pytest.mark.timeout(60)
def test_none_feedback_is_a_plain_review_turn() -> None:
    traj, model, _ = _solve("refine", [GOOD.format(r=1), GOOD.format(r=2)], rounds=2, feedback="none")
    assert model.seen[1][-1]["content"] == traj.attempts[0].feedback  # a plain string turn
    assert "review and improve" in traj.attempts[0].feedback.lower() and traj.attempts[0].feedback_images == []


@pytest.mark.timeout(60)
def test_choice_tasks_run_direct_and_bad_feedback_mode_is_refused() -> None:
    traj, model, _ = _solve("refine", ["B"], task_id="icon/understanding", rounds=3)
    assert traj.stop_reason == "choice task: direct" and len(traj.attempts) == 1 and traj.attempts[0].answer == "B"
    with pytest.raises(ValueError, match="unknown feedback mode"):
        _solve("refine", [GOOD.format(r=1)], feedback="oracle-peek")


@pytest.mark.timeout(60)
def test_resample_asks_the_same_prompt_each_round() -> None:
    traj, model, hooked = _solve("resample", [GOOD.format(r=1), GOOD.format(r=2)], samples=2)
    assert [a.round for a in traj.attempts] == [0, 1] and model.seen[0] == model.seen[1]
    assert hooked == [(0, ""), (1, "")] and traj.arm["samples"] == 2
