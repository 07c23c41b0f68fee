"""Feedback modes render+target and oracle, animation contact sheets, and the multi-round stop rules."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from svgarena.agents import Attempt, BudgetExceeded, Reply, SolverContext, Usage, contact_sheet, get_solver, render_view
from svgarena.outcome import Outcome
from svgarena.sandboxes import LocalRenderer
from svgarena.tasks import Sample, get_task

GOOD = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><circle cx="5" cy="5" r="{r}"/></svg>'
SOURCE = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="4" height="9" fill="red"/></svg>'


class Scripted:
    """Answers from a list of replies (each costing 30 tokens and $0.01); optionally a run cap after n calls."""

    name = "scripted"
    video_format = None

    def __init__(self, replies: list[str], cap_after: int | None = None) -> None:
        self.replies, self.seen, self.cap_after = list(replies), [], cap_after

    def supports(self, task: Any) -> str | None:
        return None

    def check_budget(self) -> None:
        if self.cap_after is not None and len(self.seen) >= self.cap_after:
            raise BudgetExceeded("tokens", 60, 60)

    async def respond(self, sample: Any, messages: list[dict[str, Any]]) -> Reply:
        self.seen.append(messages)
        return Reply(text=self.replies.pop(0), usage=Usage(input_tokens=10, output_tokens=20, cost_usd=0.01))


def _decode(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _solve(name: str, replies: list[str], sample: Sample | None = None, task_id: str = "icon/text2svg",
           model: Scripted | None = None, **ctx: Any):
    task = get_task(task_id)
    sample = sample or Sample(id="1", task=task.id, prompt="Draw a circle.", target=GOOD.format(r=3))
    model = model or Scripted(replies)
    with LocalRenderer(1) as renderer:
        traj = asyncio.run(get_solver(name)(sample, task, model, SolverContext(renderer=renderer, **ctx)))
    return traj, model


def _oracle_by_radius():
    """A stand-in for the harness's oracle: SSIM grows with the circle's radius (r=3 scores 0.99)."""
    async def oracle(attempt: Attempt) -> dict[str, float | None]:
        r = int(attempt.answer.split('r="')[1].split('"')[0]) if attempt.answer else 0
        return {"ssim": 0.33 * r, "psnr": 5.0 * r}
    return oracle


@pytest.mark.timeout(60)
def test_render_target_shows_the_input_image_beside_the_render(tmp_path: Path) -> None:
    from tests.tasks._layout import png_of

    image = tmp_path / "in.png"
    image.write_bytes(png_of(GOOD.format(r=4)))
    task = get_task("icon/img2svg")
    sample = Sample(id="1", task=task.id, prompt="Convert this image to SVG.", target=GOOD.format(r=4), image=image)
    traj, model = _solve("refine", [GOOD.format(r=1), GOOD.format(r=2)], sample=sample, task_id=task.id,
                         rounds=2, feedback="render+target")
    first = traj.attempts[0]
    assert first.feedback_mode == "render+target" and len(first.feedback_images) == 2
    assert np.array_equal(_decode(first.feedback_images[1]), _decode(image.read_bytes()))  # the input image
    assert "the target (the input image)" in first.feedback
    sent = model.seen[1][-1]["content"]
    assert [p["type"] for p in sent] == ["image_url", "image_url", "text"]
    assert traj.arm["oracle"] is False and traj.arm["feedback"] == "render+target"


@pytest.mark.timeout(60)
def test_render_target_on_edit_renders_the_source_and_text_tasks_say_there_is_none() -> None:
    task = get_task("icon/edit/flip")
    sample = Sample(id="1", task=task.id, prompt=f"Flip this SVG.\n{SOURCE}\nOnly output the svg code.", target=SOURCE)
    traj, _ = _solve("refine", [GOOD.format(r=1), GOOD.format(r=2)], sample=sample, task_id=task.id, rounds=2,
                     feedback="render+target")
    target = _decode(traj.attempts[0].feedback_images[1])
    assert target[..., 0].mean() > target[..., 1].mean()  # the red source rectangle
    assert "source SVG" in traj.attempts[0].feedback

    traj, model = _solve("refine", [GOOD.format(r=1), GOOD.format(r=2)], rounds=2, feedback="render+target")
    first = traj.attempts[0]
    assert len(first.feedback_images) == 1 and "no target image" in first.feedback
    assert first.extra["target"] == "icon/text2svg has no target image: it gives a description only"


@pytest.mark.timeout(60)
def test_oracle_feedback_shows_the_scores_and_the_arm_says_oracle() -> None:
    traj, model = _solve("refine", [GOOD.format(r=1), GOOD.format(r=2)], rounds=2, feedback="oracle",
                         oracle=_oracle_by_radius())
    first = traj.attempts[0]
    assert first.feedback_mode == "oracle" and "SSIM 0.3300" in first.feedback and "PSNR 5.00 dB" in first.feedback
    assert first.oracle == {"ssim": pytest.approx(0.33), "psnr": 5.0}
    assert traj.arm["oracle"] is True and traj.arm["oracle_use"] == ["feedback"]
    with pytest.raises(ValueError, match="need the harness's oracle"):
        _solve("refine", [GOOD.format(r=1)], feedback="oracle")


@pytest.mark.timeout(60)
def test_oracle_threshold_stops_and_is_an_oracle_arm() -> None:
    replies = [GOOD.format(r=r) for r in (1, 2, 3, 4)]
    traj, model = _solve("refine", replies, rounds=4, stop_on="oracle-threshold", oracle_threshold=0.99,
                         oracle=_oracle_by_radius())
    assert traj.stop_reason == "oracle threshold" and len(traj.attempts) == 3 and len(model.seen) == 3
    assert traj.attempts[0].feedback_mode == "render" and "SSIM" not in traj.attempts[0].feedback  # not shown
    assert traj.arm["oracle"] is True and traj.arm["oracle_use"] == ["stop"] and traj.arm["oracle_threshold"] == 0.99
    traj, model = _solve("resample", replies, samples=4, stop_on="oracle-threshold", oracle=_oracle_by_radius())
    assert traj.stop_reason == "oracle threshold" and len(traj.attempts) == 3


@pytest.mark.timeout(60)
@pytest.mark.parametrize("cap, reason, rounds", [
    ({"sample_max_tokens": 60}, "sample budget: tokens", 2),
    ({"sample_max_cost": 0.03}, "sample budget: cost", 3),
    ({"sample_time_limit": 1e-9}, "sample budget: time", 1),
])
def test_sample_budgets_stop_the_rounds(cap: dict[str, Any], reason: str, rounds: int) -> None:
    replies = [GOOD.format(r=r) for r in (1, 2, 3, 4, 1)]
    traj, model = _solve("refine", replies, rounds=5, **cap)
    assert traj.stop_reason == reason and len(traj.attempts) == rounds == len(model.seen)
    assert traj.attempts[-1].feedback == ""  # nothing is shown after the last round
    assert traj.arm["sample_budget"]
    traj, _ = _solve("resample", replies, samples=5, **cap)
    assert traj.stop_reason == reason and len(traj.attempts) == rounds


@pytest.mark.timeout(60)
def test_a_cached_reply_counts_its_first_price_against_the_sample_budget() -> None:
    class Cached(Scripted):
        async def respond(self, sample: Any, messages: list[dict[str, Any]]) -> Reply:
            self.seen.append(messages)  # a cache hit: nothing paid now, the first price kept
            return Reply(text=self.replies.pop(0), usage=Usage(10, 20), raw={"cached": True, "cached_cost_usd": 0.01})

    traj, _ = _solve("refine", [], model=Cached([GOOD.format(r=r) for r in (1, 2, 3, 4)]), rounds=4,
                     sample_max_cost=0.02)
    assert traj.stop_reason == "sample budget: cost" and len(traj.attempts) == 2


@pytest.mark.timeout(60)
def test_the_run_cap_ends_the_trajectory_with_its_rounds_kept() -> None:
    model = Scripted([GOOD.format(r=r) for r in (1, 2, 3)], cap_after=2)
    traj, _ = _solve("refine", [], model=model, rounds=3)
    assert traj.stop_reason == "run budget" and len(traj.attempts) == 2
    assert isinstance(traj.budget_error, BudgetExceeded) and traj.attempts[-1].feedback == ""


def test_animation_render_feedback_is_a_labelled_contact_sheet() -> None:
    frames = np.stack([np.full((64, 64, 3), 30 * i, dtype=np.uint8) for i in range(8)])
    view = render_view(Attempt(round=0, outcome=Outcome.OK, frames=frames))
    assert view is not None and view.shape == (2 * (224 + 16), 4 * 224, 3)
    assert view[16 + 100, 3 * 224 + 100].tolist() == [90, 90, 90]  # frame 3 in row 0, column 3
    assert (view[:16, :224] < 128).any()  # its time label is drawn above it
    labels = contact_sheet(list(frames[:2]), [0.0, 1.4])[:16]
    assert not np.array_equal(labels[:, :224], labels[:, 224:])  # "t=0.00 s" and "t=1.40 s" differ


@pytest.mark.timeout(60)
def test_video2sani_target_is_a_contact_sheet_of_the_input_frames(tmp_path: Path) -> None:
    from svgarena.agents import load_target
    from svgarena.sandboxes import encode_mp4

    frames = np.stack([np.full((64, 64, 3), 8 * i, dtype=np.uint8) for i in range(30)])  # 1 s at 30 fps
    video = encode_mp4(frames, tmp_path / "in.mp4")
    task = get_task("animation/video2sani")
    sample = Sample(id="1", task=task.id, prompt="Animate this.", target="", video=video)
    target = asyncio.run(load_target(sample, task))
    sheet = _decode(target.png)
    assert target.what == "the input video's frames" and sheet.shape == (2 * (224 + 16), 4 * 224, 3)
    assert sheet[16 + 100, 100].mean() < sheet[2 * 16 + 224 + 100, 3 * 224 + 100].mean()  # first frame darker than last
