"""Build the chat messages a model sees for one sample (OpenAI chat format).

The official SArena inference sends one user message: the prompt text, then the input image as
a base64 data URL. svgarena does the same but labels the image with its true MIME type; for
video input it sends, by default, the official 8 JPEG frames with no labels (``official``), or
as a named option PNG frames each introduced by its timestamp (``labelled``); routes
that take video natively get the video file itself instead (as LiteLLM's ``file`` part, which it
turns into Gemini's inline video, or as the ``video_url`` part of vLLM-style servers).
"""

from __future__ import annotations

import base64
import io
import mimetypes
from pathlib import Path
from typing import Any

from svgarena.tasks import Sample, Task

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
_IMAGE_MIMES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


def image_mime(data: bytes, name: str = "") -> str:
    """The MIME type of image bytes, from their signature, else from the file name's extension."""
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    guess = mimetypes.guess_type(name)[0] if name else None
    if guess in _IMAGE_MIMES:
        return guess
    raise ValueError(f"{name or 'image data'} is not a PNG, JPEG, WebP or GIF image; convert it to PNG.")


def data_url(path: str | Path) -> str:
    """``data:<mime>;base64,...`` for an image file, with the MIME type its content shows."""
    p = Path(path)
    data = p.read_bytes()
    return bytes_data_url(data, image_mime(data, p.name))


