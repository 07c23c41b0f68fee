"""The official InternSVG scripts' output folders, out (``export --format internsvg``) and in (``import``).

The layout is the one hmwang2002/InternSVG's inference scripts write and its ``evaluate_*.py`` read
(paths and line numbers at HEAD of that repository):

- generation (``metrics/inference/inference.py`` L81-82, L51-65, L120-128): ``<out>/text2svg`` and
  ``<out>/img2svg``, each with ``output.jsonl`` (one ``{"id": int, "answer": raw reply}`` per line,
  appended, L53-54), ``svg/<id>.svg`` (the first ``<svg ...>...</svg>`` of the reply, written only when
  there is one, L61-65) and ``images/<id>.png`` (the 448x448 render). ``evaluate_gen.py`` L83-90 reads
  ``images/<id>.png`` and ``svg/<id>.svg`` for every id of the test jsonl; a missing PNG is a failure
  scored as ``example/pure_black.png``.
- editing (``inference_edit.py`` L79-91): ``<out>/edit/<subtask>/`` (subtask = the stem of the test
  file ``<subtask>.jsonl``), same three entries; ``evaluate_edit.py`` L45-74 walks those subfolders.
- understanding (``inference_un.py`` L152, L79, L131-134): one file ``<out>/<model_name>_un_result.jsonl``
  of ``{"id": int, "result": reply}`` lines sorted by id (``un_clean_result.py`` L16-21 may rewrite each
  result to ``A.``..``D.``/``X.``); ``evaluate_un.py`` L37-46 takes the result's first character.
- animation (``inference_animation.py`` L80-81, L50-64): ``<out>/text2sani`` and ``<out>/video2sani``
  with ``output.jsonl`` and ``svg/``; ``evaluate_animation.py`` L24-36 reads ``video/<id>.mp4`` and
  ``video_128/<id>.mp4`` (the FVD copy) beside them.

A folder here holds one such ``<out>`` per domain, so every svgarena task id is a path:
``DIR/icon/text2svg``, ``DIR/icon/edit/color_simple``, ``DIR/animation/video2sani``, and the
understanding answers are ``DIR/icon/<model>_un_result.jsonl`` (``/`` in a model name becomes ``_``).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

UN_SUFFIX = "_un_result.jsonl"
_DOMAINS = {"icon": "icon", "illustration": "illustration", "chemistry": "chemistry", "chem": "chemistry",
            "animation": "animation"}
_OFFICIAL_FOLDERS = ("text2svg", "img2svg", "edit", "text2sani", "video2sani")  # what one script run writes


class InterchangeError(ValueError):
    """A folder that cannot be imported (or a run that cannot be exported); one line per problem."""


def safe_model(name: str) -> str:
    """A model name as one file-name part (the official scripts would make ``a/b`` a sub-folder)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "model"


def _official_id(sample_id: str) -> int | str:
    return int(sample_id) if sample_id.isdigit() else sample_id


# -- export -------------------------------------------------------------------------------------------

@dataclass
class ExportReport:
    dest: Path
    folders: list[Path] = field(default_factory=list)  # one per model
    answers: int = 0  # trajectories written
    svgs: int = 0
    renders: int = 0  # images/<id>.png or video/<id>.mp4 written
    skipped_epochs: int = 0  # trajectories of epoch > 0 (the official layout holds one answer per id)


