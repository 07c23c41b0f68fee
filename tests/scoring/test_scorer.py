"""Per-sample scores in both views, and their aggregation."""

from __future__ import annotations

import io
from pathlib import Path

import cairosvg
import numpy as np
import pytest
from PIL import Image

from svgarena.outcome import Outcome
from svgarena.scoring import SampleScore, aggregate, black_image, get_token_counter, psnr, score_sample, ssim
from svgarena.tasks._registry import get_task
from svgarena.tasks._types import Sample

SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 128 128">'
    '<circle cx="64" cy="64" r="40" fill="#2563eb"/><rect x="30" y="80" width="60" height="20" fill="#f59e0b"/></svg>'
)
BYTES = get_token_counter("utf8-bytes")


def render(svg: str) -> np.ndarray:
    png = cairosvg.svg2png(bytestring=svg.encode(), background_color="white", output_width=448, output_height=448)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, np.ndarray]:
    image = render(SVG)
    path = tmp_path_factory.mktemp("ref") / "1.png"
    Image.fromarray(image).save(path)
    return path, image


def img_sample(ref_path: Path, sid: str = "1") -> Sample:
    return Sample(id=sid, task="icon/img2svg", prompt="p", target=SVG, reference_image=ref_path)


def test_perfect_prediction(reference):
    path, image = reference
    task = get_task("icon/img2svg")
    scores = score_sample(task, img_sample(path), Outcome.OK, SVG, image=image.copy(), tokens=BYTES)
    assert set(scores) == {"ssim", "psnr", "token_length"}  # dino and lpips are a later metric suite
    assert scores["ssim"] == SampleScore(pytest.approx(1.0), True)
    assert scores["psnr"].value == 100.0 and scores["psnr"].ok
    assert scores["token_length"] == SampleScore(len(SVG.encode()), True)


def test_failed_sample_is_scored_against_black(reference):
    path, image = reference
    task = get_task("icon/edit/crop")
    for outcome in (Outcome.PARSE_ERROR, Outcome.RENDER_TIMEOUT, Outcome.NO_SVG, Outcome.MODEL_ERROR):
        scores = score_sample(task, img_sample(path), outcome, None, tokens=BYTES)
        assert scores["ssim"].value == pytest.approx(ssim(image, black_image()))
        assert scores["psnr"].value == pytest.approx(psnr(image, black_image()))
        assert not scores["ssim"].ok and not scores["psnr"].ok
        assert scores["token_length"] == SampleScore(None, False)
    # An image passed with a failed outcome is ignored: the outcome decides.
    scores = score_sample(task, img_sample(path), Outcome.RENDER_ERROR, SVG, image=image, tokens=BYTES)
    assert scores["psnr"].value < 100 and scores["token_length"].value is None


def test_views_of_a_mixed_set(reference):
    path, image = reference
    task = get_task("icon/img2svg")
    good = score_sample(task, img_sample(path, "a"), Outcome.OK, SVG, image=image, tokens=BYTES)
    bad = score_sample(task, img_sample(path, "b"), Outcome.RENDER_ERROR, "<svg", tokens=BYTES)
    table = aggregate([good, bad])
    black_ssim = ssim(image, black_image())
    assert table["ssim"]["sarena"] == pytest.approx((1.0 + black_ssim) / 2)
    assert table["ssim"]["ok_only"] == pytest.approx(1.0)
    assert (table["ssim"]["n"], table["ssim"]["n_ok"]) == (2, 1)
    assert table["psnr"]["sarena"] == pytest.approx((100.0 + psnr(image, black_image())) / 2)
    # Token length: valid predictions only, in both views.
    assert table["token_length"]["sarena"] == table["token_length"]["ok_only"] == len(SVG)
    assert table["token_length"]["n"] == 1


def test_missing_reference_is_recorded_not_raised(tmp_path):
    task = get_task("icon/img2svg")
    sample = img_sample(tmp_path / "missing.png")
    scores = score_sample(task, sample, Outcome.OK, SVG, image=black_image(), tokens=BYTES)
    assert scores["ssim"].value is None and "FileNotFoundError" in scores["ssim"].error
    table = aggregate([scores])
    assert table["ssim"]["sarena"] is None and table["ssim"]["n_error"] == 1


