"""Sample and Task: what is asked, and how it is judged."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


class AnswerKind(StrEnum):
    """What kind of answer a task expects."""

    SVG = "svg"
    ANIMATED_SVG = "animated_svg"
    CHOICE = "choice"


@dataclass(frozen=True)
class Sample:
    """One benchmark item, as SArena's records describe it.

    Media are paths, never loaded bytes: a suite of thousands of samples stays small in memory.
    """

    id: str
    task: str
    prompt: str
    target: str  # reference SVG, or the choice letter ("A".."D") for multiple choice
    image: Path | None = None  # input image (img2svg)
    video: Path | None = None  # input video (video2sani)
    reference_image: Path | None = None  # reference render (448x448 PNG) for static SVG tasks
    reference_svg: Path | None = None
    reference_video: Path | None = None  # reference 448 MP4 for animation tasks
    caption: str | None = None  # CLIP-T2I / ViCLIP-T2V text
    subject: str | None = None  # understanding: Color, Geometry, Quantity, Semantic
    source: str = ""  # "file:line" the record came from, for error messages

    @property
    def inputs(self) -> dict[str, Path]:
        """The media given to the model with the prompt (the source SVG of an edit is in the prompt)."""
        return {k: v for k, v in (("image", self.image), ("video", self.video)) if v is not None}


@dataclass(frozen=True)
class Task:
    """A task id, where its records live in the SArena layout, and how it is judged."""

    id: str  # e.g. "icon/img2svg", "icon/edit/crop"
    domain: str  # icon, illustration, chemistry, animation
    kind: str  # understanding, edit, text2svg, img2svg, text2sani, video2sani
    answer: AnswerKind
    jsonl: str  # path of the records relative to the suite root
    reference_dir: str | None  # folder holding images/ and svg/ (or svg/ and video/) by id
    caption_file: str | None = None  # caption.jsonl relative to the suite root, when the task has one
    metrics: tuple[str, ...] = field(default_factory=tuple)
    title: str = ""

    @property
    def inputs(self) -> tuple[str, ...]:
        """Media the task sends besides the prompt."""
        return {"img2svg": ("image",), "video2sani": ("video",)}.get(self.kind, ())
