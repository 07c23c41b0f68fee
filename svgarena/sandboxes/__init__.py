"""svgarena.sandboxes: where untrusted SVG is rendered (the Renderer protocol and its pools)."""

from svgarena.sandboxes._browser import (
    BrowserAnimationRenderer,
    chromium_path,
    fast_times,
    render_animation_mp4,
    sarena_times,
)
from svgarena.sandboxes._backends import BACKENDS, check_choice, open_backend
from svgarena.sandboxes._docker import DockerRenderer, build_image, cleanup_containers, docker_problem, image_tag
from svgarena.sandboxes._jail import ISOLATIONS, best_isolation, isolation_problem
from svgarena.sandboxes._local import LocalRenderer, render_svg
from svgarena.sandboxes._ray import (
    EXECUTORS,
    ActorFailed,
    ClusterLost,
    RayAnimation,
    RayRenderer,
    connected_head,
    head_unreachable,
)
from svgarena.sandboxes._render_file import ANIMATION_MODES, read_svg, render_file
from svgarena.sandboxes._pool import RENDERERS, SandboxLimits, WorkerPool
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
    "EXECUTORS",
    "ActorFailed",
    "ClusterLost",
    "RayAnimation",
    "RayRenderer",
    "connected_head",
    "head_unreachable",
    "ANIMATION_MODES",
    "read_svg",
    "render_file",
    "DockerRenderer",
    "build_image",
    "cleanup_containers",
    "docker_problem",
    "image_tag",
    "BACKENDS",
    "check_choice",
    "open_backend",
    "ISOLATIONS",
    "RENDERERS",
    "WorkerPool",
    "best_isolation",
    "isolation_problem",
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
