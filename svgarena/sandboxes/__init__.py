"""svgarena.sandboxes: where untrusted SVG is rendered (the Renderer protocol and its pools)."""

from svgarena.sandboxes._browser import (
    BrowserAnimationRenderer,
    chromium_path,
    fast_times,
    render_animation_mp4,
    sarena_times,
)
from svgarena.sandboxes._local import LocalRenderer, SandboxLimits, render_svg
from svgarena.sandboxes._types import Renderer, RenderResult, RenderSpec
from svgarena.sandboxes._video import (
    VideoError,
    black_video,
    encode_mp4,
    frame_count,
    read_frames,
    sample_frames,
    sample_indices,
    write_black_mp4,
)

__all__ = [
    "BrowserAnimationRenderer",
    "LocalRenderer",
    "RenderResult",
    "RenderSpec",
    "Renderer",
    "SandboxLimits",
    "VideoError",
    "black_video",
    "chromium_path",
    "encode_mp4",
    "fast_times",
    "frame_count",
    "read_frames",
    "render_animation_mp4",
    "render_svg",
    "sample_frames",
    "sample_indices",
    "sarena_times",
    "write_black_mp4",
]