def export_internsvg(run: str | Path, dest: str | Path, out: str | Path = "runs") -> ExportReport:
    """Write a run's selected answers as the official scripts' folders under ``dest`` (see the module doc).

    One model: ``dest`` is its folder. Several: ``dest/<model>/`` each. Files already in ``dest`` for
    the same ids are replaced; nothing else there is touched.
    """
    from svgarena.harness._artifacts import ArtifactStore
    from svgarena.harness._report import run_store_path
    from svgarena.harness._store import RunStore
    from svgarena.tasks import TASKS, AnswerKind

    path = run_store_path(run, out)
    store = RunStore.open_existing(path, readonly=True)
    try:
        rows = store.db.execute(
            "SELECT t.id, t.task, t.model, t.sample_id, t.epoch, t.answer, t.media, t.selected_round, "
            "a.reply, a.answer AS round_answer, a.media AS round_media, a.outcome FROM trajectories t "
            "LEFT JOIN attempts a ON a.trajectory_id = t.id AND a.round = COALESCE(t.selected_round, "
            "(SELECT MAX(round) FROM attempts WHERE trajectory_id = t.id)) WHERE t.status = 'done' "
            "ORDER BY t.task, t.model, t.id").fetchall()
    finally:
        store.close()
    if not rows:
        raise InterchangeError(f"{path}: the run has no finished trajectories to export")
    artifacts = ArtifactStore(path.parent / "artifacts")
    dest = Path(dest)
    models = sorted({r["model"] for r in rows})
    report = ExportReport(dest=dest)
    base = {m: dest if len(models) == 1 else dest / safe_model(m) for m in models}
    report.folders = [base[m] for m in models]
    jsonl: dict[Path, list[tuple[Any, dict[str, Any]]]] = {}
    for r in rows:
        if r["epoch"]:
            report.skipped_epochs += 1
            continue
        task = TASKS.get(r["task"])
        oid = _official_id(r["sample_id"])
        reply = r["reply"] or ""
        answer = r["round_answer"] if r["round_answer"] is not None else r["answer"]
        if task is not None and task.answer is AnswerKind.CHOICE:
            # the cleaned form un_clean_result.py L16-21 writes: "B." or "X." when nothing was extracted
            result = f"{answer}." if answer else "X."
            target = base[r["model"]] / r["task"].split("/")[0] / f"{safe_model(r['model'])}{UN_SUFFIX}"
            jsonl.setdefault(target, []).append((oid, {"id": oid, "result": result}))
            report.answers += 1
            continue
        folder = base[r["model"]] / r["task"]
        jsonl.setdefault(folder / "output.jsonl", []).append((oid, {"id": oid, "answer": reply}))
        report.answers += 1
        if answer:
            _write(folder / "svg" / f"{oid}.svg", artifacts.read(answer))
            report.svgs += 1
        media = json.loads(r["round_media"] or r["media"] or "null") or {}
        if r["outcome"] != "ok":
            continue  # the scripts leave no render for a failed one: evaluate_*.py score it pure black
        if "mp4" in media:
            _write(folder / "video" / f"{oid}.mp4", artifacts.read(media["mp4"]))
            if "mp4_128" in media:
                _write(folder / "video_128" / f"{oid}.mp4", artifacts.read(media["mp4_128"]))
            report.renders += 1
        elif "png" in media:
            _write(folder / "images" / f"{oid}.png", artifacts.read(media["png"]))
            report.renders += 1
    for target, items in jsonl.items():
        items.sort(key=lambda kv: (isinstance(kv[0], str), kv[0]))
        _write(target, "".join(json.dumps(obj, ensure_ascii=False) + "\n" for _, obj in items).encode("utf-8"))
    return report


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


# -- import -------------------------------------------------------------------------------------------

@dataclass
class FolderAnswers:
    """What an official output folder holds: task id -> sample id -> the reply text, and where from."""

    root: Path
    replies: dict[str, dict[str, str]] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # task id -> folder or file read
    missing: dict[str, int] = field(default_factory=dict)  # task id -> suite samples with no answer
    beyond: dict[str, int] = field(default_factory=dict)  # task id -> answers for samples --limit leaves out


class ReplayModel:
    """Answers each sample with the reply an official run recorded for it ("" when it has none).

    It goes through the runner like any model, so extraction, rendering and scoring are a native run's.
    """

    def __init__(self, name: str, replies: dict[str, dict[str, str]]) -> None:
        self.name = name
        self.replies = replies

    def supports(self, task: Any) -> str | None:
        return None if task.id in self.replies else f"the imported folder has no answers for {task.id}"

    async def respond(self, sample: Any, messages: list[dict[str, Any]]) -> Any:
        from svgarena.agents._types import Reply, Usage

        return Reply(text=self.replies.get(sample.task, {}).get(sample.id, ""), usage=Usage(latency_s=0.0))


