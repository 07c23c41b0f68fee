"""Built-in baselines: oracle, blank, and VTracer tracing a real rendered icon."""

from __future__ import annotations

import asyncio
import io
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from svgarena.agents import BASELINES, BlankBaseline, Model, OracleBaseline, VTracerBaseline, get_model
from svgarena.tasks import TASKS, Sample, get_task

ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 128 128">'
    '<circle cx="64" cy="64" r="54" fill="#ffd166" stroke="#333" stroke-width="4"/>'
    '<circle cx="46" cy="52" r="7" fill="#333"/><circle cx="82" cy="52" r="7" fill="#333"/>'
    '<path d="M38 78 Q64 104 90 78" fill="none" stroke="#333" stroke-width="6" stroke-linecap="round"/>'
    '<rect x="90" y="94" width="26" height="26" rx="4" fill="#2a9d8f"/></svg>'
)


def _render(svg: str) -> np.ndarray:
    """SArena's static render: cairosvg at 448x448 on white, as RGB uint8."""
    import cairosvg

    png = cairosvg.svg2png(bytestring=svg.encode(), background_color="white", output_width=448, output_height=448)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _ssim(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    return float(structural_similarity(a, b, win_size=11, channel_axis=-1))


def test_names_and_protocol() -> None:
    assert BASELINES == ("baseline/oracle", "baseline/blank", "baseline/vtracer")
    for name in BASELINES:
        model = get_model(name)
        assert model.name == name
        assert isinstance(model, Model)


def test_unknown_baseline_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="baseline/oracle, baseline/blank, baseline/vtracer"):
        get_model("baseline/potrace")


def test_oracle_answers_the_reference() -> None:
    oracle = OracleBaseline()
    choice = Sample(id="1", task="icon/understanding", prompt="Which colour?", target="B")
    svg = Sample(id="2", task="icon/text2svg", prompt="Draw.", target=ICON)
    reply = asyncio.run(oracle.respond(choice, []))
    assert reply.text == "B." and reply.error is None and reply.usage.cost_usd == 0.0
    assert asyncio.run(oracle.respond(svg, [])).text == ICON
    assert all(oracle.supports(t) is None for t in TASKS.values())


def test_blank_answers_nothing() -> None:
    blank = BlankBaseline()
    reply = asyncio.run(blank.respond(Sample(id="1", task="icon/text2svg", prompt="Draw.", target=ICON), []))
    assert reply.text == "" and reply.error is None and reply.usage.cost_usd == 0.0
    assert all(blank.supports(t) is None for t in TASKS.values())


def test_vtracer_supports_only_tasks_with_an_input_image() -> None:
    vt = VTracerBaseline()
    assert vt.supports(get_task("icon/img2svg")) is None
    assert vt.supports(get_task("chemistry/img2svg")) is None
    assert vt.supports(get_task("animation/video2sani")) is None
    for task_id in ("icon/text2svg", "icon/edit/crop", "icon/understanding", "animation/text2sani"):
        reason = vt.supports(get_task(task_id))
        assert isinstance(reason, str) and task_id in reason and reason.startswith("baseline/vtracer")


@pytest.mark.timeout(60)
def test_vtracer_traces_a_rendered_icon_faithfully(tmp_path: Path) -> None:
    reference = _render(ICON)
    image = tmp_path / "1.png"
    Image.fromarray(reference).save(image)
    sample = Sample(id="1", task="icon/img2svg", prompt="Convert.", target=ICON, image=image)

    start = time.perf_counter()
    reply = asyncio.run(VTracerBaseline().respond(sample, []))
    assert reply.error is None
    assert reply.usage.cost_usd == 0.0 and 0 < reply.usage.latency_s <= time.perf_counter() - start

    root = ET.fromstring(reply.text)  # parses as XML, as SArena requires
    assert root.tag.endswith("svg")
    assert root.get("viewBox") == "0 0 448 448"
    assert root.get("width") == "128" and root.get("height") == "128"
    assert _ssim(reference, _render(reply.text)) > 0.8


@pytest.mark.timeout(60)
def test_vtracer_flattens_transparency_onto_white(tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (448, 448), (0, 0, 0, 0))
    rgba.paste((220, 40, 40, 255), (100, 100, 348, 348))
    image = tmp_path / "2.png"
    rgba.save(image)
    sample = Sample(id="2", task="icon/img2svg", prompt="Convert.", target=ICON, image=image)
    reply = asyncio.run(VTracerBaseline().respond(sample, []))
    got = _render(reply.text)
    assert tuple(got[20, 20]) == (255, 255, 255)
    assert np.abs(got[224, 224].astype(int) - (220, 40, 40)).max() <= 2


@pytest.mark.timeout(60)
def test_vtracer_traces_first_video_frame(tmp_path: Path) -> None:
    import imageio_ffmpeg

    video = tmp_path / "clip.mp4"
    writer = imageio_ffmpeg.write_frames(str(video), (448, 448), fps=30, quality=10)
    writer.send(None)
    for i in range(6):
        frame = np.full((448, 448, 3), 255, dtype=np.uint8)
        frame[150:300, 50 + 40 * i : 200 + 40 * i] = (30, 60, 200)
        writer.send(frame.tobytes())
    writer.close()
    sample = Sample(id="3", task="animation/video2sani", prompt="Animate.", target=ICON, video=video)
    reply = asyncio.run(VTracerBaseline().respond(sample, []))
    assert reply.error is None
    got = _render(reply.text)
    assert np.abs(got[225, 100].astype(int) - (30, 60, 200)).max() < 25  # inside the first frame's box
    assert np.abs(got[225, 400].astype(int) - 255).max() < 25  # outside it


def test_vtracer_without_input_is_an_error_reply() -> None:
    sample = Sample(id="4", task="icon/img2svg", prompt="Convert.", target=ICON)
    reply = asyncio.run(VTracerBaseline().respond(sample, []))
    assert reply.error is not None and "no input image" in reply.error


def test_vtracer_runs_off_the_event_loop(tmp_path: Path) -> None:
    image = tmp_path / "1.png"
    Image.fromarray(_render(ICON)).save(image)
    sample = Sample(id="1", task="icon/img2svg", prompt="Convert.", target=ICON, image=image)

    async def main() -> int:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        await asyncio.gather(*(VTracerBaseline().respond(sample, []) for _ in range(3)))
        task.cancel()
        return ticks

    assert asyncio.run(main()) > 50  # the loop kept turning while three traces ran