def bytes_data_url(data: bytes, mime: str) -> str:
    """``data:<mime>;base64,...`` for bytes already in memory."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def video_mime(data: bytes, name: str = "") -> str:
    """The MIME type of video bytes (MP4/MOV by their ``ftyp`` box, WebM by its EBML magic), else by extension."""
    if data[4:8] == b"ftyp":
        return "video/quicktime" if data[8:10] == b"qt" else "video/mp4"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    guess = mimetypes.guess_type(name)[0] if name else None
    if guess and guess.startswith("video/"):
        return guess
    raise ValueError(f"{name or 'video data'} is not an MP4, MOV or WebM video; convert it to MP4.")


def video_part(path: str | Path, video_format: str) -> dict[str, Any]:
    """A native video content part: ``file`` (LiteLLM's format, e.g. for Gemini) or ``video_url`` (vLLM)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"video {p} does not exist; check the suite's video folder.")
    data = p.read_bytes()
    url = bytes_data_url(data, video_mime(data, p.name))
    if video_format == "file":
        return {"type": "file", "file": {"file_data": url}}
    if video_format == "video_url":
        return {"type": "video_url", "video_url": {"url": url}}
    raise ValueError(f"unknown video format {video_format!r}; use file or video_url")


def _image_part(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


VIDEO_INPUTS: tuple[str, ...] = ("official", "labelled")


def official_frame_indices(total: int, count: int = 8) -> list[int]:
    """The frames SArena's inference sends: ``np.unique(np.round(np.linspace(0, total - 1, count, dtype=int)))``.

    hmwang2002/InternSVG metrics/inference/video_api.py:30. The integer linspace truncates
    first, so 150 frames give 0, 21, 42, 63, 85, 106, 127, 149.
    """
    import numpy as np

    if total <= 0 or count <= 0:
        return []
    return [int(i) for i in np.unique(np.round(np.linspace(0, total - 1, count, dtype=int)))]


def labelled_frame_indices(total: int, count: int = 8) -> list[int]:
    """svgarena's earlier rule: ``numpy.linspace(0, N-1, count)`` rounded, deduplicated (0, 21, 43, 64, ... of 150)."""
    import numpy as np

    if total <= 0 or count <= 0:
        return []
    return sorted({int(i) for i in np.round(np.linspace(0, total - 1, count))})


def sample_frames(video: str | Path, count: int = 8, video_input: str = "labelled") -> list[tuple[float, bytes]]:
    """Sampled frames of ``video`` as (seconds, encoded bytes).

    ``video_input="official"``: the frames of :func:`official_frame_indices` as JPEG at quality
    100 (video_api.py:37 ``cv2.imencode(".jpg", frame, [IMWRITE_JPEG_QUALITY, 100])``; encoded
    here with Pillow's libjpeg, 4:2:0 like OpenCV's default). ``"labelled"``: the frames of
    :func:`labelled_frame_indices` as PNG. Decoded with the ffmpeg binary bundled by
    ``imageio-ffmpeg``, so no system ffmpeg is needed.
    """
    import imageio_ffmpeg
    import numpy as np
    from PIL import Image

    if video_input not in VIDEO_INPUTS:
        raise ValueError(f"unknown video input {video_input!r}; choose one of {', '.join(VIDEO_INPUTS)}")
    path = str(video)
    if not Path(path).is_file():
        raise FileNotFoundError(f"video {path} does not exist; check the suite's video folder.")
    total, _secs = imageio_ffmpeg.count_frames_and_secs(path)
    pick = official_frame_indices if video_input == "official" else labelled_frame_indices
    wanted = pick(total, count)
    if not wanted:
        return []
    reader = imageio_ffmpeg.read_frames(path, pix_fmt="rgb24")
    meta = next(reader)
    width, height = meta["size"]
    fps = float(meta.get("fps") or 0.0) or 30.0
    frames: list[tuple[float, bytes]] = []
    try:
        targets = iter(wanted)
        target = next(targets)
        for index, raw in enumerate(reader):
            if index != target:
                continue
            arr = np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3)
            buf = io.BytesIO()
            if video_input == "official":
                Image.fromarray(arr).save(buf, format="JPEG", quality=100)
            else:
                Image.fromarray(arr).save(buf, format="PNG")
            frames.append((index / fps, buf.getvalue()))
            target = next(targets, None)
            if target is None:
                break
    finally:
        reader.close()
    return frames


# SArena's official edit inference appends this to every edit prompt (inference_edit.py).
EDIT_SUFFIX = "\nOnly output the svg code, no other text."


def prompt_text(sample: Sample, task: Task) -> str:
    """The exact text sent: the record's prompt, plus the official suffix for edit tasks."""
    if task.kind == "edit" and not sample.prompt.endswith(EDIT_SUFFIX):
        return sample.prompt + EDIT_SUFFIX
    return sample.prompt


def build_messages(sample: Sample, task: Task, video_frames: int = 8,
                   video_format: str | None = None, video_input: str = "official") -> list[dict[str, Any]]:
    """One user message for the sample: its prompt, plus its image or video frames when the task takes them.

    Text-only tasks get a plain string as content (every OpenAI-compatible server accepts it).
    ``img2svg`` gets ``[text, image]``; ``video2sani`` gets, with ``video_input="official"``
    (default), the text then the sampled frames as JPEG data URLs with no labels, exactly as
    SArena's inference builds it (video_api.py:46-55 ``build_multimodal_content``); with
    ``"labelled"``, the text, then for each sampled frame a text part ``"Frame i at t.tt s:"``
    followed by that frame as a PNG data URL; or, when
    ``video_format`` names a native format (``file`` or ``video_url``), the text and the video itself.
    """
    if "image" in task.inputs:
        if sample.image is None:
            raise ValueError(f"sample {sample.id} of {task.id} has no input image; check its record ({sample.source}).")
        return [{"role": "user", "content": [_text_part(prompt_text(sample, task)), _image_part(data_url(sample.image))]}]
    if "video" in task.inputs:
        if sample.video is None:
            raise ValueError(f"sample {sample.id} of {task.id} has no input video; check its record ({sample.source}).")
        content: list[dict[str, Any]] = [_text_part(prompt_text(sample, task))]
        if video_format:
            return [{"role": "user", "content": [*content, video_part(sample.video, video_format)]}]
        frames = sample_frames(sample.video, video_frames, video_input=video_input)
        if video_input == "official":
            content.extend(_image_part(bytes_data_url(jpeg, "image/jpeg")) for _t, jpeg in frames)
            return [{"role": "user", "content": content}]
        for i, (t, png) in enumerate(frames, start=1):
            content.append(_text_part(f"Frame {i} at {t:.2f} s:"))
            content.append(_image_part(bytes_data_url(png, "image/png")))
        return [{"role": "user", "content": content}]
    return [{"role": "user", "content": prompt_text(sample, task)}]