def test_wrong_size_prediction_is_an_error_for_that_metric(reference):
    path, _ = reference
    task = get_task("icon/img2svg")
    scores = score_sample(task, img_sample(path), Outcome.OK, SVG, image=black_image(224), tokens=BYTES)
    assert scores["ssim"].value is None and "shape" in scores["ssim"].error
    assert scores["token_length"].value == len(SVG)


@pytest.mark.parametrize("answer,expected", [("A", 100.0), ("B", 0.0), ("C", 0.0), ("D", 0.0), (" A.", 100.0)])
def test_accuracy_per_letter(answer, expected):
    task = get_task("icon/understanding")
    sample = Sample(id="q", task=task.id, prompt="?", target="A. a circle", subject="Geometry")
    scores = score_sample(task, sample, Outcome.OK, answer)
    assert set(scores) == {"accuracy"}
    assert scores["accuracy"] == SampleScore(expected, True)


def test_accuracy_unparsed_answer_is_wrong():
    task = get_task("icon/understanding")
    sample = Sample(id="q", task=task.id, prompt="?", target="B")
    right = score_sample(task, sample, Outcome.OK, "B")
    unparsed = score_sample(task, sample, Outcome.NO_SVG, None)
    assert unparsed["accuracy"] == SampleScore(0.0, False)
    table = aggregate([right, unparsed])["accuracy"]
    assert table["sarena"] == 50.0 and table["ok_only"] == 100.0


def test_text2svg_only_gets_token_length():
    task = get_task("icon/text2svg")
    sample = Sample(id="t", task=task.id, prompt="draw", target=SVG)
    assert set(score_sample(task, sample, Outcome.OK, SVG, tokens=BYTES)) == {"token_length"}


def test_video_metrics_over_frames():
    task = get_task("animation/video2sani")
    sample = Sample(id="v", task=task.id, prompt="animate", target=SVG)
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 256, (8, 64, 64, 3), dtype=np.uint8)
    same = score_sample(task, sample, Outcome.OK, SVG, frames=ref.copy(), tokens=BYTES, reference_frames=ref)
    assert set(same) == {"ssim_video", "psnr_video", "token_length"}
    assert same["ssim_video"].value == pytest.approx(1.0) and same["psnr_video"].value == 100.0
    pred = ref.copy()
    pred[::2] = 0
    half = score_sample(task, sample, Outcome.OK, SVG, frames=pred, tokens=BYTES, reference_frames=ref)
    expected = np.mean([ssim(r, p) for r, p in zip(ref, pred, strict=True)])
    assert half["ssim_video"].value == pytest.approx(expected, abs=1e-12)
    assert half["psnr_video"].value == pytest.approx(np.mean([psnr(r, p) for r, p in zip(ref, pred, strict=True)]))
    failed = score_sample(task, sample, Outcome.RENDER_TIMEOUT, None, tokens=BYTES, reference_frames=ref)
    black = np.zeros_like(ref)
    assert failed["psnr_video"].value == pytest.approx(np.mean([psnr(r, b) for r, b in zip(ref, black, strict=True)]))
    assert not failed["psnr_video"].ok and failed["token_length"].value is None


def test_video_reference_read_from_the_sample(tmp_path):
    video = pytest.importorskip("svgarena.sandboxes._video")
    rng = np.random.default_rng(3)
    frames = np.repeat(rng.integers(0, 256, (1, 64, 64, 3), dtype=np.uint8), 16, axis=0)
    path = tmp_path / "ref.mp4"
    try:
        video.encode_mp4(frames, path, fps=30)
    except Exception as exc:  # noqa: BLE001 - no ffmpeg here
        pytest.skip(f"cannot encode a test video: {exc}")
    task = get_task("animation/video2sani")
    sample = Sample(id="v", task=task.id, prompt="animate", target=SVG, reference_video=path)
    decoded = video.sample_frames(path, 8)
    scores = score_sample(task, sample, Outcome.OK, SVG, frames=decoded, tokens=BYTES)
    assert scores["psnr_video"].value == 100.0


def test_video_without_reference_is_recorded():
    task = get_task("animation/video2sani")
    sample = Sample(id="v", task=task.id, prompt="animate", target=SVG)
    scores = score_sample(task, sample, Outcome.OK, SVG, frames=np.zeros((8, 64, 64, 3), np.uint8), tokens=BYTES)
    assert scores["ssim_video"].value is None and "no reference video" in scores["ssim_video"].error
