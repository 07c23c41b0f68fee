"""The ten SArena task kinds, their files in the released layout, and their metrics.

Folder names follow SArena.zip exactly: ``Icon`` is capitalised, the other domains are not.
"""

from __future__ import annotations

import fnmatch

from svgarena.tasks._types import AnswerKind, Task

# Edit subtask file stem -> the paper's name for it.
EDIT_SUBTASKS: dict[str, str] = {
    "color_simple": "Low-level Color Editing",
    "color_complex": "Semantic-level Color Editing",
    "crop": "Cropping",
    "flip": "Flipping",
    "rotate": "Rotation",
    "scale": "Scaling",
    "translate": "Translation",
    "opacity": "Transparency",
    "outline": "Adding stroke",
    "styletransform_openmoji": "Style Transfer",
}

_IMAGE_METRICS = ("dino", "ssim", "lpips", "psnr", "token_length")
_T2I_METRICS = ("fid", "fid_c", "clip_t2i", "clip_i2i", "token_length")
_VIDEO_METRICS = ("dino_video", "ssim_video", "lpips_video", "psnr_video", "token_length")


def _build() -> dict[str, Task]:
    tasks: list[Task] = [
        Task(
            "icon/understanding", "icon", "understanding", AnswerKind.CHOICE,
            "Icon/understanding/sarena_un.jsonl", None, metrics=("accuracy",),
            title="Icon understanding",
        ),
    ]
    for stem, title in EDIT_SUBTASKS.items():
        tasks.append(Task(
            f"icon/edit/{stem}", "icon", "edit", AnswerKind.SVG,
            f"Icon/edit/data/{stem}.jsonl", f"Icon/edit/data/{stem}", metrics=_IMAGE_METRICS,
            title=f"Icon edit: {title}",
        ))
    for domain, folder, caption in (
        ("icon", "Icon/generation", "Icon/generation/caption.jsonl"),
        ("illustration", "illustration", "illustration/caption.jsonl"),
        ("chemistry", "chemistry", None),
    ):
        t2i = _T2I_METRICS if caption else tuple(m for m in _T2I_METRICS if m != "clip_t2i")
        tasks.append(Task(
            f"{domain}/text2svg", domain, "text2svg", AnswerKind.SVG,
            f"{folder}/text2svg.jsonl", folder, caption_file=caption, metrics=t2i,
            title=f"{domain.capitalize()} text-to-SVG",
        ))
        tasks.append(Task(
            f"{domain}/img2svg", domain, "img2svg", AnswerKind.SVG,
            f"{folder}/img2svg.jsonl", folder, metrics=_IMAGE_METRICS,
            title=f"{domain.capitalize()} image-to-SVG",
        ))
    tasks.append(Task(
        "animation/text2sani", "animation", "text2sani", AnswerKind.ANIMATED_SVG,
        "animation/text2sani.jsonl", "animation",
        metrics=("fvd", "viclip_t2v", "viclip_v2v", "token_length"),
        title="Text-to-animated-SVG",
    ))
    tasks.append(Task(
        "animation/video2sani", "animation", "video2sani", AnswerKind.ANIMATED_SVG,
        "animation/video2sani.jsonl", "animation", metrics=_VIDEO_METRICS,
        title="Video-to-animated-SVG",
    ))
    return {t.id: t for t in tasks}


TASKS: dict[str, Task] = _build()
TASK_IDS: tuple[str, ...] = tuple(TASKS)


def get_task(task_id: str) -> Task:
    """The Task for an id; a clear error naming the known ids otherwise."""
    try:
        return TASKS[task_id]
    except KeyError:
        raise KeyError(f"unknown task {task_id!r}; known tasks: {', '.join(TASK_IDS)}") from None


def match_tasks(patterns: list[str] | tuple[str, ...] | None) -> list[Task]:
    """Tasks whose ids match any of the glob patterns (``icon/*``, ``*/img2svg``), in registry order."""
    if not patterns:
        return list(TASKS.values())
    chosen = [t for t in TASKS.values() if any(fnmatch.fnmatchcase(t.id, p) for p in patterns)]
    unmatched = [p for p in patterns if not any(fnmatch.fnmatchcase(t.id, p) for t in TASKS.values())]
    if unmatched:
        raise KeyError(f"no task matches {', '.join(map(repr, unmatched))}; known tasks: {', '.join(TASK_IDS)}")
    return chosen
