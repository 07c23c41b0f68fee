"""Load samples from a folder in SArena's released layout (see SARENA.md).

Records are streamed line by line; media stay on disk as paths, so a 6,000-line jsonl costs
a few megabytes of text, not thousands of decoded images.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from svgarena.tasks._errors import SuiteError
from svgarena.tasks._registry import TASKS, match_tasks
from svgarena.tasks._types import AnswerKind, Sample, Task

_INSTRUCTION = "Instruction: "


def available_tasks(root: Path) -> list[Task]:
    """Tasks whose records file exists under ``root``; SuiteError if the folder holds none."""
    root = Path(root)
    if not root.is_dir():
        raise SuiteError(f"{root}: not a folder; give a folder in SArena layout (e.g. the unzipped SArena/)")
    found = [t for t in TASKS.values() if (root / t.jsonl).is_file()]
    if not found:
        expected = ", ".join(sorted({t.jsonl.split("/")[0] + "/" for t in TASKS.values()}))
        raise SuiteError(
            f"{root}: not in SArena layout: no task records found (expected folders {expected} "
            "holding e.g. Icon/generation/img2svg.jsonl)"
        )
    return found


def load_captions(path: Path) -> dict[str, str]:
    """caption.jsonl -> {sample id: caption text}; the id is the image file's stem."""
    captions: dict[str, str] = {}
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                stem = Path(rec["image"]).stem
                captions[stem] = str(rec["caption"][0]["generated_text"]).strip()
            except (json.JSONDecodeError, KeyError, IndexError, TypeError) as exc:
                raise SuiteError(f"{path}:{lineno}: malformed caption record ({_why(exc)})") from None
    return captions


def iter_samples(root: Path, task: Task | str, *, check_files: bool = True) -> Iterator[Sample]:
    """Stream the samples of one task from a suite folder, validating each record as it is read."""
    task = TASKS[task] if isinstance(task, str) else task
    root = Path(root)
    jsonl = root / task.jsonl
    if not jsonl.is_file():
        raise SuiteError(f"{jsonl}: missing; {task.id} is not in this suite")
    captions = load_captions(root / task.caption_file) if task.caption_file and (root / task.caption_file).is_file() else {}
    ref_dir = root / task.reference_dir if task.reference_dir else None
    seen: set[str] = set()
    with open(jsonl, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{jsonl}:{lineno}"
            sample = _parse_record(line, where, task, jsonl.parent, ref_dir, captions)
            if sample.id in seen:
                raise SuiteError(f"{where}: duplicate id {sample.id}")
            seen.add(sample.id)
            if check_files:
                _check_files(sample, where)
            yield sample


def load_samples(root: Path, task: Task | str, *, limit: int | None = None) -> list[Sample]:
    """The first ``limit`` samples of a task (all when None)."""
    out: list[Sample] = []
    for sample in iter_samples(root, task):
        if limit is not None and len(out) >= limit:
            break
        out.append(sample)
    return out


def _parse_record(line: str, where: str, task: Task, folder: Path, ref_dir: Path | None,
                  captions: dict[str, str]) -> Sample:
    try:
        rec = json.loads(line)
    except json.JSONDecodeError as exc:
        raise SuiteError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(rec, dict):
        raise SuiteError(f"{where}: record is not a JSON object")
    try:
        sid = rec["id"]
        conv = rec["conversations"]
        prompt = conv[0]["value"]
        target = conv[1]["value"]
    except (KeyError, IndexError, TypeError) as exc:
        raise SuiteError(f"{where}: malformed record, expected id and conversations[0..1].value ({_why(exc)})") from None
    if not isinstance(sid, (int, str)) or isinstance(sid, bool) or not isinstance(prompt, str) or not isinstance(target, str):
        raise SuiteError(f"{where}: malformed record: id must be an integer, prompt and answer strings")
    sid = str(sid)
    image = video = ref_image = ref_svg = ref_video = None
    caption = subject = None
    if task.kind == "img2svg":
        if "image" not in rec:
            raise SuiteError(f"{where}: img2svg record has no 'image' field")
        image = folder / str(rec["image"])
    if task.kind == "video2sani":
        if "video" not in rec:
            raise SuiteError(f"{where}: video2sani record has no 'video' field")
        video = folder / str(rec["video"])
    if task.answer is AnswerKind.CHOICE:
        subject = rec.get("Subject")
        if not target[:1] in ("A", "B", "C", "D"):
            raise SuiteError(f"{where}: multiple-choice answer must start with A, B, C or D, got {target[:20]!r}")
        target = target[:1]
    if ref_dir is not None:
        ref_svg = ref_dir / "svg" / f"{sid}.svg"
        if task.answer is AnswerKind.ANIMATED_SVG:
            ref_video = ref_dir / "video" / f"{sid}.mp4"
        else:
            ref_image = ref_dir / "images" / f"{sid}.png"
    if task.kind == "text2sani":
        caption = prompt.split(_INSTRUCTION, 1)[1].strip() if _INSTRUCTION in prompt else prompt.strip()
    elif task.caption_file:
        caption = captions.get(sid)
    return Sample(
        id=sid, task=task.id, prompt=prompt, target=target, image=image, video=video,
        reference_image=ref_image, reference_svg=ref_svg, reference_video=ref_video,
        caption=caption, subject=subject, source=where,
    )


def _check_files(sample: Sample, where: str) -> None:
    for label, path in (("input image", sample.image), ("input video", sample.video),
                        ("reference render", sample.reference_image),
                        ("reference video", sample.reference_video)):
        if path is not None and not path.is_file():
            raise SuiteError(f"{where}: {label} {path} is missing")


def _why(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"missing key {exc.args[0]!r}"
    return f"{type(exc).__name__}: {exc}"


def select_tasks(root: Path, patterns: list[str] | None) -> list[Task]:
    """Tasks matching the patterns that this suite holds; with no patterns, every task present."""
    present = {t.id for t in available_tasks(root)}
    chosen = match_tasks(patterns)
    return [t for t in chosen if t.id in present]
