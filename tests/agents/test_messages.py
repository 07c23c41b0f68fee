"""Chat messages: data URLs with the true MIME type, and video frames with timestamps."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from svgarena.agents import build_messages, data_url, image_mime, sample_frames
from svgarena.tasks import Sample, get_task


def _image(path: Path, fmt: str) -> bytes:
    img = Image.new("RGB", (32, 32), (200, 30, 30))
    img.save(path, format=fmt)
    return path.read_bytes()


def _decode(url: str) -> tuple[str, bytes]:
    head, b64 = url.split(",", 1)
    assert head.startswith("data:") and head.endswith(";base64")
    return head[len("data:") : -len(";base64")], base64.b64decode(b64)


@pytest.mark.parametrize(
    ("fmt", "mime"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp"), ("GIF", "image/gif")]
)
def test_data_url_mime_from_content_and_round_trip(tmp_path: Path, fmt: str, mime: str) -> None:
    path = tmp_path / "input.bin"  # the extension says nothing: the content decides
    data = _image(path, fmt)
    got_mime, got = _decode(data_url(path))
    assert got_mime == mime
    assert got == data


def test_jpeg_named_png_is_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "icon.png"
    _image(path, "JPEG")
    assert _decode(data_url(path))[0] == "image/jpeg"


def test_unknown_bytes_fall_back_to_extension_then_fail(tmp_path: Path) -> None:
    assert image_mime(b"????", "x.webp") == "image/webp"
    with pytest.raises(ValueError, match="PNG"):
        image_mime(b"not an image", "notes.txt")


def test_text_task_is_one_plain_user_message() -> None:
    task = get_task("icon/text2svg")
    sample = Sample(id="1", task=task.id, prompt="Draw a cat.", target="<svg/>")
    assert build_messages(sample, task) == [{"role": "user", "content": "Draw a cat."}]


def test_img2svg_has_text_then_image(tmp_path: Path) -> None:
    task = get_task("icon/img2svg")
    path = tmp_path / "7.png"
    data = _image(path, "PNG")
    sample = Sample(id="7", task=task.id, prompt="Convert this image to SVG.", target="<svg/>", image=path)
    (message,) = build_messages(sample, task)
    assert message["role"] == "user"
    text, image = message["content"]
    assert text == {"type": "text", "text": "Convert this image to SVG."}
    assert image["type"] == "image_url"
    assert _decode(image["image_url"]["url"]) == ("image/png", data)


def test_img2svg_without_image_is_a_clear_error() -> None:
    task = get_task("icon/img2svg")
    sample = Sample(id="7", task=task.id, prompt="p", target="<svg/>", source="img2svg.jsonl:3")
    with pytest.raises(ValueError, match="img2svg.jsonl:3"):
        build_messages(sample, task)


def _video(path: Path, n: int, fps: int = 30) -> list[tuple[int, int, int]]:
    """An H.264 video whose frame i is one flat colour; returns the colours."""
    import imageio_ffmpeg

    colours = [((i * 37) % 256, (255 - i * 23) % 256, (i * 91) % 256) for i in range(n)]
    writer = imageio_ffmpeg.write_frames(str(path), (64, 64), fps=fps, macro_block_size=16, quality=10)
    writer.send(None)
    for c in colours:
        writer.send(np.full((64, 64, 3), c, dtype=np.uint8).tobytes())
    writer.close()
    return colours


def test_video2sani_frames_evenly_spaced_with_timestamps(tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    colours = _video(video, 30)
    task = get_task("animation/video2sani")
    sample = Sample(id="3", task=task.id, prompt="Animate this.", target="<svg/>", video=video)
    (message,) = build_messages(sample, task, video_frames=8, video_input="labelled")
    content = message["content"]
    assert content[0] == {"type": "text", "text": "Animate this."}
    labels, images = content[1::2], content[2::2]
    assert len(labels) == len(images) == 8
    indices = np.round(np.linspace(0, 29, 8)).astype(int)
    for k, (label, image, index) in enumerate(zip(labels, images, indices, strict=True), start=1):
        assert label == {"type": "text", "text": f"Frame {k} at {index / 30:.2f} s:"}
        mime, png = _decode(image["image_url"]["url"])
        assert mime == "image/png"
        pixel = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))[32, 32].astype(int)
        assert np.abs(pixel - np.array(colours[index])).max() < 20


def _reference_frames(path: Path, count: int = 8) -> tuple[list[int], list[bytes]]:
    """The official frames computed the reference's way (InternSVG metrics/inference/video_api.py:30,37):
    np.unique(np.round(np.linspace(0, total-1, 8, dtype=int))), each JPEG at quality 100."""
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    meta = next(reader)
    w, h = meta["size"]
    decoded = [np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 3) for raw in reader]
    indices = np.unique(np.round(np.linspace(0, len(decoded) - 1, count, dtype=int)))
    jpegs = []
    for i in indices:
        buf = io.BytesIO()
        Image.fromarray(decoded[int(i)]).save(buf, format="JPEG", quality=100)
        jpegs.append(buf.getvalue())
    return [int(i) for i in indices], jpegs


def test_video2sani_official_input_text_then_unlabelled_jpegs(tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    colours = _video(video, 150)
    indices, jpegs = _reference_frames(video)
    assert indices == [0, 21, 42, 63, 85, 106, 127, 149]  # the figures for 150 frames
    task = get_task("animation/video2sani")
    sample = Sample(id="5", task=task.id, prompt="Animate this.", target="<svg/>", video=video)
    (message,) = build_messages(sample, task)  # official is the default
    content = message["content"]
    assert content[0] == {"type": "text", "text": "Animate this."}
    assert all(part["type"] == "image_url" for part in content[1:]) and len(content) == 9
    sent = [_decode(part["image_url"]["url"]) for part in content[1:]]
    assert [mime for mime, _ in sent] == ["image/jpeg"] * 8
    assert [data for _, data in sent] == jpegs
    for (_, data), index in zip(sent, indices, strict=True):
        pixel = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))[32, 32].astype(int)
        assert np.abs(pixel - np.array(colours[index])).max() < 20


def _reference_frames_cv2(video_path: str, num_samples: int = 8) -> list[str]:
    """InternSVG metrics/inference/video_api.py:24-44 ``sample_frames_from_video``, restated verbatim
    (OpenCV decodes and encodes; only the imports are local)."""
    import cv2

    video = cv2.VideoCapture(video_path)
    total = int(video.get(cv2.CAP_PROP_FRAME_COUNT))
    if total <= 0:
        video.release()
        return []

    indices = np.unique(np.round(np.linspace(0, total - 1, num_samples, dtype=int)))

    frames = []
    for idx in indices:
        video.set(cv2.CAP_PROP_POS_FRAMES, int(idx))
        ret, frame = video.read()
        if ret:
            ok, buf = cv2.imencode(".jpg", frame, [int(cv2.IMWRITE_JPEG_QUALITY), 100])
            if not ok:
                continue
            b64 = base64.b64encode(buf.tobytes()).decode("utf-8")
            frames.append(f"data:image/jpeg;base64,{b64}")

    video.release()
    return frames


def test_video2sani_official_frames_are_the_references_cv2_bytes(tmp_path: Path) -> None:
    """The data URLs build_messages sends are byte for byte those the reference's cv2 code builds, on a
    synthetic clip and on rendered SVG animations of the bundled suite (sharp edges, H.264 yuv420p)."""
    pytest.importorskip("cv2")
    import svgarena

    video = tmp_path / "clip.mp4"
    _video(video, 150)
    bundled = sorted((Path(svgarena.__file__).parent / "tasks" / "data" / "sarena-mini" / "animation" / "video")
                     .glob("*.mp4"))[:3]
    task = get_task("animation/video2sani")
    for path in [video, *bundled]:
        expected = _reference_frames_cv2(str(path))
        assert len(expected) == 8, path
        sample = Sample(id="5", task=task.id, prompt="Animate this.", target="<svg/>", video=path)
        (message,) = build_messages(sample, task)
        assert [part["image_url"]["url"] for part in message["content"][1:]] == expected, path


def test_unknown_video_input_is_a_clear_error(tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    _video(video, 3)
    with pytest.raises(ValueError, match="official, labelled"):
        sample_frames(video, 8, video_input="gif")


def test_short_video_gives_every_frame_once(tmp_path: Path) -> None:
    video = tmp_path / "short.mp4"
    _video(video, 5)
    frames = sample_frames(video, 8)
    assert [round(t * 30) for t, _ in frames] == [0, 1, 2, 3, 4]
    assert len(sample_frames(video, 1)) == 1


def test_edit_prompts_get_the_official_suffix_once() -> None:
    from svgarena.agents._messages import EDIT_SUFFIX
    from svgarena.tasks import Sample, get_task

    task = get_task("icon/edit/flip")
    plain = Sample(id="1", task=task.id, prompt="Flip this SVG.\n<svg/>", target="<svg/>")
    sent = build_messages(plain, task)[0]["content"]
    assert sent == "Flip this SVG.\n<svg/>\nOnly output the svg code, no other text."
    already = Sample(id="2", task=task.id, prompt="Flip.\n<svg/>" + EDIT_SUFFIX, target="<svg/>")
    assert build_messages(already, task)[0]["content"].count("Only output") == 1
    t2s = get_task("icon/text2svg")
    assert build_messages(Sample(id="3", task=t2s.id, prompt="p", target=""), t2s)[0]["content"] == "p"


@pytest.mark.parametrize(("video_format", "part_type"), [("file", "file"), ("video_url", "video_url")])
def test_native_video_sends_the_file_itself(tmp_path: Path, video_format: str, part_type: str) -> None:
    video = tmp_path / "clip.mp4"
    _video(video, 12)
    task = get_task("animation/video2sani")
    sample = Sample(id="4", task=task.id, prompt="Animate this.", target="<svg/>", video=video)
    (message,) = build_messages(sample, task, video_frames=8, video_format=video_format)
    text, part = message["content"]
    assert text == {"type": "text", "text": "Animate this."}
    assert part["type"] == part_type
    url = part["file"]["file_data"] if part_type == "file" else part["video_url"]["url"]
    mime, data = _decode(url)
    assert mime == "video/mp4" and data == video.read_bytes()


def test_video_mime_from_content() -> None:
    from svgarena.agents import video_mime

    assert video_mime(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 8) == "video/mp4"
    assert video_mime(b"\x00\x00\x00\x14ftypqt  " + b"\x00" * 8) == "video/quicktime"
    assert video_mime(b"\x1a\x45\xdf\xa3" + b"\x00" * 8) == "video/webm"
    with pytest.raises(ValueError, match="not an MP4, MOV or WebM"):
        video_mime(b"GIF89a....", "x.bin")


def test_native_video_models_get_native_messages_through_the_solver(tmp_path: Path) -> None:
    """The solver asks the model which video format it takes (the registry's accepts.video)."""
    import asyncio

    from svgarena.agents import Reply, SolverContext, attempt_once

    class Recorder:
        name = "recorder"
        video_format = "file"

        def __init__(self) -> None:
            self.seen: list = []

        def supports(self, task):
            return None

        async def respond(self, sample, messages):
            self.seen.append(messages)
            return Reply(text="no svg here")

    video = tmp_path / "clip.mp4"
    _video(video, 6)
    task = get_task("animation/video2sani")
    sample = Sample(id="5", task=task.id, prompt="Animate.", target="<svg/>", video=video)
    model = Recorder()
    attempt = asyncio.run(attempt_once(sample, task, model, SolverContext(renderer=None), round_no=0))
    assert attempt.outcome.value == "no_svg"
    assert model.seen[0][0]["content"][1]["type"] == "file"


@pytest.mark.timeout(120)
def test_video2sani_request_on_the_wire_carries_the_official_jpegs(tmp_path: Path, monkeypatch) -> None:
    """A real local server captures the request: the text, then the 8 reference JPEGs, nothing else."""
    import asyncio

    from svgarena.agents import get_model
    from tests._servers import ChatServer

    video = tmp_path / "clip.mp4"
    _video(video, 150)
    _indices, jpegs = _reference_frames(video)
    task = get_task("animation/video2sani")
    sample = Sample(id="6", task=task.id, prompt="Animate this.", target="<svg/>", video=video)
    monkeypatch.setenv("SVGARENA_TEST_KEY", "sk-test")
    with ChatServer(lambda body: "<svg></svg>") as server:
        model = get_model("openai/test-model", api_base=server.api_base, api_key_env="SVGARENA_TEST_KEY",
                          timeout_s=20.0)
        reply = asyncio.run(model.respond(sample, build_messages(sample, task)))
    assert reply.error is None
    (body,) = server.requests
    (message,) = body["messages"]
    content = message["content"]
    assert content[0] == {"type": "text", "text": "Animate this."}
    assert [_decode(p["image_url"]["url"]) for p in content[1:]] == [("image/jpeg", j) for j in jpegs]