def read_folder(root: str | Path, suite_root: Path, limit: int | None = None) -> FolderAnswers:
    """Every answer under ``root``, checked against the suite; raises with one line per problem.

    ``missing`` counts, per task, the samples a run with ``limit`` plans that have no answer.
    """
    from svgarena.tasks import available_tasks, iter_samples

    root = Path(root)
    if not root.is_dir():
        raise InterchangeError(f"{root}: no such folder")
    suite_tasks = {t.id: t for t in available_tasks(suite_root)}
    problems: list[str] = []
    found = FolderAnswers(root=root)
    entries: list[tuple[str, Path]] = []  # (task id, folder or un-result file)
    for domain_dir in sorted(p for p in root.iterdir() if not p.name.startswith(".")):
        domain = _DOMAINS.get(domain_dir.name.lower())
        if domain is None:
            if domain_dir.is_dir():
                hint = (f"; put it under a domain, e.g. {root}/icon/{domain_dir.name}"
                        if domain_dir.name in _OFFICIAL_FOLDERS else "")
                problems.append(f"{domain_dir}: unknown task folder (expected one of icon, illustration, chemistry, "
                                f"animation, each holding the official scripts' output folders){hint}")
            continue
        if not domain_dir.is_dir():
            continue
        un_files = []
        for entry in sorted(p for p in domain_dir.iterdir() if not p.name.startswith(".")):
            if entry.is_file():
                if entry.name.endswith(UN_SUFFIX):
                    un_files.append(entry)
                elif entry.suffix == ".jsonl":
                    problems.append(f"{entry}: unknown result file (understanding results are named <model>{UN_SUFFIX})")
                continue
            if entry.name == "edit":
                for sub in sorted(p for p in entry.iterdir() if p.is_dir() and not p.name.startswith(".")):
                    entries.append((f"{domain}/edit/{sub.name}", sub))
                continue
            entries.append((f"{domain}/{entry.name}", entry))
        if len(un_files) > 1:
            problems.append(f"{domain_dir}: {len(un_files)} understanding result files "
                            f"({', '.join(f.name for f in un_files)}); import one model at a time")
        elif un_files:
            entries.append((f"{domain}/understanding", un_files[0]))
    if not entries and not problems:
        problems.append(f"{root}: no official output folders found (expected e.g. {root}/icon/text2svg/output.jsonl "
                        f"or {root}/icon/<model>{UN_SUFFIX})")
    for task_id, where in entries:
        task = suite_tasks.get(task_id)
        if task is None:
            kind = "result file" if where.is_file() else "task folder"
            problems.append(f"{where}: unknown {kind}: {task_id} is not a task of suite {suite_root}")
            continue
        order = [s.id for s in iter_samples(suite_root, task)]
        ids = set(order)
        replies = (_read_un(where, task_id, ids, problems) if where.is_file()
                   else _read_task_folder(where, task_id, ids, problems))
        found.replies[task_id] = replies
        found.sources[task_id] = str(where)
        found.missing[task_id] = len(set(order[:limit]) - set(replies))
        found.beyond[task_id] = len(set(replies) - set(order[:limit]))
    if problems:
        raise InterchangeError("\n".join(problems))
    return found


def _jsonl(path: Path, key: str, task_id: str, ids: set[str], problems: list[str]) -> dict[str, str]:
    """id -> text of one official jsonl; later lines win (the scripts append on a re-run)."""
    out: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{path}: unreadable ({exc})")
        return out
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            sid, text = obj["id"], obj[key]
            if not isinstance(text, str) or isinstance(sid, bool) or not isinstance(sid, (int, str)):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            problems.append(f"{path}:{n}: unreadable line (expected a JSON object with \"id\" and \"{key}\")")
            continue
        sid = str(sid).strip()
        if sid not in ids:
            problems.append(f"{path}:{n}: sample id {sid} is not in {task_id} of the suite")
            continue
        out[sid] = text
    return out


def _read_un(path: Path, task_id: str, ids: set[str], problems: list[str]) -> dict[str, str]:
    return _jsonl(path, "result", task_id, ids, problems)


def _read_task_folder(folder: Path, task_id: str, ids: set[str], problems: list[str]) -> dict[str, str]:
    """The raw replies of ``output.jsonl``; an ``svg/<id>.svg`` with no jsonl line is taken as the reply."""
    jsonl = folder / "output.jsonl"
    replies = _jsonl(jsonl, "answer", task_id, ids, problems) if jsonl.is_file() else {}
    svg_dir = folder / "svg"
    if svg_dir.is_dir():
        for f in sorted(svg_dir.iterdir()):
            if f.suffix != ".svg":
                continue
            if f.stem not in ids:
                problems.append(f"{f}: sample id {f.stem} is not in {task_id} of the suite")
                continue
            if f.stem in replies:
                continue
            try:
                replies[f.stem] = f.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(f"{f}: unreadable ({exc})")
    elif not jsonl.is_file():
        problems.append(f"{folder}: neither output.jsonl nor svg/ (the official scripts write both)")
    return replies


@dataclass
class ImportReport:
    run_dir: Path
    answers: FolderAnswers
    summary: Any = None


def import_internsvg(folder: str | Path, model_name: str, *, suite: str = "sarena-mini", data: str | None = None,
                     out: str | Path = "runs", run_id: str | None = None, scoring: Any = None,
                     workers: int | None = None, limit: int | None = None) -> ImportReport:
    """Read an official output folder into a NEW run and score it as a native run of the same replies.

    The folder is checked whole before anything is created. The run is built in a hidden folder
    beside its final place and moved there only once it is finished, so a failure leaves no run.
    """
    from svgarena.harness._config import RunConfig, new_run_id
    from svgarena.harness._runner import execute
    from svgarena.harness._store import RunStore
    from svgarena.tasks import resolve_suite

    if not model_name.strip():
        raise InterchangeError("--model-name must not be empty")
    suite_root = resolve_suite(suite, data)
    answers = read_folder(folder, suite_root, limit)
    run_id = run_id or new_run_id()
    final = Path(out) / run_id
    if final.exists():
        raise FileExistsError(f"{final}: a run with this id exists; choose another --run-id")
    Path(out).mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".import-{run_id}-", dir=out))
    config = RunConfig(suite=suite, data=data, tasks=sorted(answers.replies), models=[model_name], solver="direct",
                       out=str(staging), run_id=run_id, preflight=False, workers=workers, limit=limit)
    model = ReplayModel(model_name, answers.replies)
    try:
        summary = asyncio.run(execute(config, models=[model], scoring=scoring))
        store = RunStore.open_existing(staging / run_id / "run.sqlite")
        try:
            info = store.run_info()
            cfg = dict(info["config"], out=str(out))
            store.db.execute("UPDATE runs SET config=?", (json.dumps(cfg, sort_keys=True),))
            store.update_meta(imported={"format": "internsvg", "source": str(Path(folder).resolve()),
                                        "model_name": model_name, "tasks": answers.sources,
                                        "without_answer": answers.missing, "past_limit": answers.beyond, "imported_at": time.time()})
            for task_id, n in answers.beyond.items():
                if n:
                    store.add_note(f"{task_id}: {n} answers in the imported folder are for samples past --limit "
                                   "and were not imported", task=task_id, model=model_name)
            for task_id, n in answers.missing.items():
                if n:
                    store.add_note(f"{task_id}: {n} samples have no answer in the imported folder: scored as no reply "
                                   "(the official scripts score them pure black)", task=task_id, model=model_name)
        finally:
            store.close()
        os.replace(staging / run_id, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ImportReport(run_dir=final, answers=answers, summary=summary)
