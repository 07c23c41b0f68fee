"""``svgarena report RUN --html FILE``: one self-contained HTML page of a run, from its store alone.

The page holds the results tables of both scoring views (with the 95% intervals of
``_intervals``), static SVG charts made with matplotlib (per-round curves for multi-round runs, a
comparison across models), and a gallery per task and model: input, reference render, the
model's render (every round's, with its scores and the feedback text), outcome and reason. A small
inline script filters, sorts and pages the gallery; nothing is fetched from a network.

A model's SVG is never put into the page: the page shows its sandboxed render (the PNG the run
stored) and the SVG code escaped in a ``<pre>``. Every text that came from a model, a suite or a
store is HTML-escaped.

Images are thumbnails (``thumb`` px, PNG). With ``images="auto"`` they are embedded as data URIs
while they total at most ``EMBED_MAX_BYTES`` and written to ``FILE_files/`` beside the page
otherwise; ``loading="lazy"`` plus pages of ``page_size`` cards mean a browser only decodes the
images of the page shown. ``gallery_limit`` caps the samples per (task, model, solver) in the
gallery (failures first), so the file grows with the samples shown, not with the run; the tables
and charts always cover every sample.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import math
import os
import re
import shutil
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from svgarena.harness._report import METRIC_LABELS, collect, run_store_path
from svgarena.harness._store import RunStore, StoreVersionError
from svgarena.outcome import Outcome

EMBED_MAX_BYTES = 8 * 1024 * 1024  # auto mode: embed thumbnails up to this total, else a folder
CODE_LIMIT = 6000  # characters of SVG code / reply shown per round (the rest is in the artifact)
SET_METRICS = ("fid", "fid_c", "fvd")
_HEADLINE_ORDER = ("ssim", "ssim_video", "accuracy", "clip_t2i", "viclip_t2v", "dino", "dino_video")
_LOWER_BETTER = {"lpips", "lpips_video", "fid", "fid_c", "fvd", "token_length"}


@dataclass
class HtmlReport:
    """What was written: the page, the image folder (None when images are embedded), counts and sizes."""

    path: Path
    files_dir: Path | None
    samples: int  # trajectories in the run
    shown: int  # cards in the gallery
    images: int  # distinct thumbnails
    page_bytes: int
    files_bytes: int
    seconds: float


def _e(text: Any) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def _label(model: str, solver: str, oracle_use: list[str] | None = None) -> str:
    """``model [solver]``, and ``ORACLE (selection)`` for an arm that peeked at the reference (as the text report)."""
    base = model if solver == "direct" else f"{model} [{solver}]"
    return base + (f" ORACLE ({', '.join(oracle_use)})" if oracle_use else "")


def _labels(results: list[dict[str, Any]]) -> dict[tuple[str, str, str], str]:
    """Each (task, model, solver)'s label, its oracle use included: the tables, charts and gallery say one name."""
    return {(r["task"], r["model"], r["solver"]): _label(r["model"], r["solver"], r.get("oracle_use")) for r in results}


def _label_html(label: str) -> str:
    """A label, escaped, its ORACLE mark in red."""
    base, mark, rest = label.partition(" ORACLE (")
    return _e(base) + (f' <span class="oracle">ORACLE ({_e(rest)}</span>' if mark else "")


def _fmt(metric: str, value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return METRIC_LABELS.get(metric, (metric, "{:.3f}"))[1].format(value)


def _mlabel(metric: str) -> str:
    return METRIC_LABELS.get(metric, (metric, ""))[0]


def headline_metric(metrics: list[str] | tuple[str, ...]) -> str | None:
    """The per-sample metric a task's charts show: SSIM where there is one, else the first per-sample metric."""
    per_sample = [m for m in metrics if m not in SET_METRICS and m != "token_length"]
    for m in _HEADLINE_ORDER:
        if m in per_sample:
            return m
    return per_sample[0] if per_sample else None


# -- images --------------------------------------------------------------------------------------
class _Images:
    """Thumbnails by content: each distinct source is downscaled once into ``folder`` (PNG), named by hash.

    Safe to call from several threads (the gallery builds its cards in a pool): a source two threads
    meet at once may be made twice, but is written and counted once."""

    def __init__(self, folder: Path, thumb: int) -> None:
        self.folder = folder
        self.thumb = thumb
        self.names: dict[str, str | None] = {}  # source key -> file name (None: could not be read)
        self.bytes = 0
        self._lock = threading.Lock()

    def _write(self, key: str, make, max_side: int) -> str | None:
        with self._lock:
            if key in self.names:
                return self.names[key]
        name = None
        try:
            from PIL import Image

            image = make()
            if image is not None:
                if not isinstance(image, Image.Image):
                    image = Image.fromarray(image)
                if image.mode not in ("RGB", "RGBA", "L", "LA"):
                    image = image.convert("RGBA")
                scale = max_side / max(image.size)
                if scale < 1:
                    image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                                         Image.LANCZOS)
                buf = io.BytesIO()
                image.save(buf, format="PNG", compress_level=6)
                data = buf.getvalue()
                name = hashlib.sha256(data).hexdigest()[:24] + ".png"
        except Exception:  # an unreadable image is shown as missing, never fatal to the report
            name = None
        with self._lock:
            if name is not None and not (self.folder / name).exists():
                self.folder.mkdir(parents=True, exist_ok=True)
                (self.folder / name).write_bytes(data)
                self.bytes += len(data)
            self.names[key] = name
        return name

    def file(self, path: Path | None) -> str | None:
        if path is None or not Path(path).is_file():
            return None

        def make():
            from PIL import Image

            with Image.open(path) as im:
                im.load()
                return im.copy()
        return self._write(f"file:{Path(path).resolve()}", make, self.thumb)

    def strip(self, path: Path | None, n: int = 4) -> str | None:
        """``n`` frames of a video side by side, each 3/4 of ``thumb`` px (an animation's input, reference or render)."""
        if path is None or not Path(path).is_file():
            return None
        size = max(32, self.thumb * 3 // 4)  # three strips of 4 frames (input, reference, render) fit a 1280 px page
        return self._write(f"strip:{Path(path).resolve()}:{n}", lambda: _video_strip(Path(path), n, size),
                           size * n + 2 * n)

    def sheet(self, path: Path | None, n: int = 4) -> str | None:
        """A fast-mode render (its metric frames side by side in one PNG) as a strip of ``n`` of its frames,
        each 3/4 of ``thumb`` px like :meth:`strip`; shrinking the whole sheet would leave each frame a few px."""
        if path is None or not Path(path).is_file():
            return None
        size = max(32, self.thumb * 3 // 4)
        return self._write(f"sheet:{Path(path).resolve()}:{n}", lambda: _sheet_strip(Path(path), n, size),
                           size * n + 2 * n)


def _video_strip(path: Path, n: int, size: int):
    """``n`` frames (SArena's metric indices) side by side, each at most ``size`` px, decoded and tiled by
    ffmpeg itself: piping every full frame through Python costs about 1 s a video, this a tenth of that."""
    import subprocess

    import imageio_ffmpeg
    from PIL import Image

    from svgarena.sandboxes import frame_count, sample_indices

    idx = sorted(set(sample_indices(frame_count(path), n).tolist()))
    if not idx:
        return None
    pick = "+".join(f"eq(n\\,{i})" for i in idx)
    vf = (f"select='{pick}',scale={size}:{size}:force_original_aspect_ratio=decrease,"
          f"tile={len(idx)}x1:padding=2:color=0xc8cdd6")
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-i", str(path),
           "-map", "0:v:0", "-vf", vf, "-fps_mode", "passthrough", "-frames:v", "1", "-f", "image2pipe",
           "-vcodec", "png", "-"]
    proc = subprocess.run(cmd, capture_output=True, timeout=60)
    if proc.returncode != 0 or not proc.stdout:
        return None
    with Image.open(io.BytesIO(proc.stdout)) as im:
        im.load()
        return im.copy()


def _sheet_strip(path: Path, n: int, size: int):
    """``n`` evenly spaced square frames of a sheet of frames side by side (``_round_media``'s ``frames``), each
    at most ``size`` px, tiled with a 2 px gap as :func:`_video_strip` tiles a video's."""
    from PIL import Image

    with Image.open(path) as im:
        im.load()
        sheet = im.convert("RGBA") if im.mode not in ("RGB", "RGBA") else im.copy()
    side = sheet.height
    count = sheet.width // side if side else 0
    if count < 1 or sheet.width != count * side:  # not a row of square frames: show it as one image
        return sheet
    idx = sorted({round(i * (count - 1) / max(1, n - 1)) for i in range(min(n, count))})
    frames = [sheet.crop((i * side, 0, (i + 1) * side, side)) for i in idx]
    if side > size:
        frames = [f.resize((size, size), Image.LANCZOS) for f in frames]
    w = frames[0].width
    out = Image.new(sheet.mode, (w * len(frames) + 2 * (len(frames) - 1), w), (0xc8, 0xcd, 0xd6, 255)[:len(sheet.mode)])
    for k, f in enumerate(frames):
        out.paste(f, (k * (w + 2), 0))
    return out


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


# -- charts --------------------------------------------------------------------------------------
def _svg_chart(fig) -> str:
    """A matplotlib figure as an SVG data URI (an <img>, so chart ids never clash inside the page)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _round_curves(store: RunStore, results: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Per task with a multi-round trajectory: mean headline metric (SArena view) after each round, one line
    per model; a trajectory that stopped early keeps its last round's value (the answer it would give)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    wanted = {r["task"]: headline_metric([m for m, v in r["metrics"].items() if v.get("computed")]) for r in results}
    per: dict[tuple[str, str, str], dict[int, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    for row in store.round_scores():
        if row["metric"] == wanted.get(row["task"]) and row["value"] is not None:
            per[(row["task"], row["model"], row["solver"])][row["trajectory_id"]][row["round"]] = float(row["value"])
    tasks: dict[str, list[tuple[str, list[float]]]] = defaultdict(list)
    names = _labels(results)
    for (task, model, solver), trajs in per.items():
        last = max((max(r) for r in trajs.values()), default=0)
        if last < 1:
            continue
        means = []
        for k in range(last + 1):
            vals = []
            for rounds in trajs.values():
                have = [r for r in rounds if r <= k]
                if have:
                    vals.append(rounds[max(have)])
            means.append(sum(vals) / len(vals) if vals else float("nan"))
        tasks[task].append((names.get((task, model, solver)) or _label(model, solver), means))
    charts = []
    for task, lines in tasks.items():
        metric = wanted[task]
        fig, ax = plt.subplots(figsize=(4.2, 2.8))
        for label, means in sorted(lines):
            ax.plot(range(len(means)), means, marker="o", label=label)
        ax.set_xlabel("round")
        ax.set_ylabel(f"mean {_mlabel(metric)} (SArena view)")
        ax.set_title(task, fontsize=10)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        charts.append((f"{task}: {_mlabel(metric)} after each round", _svg_chart(fig)))
    return charts


def _comparison(results: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Per task with more than one model: its headline metric per model (SArena view, 95% interval bars)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    by_task: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        by_task[r["task"]].append(r)
    charts = []
    for task, rows in by_task.items():
        computed = [m for m in rows[0]["metrics"]
                    if any((r["metrics"].get(m) or {}).get("sarena") is not None for r in rows)]
        metric = headline_metric(computed)
        if metric is None or len(rows) < 2:  # nothing to compare (or not computed in this run)
            continue
        labels, values, lo, hi = [], [], [], []
        for r in rows:
            cell = r["metrics"].get(metric) or {}
            v = cell.get("sarena")
            ci = (cell.get("ci") or {}).get("sarena") or {}
            labels.append(_label(r["model"], r["solver"], r.get("oracle_use")))
            values.append(v if v is not None else 0.0)
            lo.append(max(0.0, (v - ci["lo"])) if v is not None and ci.get("lo") is not None else 0.0)
            hi.append(max(0.0, (ci["hi"] - v)) if v is not None and ci.get("hi") is not None else 0.0)
        fig, ax = plt.subplots(figsize=(4.2, 0.45 * len(rows) + 0.9))
        ax.barh(range(len(rows)), values, xerr=[lo, hi], color="#4c78a8", capsize=3)
        ax.set_yticks(range(len(rows)), labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(f"{_mlabel(metric)} (SArena view{', lower is better' if metric in _LOWER_BETTER else ''})")
        ax.set_title(task, fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        charts.append((f"{task}: {_mlabel(metric)} per model", _svg_chart(fig)))
    return charts


# -- tables --------------------------------------------------------------------------------------
def _ci_html(metric: str, ci: dict[str, Any] | None) -> str:
    if not ci or ci.get("lo") is None:
        return ""
    return f' <span class="ci">[{_fmt(metric, ci["lo"])}, {_fmt(metric, ci["hi"])}]</span>'


def _tables(results: dict[str, Any]) -> str:
    """Both views, one table per family of tasks sharing metrics; each cell links to its samples."""
    families: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for r in results["results"]:
        families[tuple(r["metrics"])].append(r)
    tokenizer = results.get("tokenizer") or "unknown"
    out = []
    for view, title in (("sarena", "SArena view (failed samples scored as black)"),
                        ("ok_only", "Successful samples only")):
        out.append(f"<h3>{_e(title)}</h3>")
        for metrics, rows in families.items():
            head = ['<th class="l">task</th><th class="l">model</th><th>n</th><th>SR %</th>']
            for m in metrics:
                head.append(f"<th>{_e(f'Tokens ({tokenizer})' if m == 'token_length' else _mlabel(m))}</th>")
            head.append('<th class="l">failures</th>')
            body = []
            for r in rows:
                label = _label(r["model"], r["solver"], r.get("oracle_use"))
                link = (f'<a class="samples" href="#gallery" data-task="{_e(r["task"])}" data-model="{_e(label)}"')
                cells = [f'<td class="l">{_e(r["task"])}</td>', f'<td class="l">{_label_html(label)}</td>',
                         f'<td>{link}>{r["n"]}</a></td>',
                         f'<td>{_e(_fmt("accuracy", r["success_rate"]))}{_ci_html("accuracy", r.get("success_rate_ci"))}</td>']
                for m in metrics:
                    v = r["metrics"][m]
                    if not v.get("computed"):
                        cells.append('<td title="not computed in this run">n/c</td>')
                        continue
                    use = "ok_only" if m == "token_length" else ("sarena" if m == "accuracy" else view)
                    text = _e(_fmt(m, v.get(use)))
                    if v.get("set_level"):
                        text += '<span class="ci" title="set-level: point estimate">*</span>'
                    else:
                        text += _ci_html(m, (v.get("ci") or {}).get(use))
                    cells.append(f"<td>{link}>{text}</a></td>")
                fails = ", ".join(
                    f'{link} data-outcome="{_e(k)}">{_e(k)} {n}</a>' for k, n in sorted(r["failures"].items()))
                cells.append(f'<td class="l">{fails or "-"}</td>')
                body.append("<tr>" + "".join(cells) + "</tr>")
            out.append(f'<table class="results"><thead><tr>{"".join(head)}</tr></thead>'
                       f'<tbody>{"".join(body)}</tbody></table>')
    out.append('<p class="caption">SR = success rate. [lo, hi]: 95% bootstrap interval over samples. * set-level '
               "metric (FID, FID-C, FVD): all references vs all predictions, a point estimate. Token counts are over "
               "valid predictions in both views; accuracy counts every sample. n/c: not computed in this run. "
               "Click a number to see its samples.</p>")
    return "\n".join(out)


def _failure_list(results: dict[str, Any]) -> str:
    items = []
    names = _labels(results.get("results") or [])
    for f in results.get("failure_reasons") or []:
        who = names.get((f["task"], f["model"], f["solver"])) or _label(f["model"], f["solver"])
        for r in f["reasons"]:
            items.append(f"<li>{_label_html(who)} on {_e(f['task'])}: {r['count']} x "
                         f"{_e(r['outcome'])}: {_e(r['reason'])}</li>")
    return f"<h3>Most common failure reasons</h3><ul>{''.join(items)}</ul>" if items else ""


# -- gallery -------------------------------------------------------------------------------------
def _load_samples(config: dict[str, Any], tasks: set[str]) -> tuple[dict[tuple[str, str], Any], str | None]:
    """The run's samples by (task, id) from its suite, or a note saying why inputs cannot be shown."""
    from svgarena.tasks import TASKS, iter_samples, resolve_suite

    try:
        root = resolve_suite(config.get("suite", "sarena-mini"), config.get("data"))
    except Exception as exc:
        return {}, f"the run's suite is not here ({exc}); inputs and references are not shown"
    out: dict[tuple[str, str], Any] = {}
    missing = []
    for task in sorted(tasks):
        if task not in TASKS:
            continue
        try:
            for s in iter_samples(root, TASKS[task], check_files=False):
                out[(task, s.id)] = s
        except Exception:
            missing.append(task)
    note = f"samples of {', '.join(missing)} are not in {root}; their inputs are not shown" if missing else None
    return out, note


_ARTIFACT = re.compile(r"[0-9a-f]{64}\.[a-z0-9_]{1,8}")


def _artifact_path(artifacts: Path, name: str | None) -> Path | None:
    """Where an artifact name points under the run's artifacts (None for anything not shaped like one)."""
    if not name or not _ARTIFACT.fullmatch(name):
        return None
    return artifacts / name[:2] / name


def _read_text(artifacts: Path, name: str | None) -> str | None:
    path = _artifact_path(artifacts, name) if name and name.endswith(".svg") else None
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _code(text: str | None, limit: int = CODE_LIMIT) -> str:
    if text is None:
        return ""
    if len(text) > limit:
        return _e(text[:limit]) + f"\n… ({len(text) - limit} more characters in the run's artifacts)"
    return _e(text)


def _select_shown(trajs: list[Any], limit: int) -> list[Any]:
    """The trajectories the gallery shows: all, or per (task, model, solver) failures first then in run order."""
    if limit <= 0:
        return trajs
    groups: dict[tuple[str, str, str], list[Any]] = defaultdict(list)
    for t in trajs:
        groups[(t["task"], t["model"], t["solver"])].append(t)
    keep = set()
    for rows in groups.values():
        ranked = sorted(rows, key=lambda t: (t["outcome"] == Outcome.OK.value, t["id"]))
        keep.update(t["id"] for t in ranked[:limit])
    return [t for t in trajs if t["id"] in keep]


class _Gallery:
    def __init__(self, store: RunStore, images: _Images, artifacts: Path, samples: dict[tuple[str, str], Any],
                 metrics_of: dict[str, list[str]], labels: dict[tuple[str, str, str], str] | None = None) -> None:
        self.store = store
        self.labels = labels or {}
        self.images = images
        self.artifacts = artifacts
        self.samples = samples
        self.metrics_of = metrics_of

    def _artifact_png(self, name: str | None) -> str | None:
        return self.images.file(_artifact_path(self.artifacts, name))

    def _artifact_strip(self, name: str | None) -> str | None:
        return self.images.strip(_artifact_path(self.artifacts, name))

    def _artifact_sheet(self, name: str | None) -> str | None:
        return self.images.sheet(_artifact_path(self.artifacts, name))

    def cards(self, trajs: list[Any]) -> list[dict[str, Any]]:
        """Card data (no HTML yet): image sources are file names in the image folder, resolved at write time."""
        ids = [t["id"] for t in trajs]
        attempts: dict[int, list[Any]] = defaultdict(list)
        scores: dict[int, dict[int, dict[str, Any]]] = defaultdict(lambda: defaultdict(dict))
        for chunk in range(0, len(ids), 900):
            part = ids[chunk:chunk + 900]
            q = ",".join("?" * len(part))
            for a in self.store.db.execute(f"SELECT * FROM attempts WHERE trajectory_id IN ({q}) ORDER BY round",
                                           part):
                attempts[a["trajectory_id"]].append(a)
            for s in self.store.db.execute(
                    f"SELECT trajectory_id, round, metric, value, ok, error FROM round_scores "
                    f"WHERE trajectory_id IN ({q})", part):
                scores[s["trajectory_id"]][s["round"]][s["metric"]] = s
        from concurrent.futures import ThreadPoolExecutor

        # Thumbnails are the cost (PIL and ffmpeg release the GIL): build the cards in a pool, keep their order.
        with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
            return list(pool.map(lambda t: self._card(t, attempts.get(t["id"], []), scores.get(t["id"], {})), trajs))

    def _card(self, t: Any, rounds: list[Any], scores: dict[int, dict[str, Any]]) -> dict[str, Any]:
        sample = self.samples.get((t["task"], t["sample_id"]))
        metrics = [m for m in self.metrics_of.get(t["task"], []) if m not in SET_METRICS]
        selected = t["selected_round"] if t["selected_round"] is not None else (rounds[-1]["round"] if rounds else 0)
        inputs: list[tuple[str, str | None, str | None]] = []  # (caption, image name, text)
        if sample is not None:
            if sample.image is not None:
                inputs.append(("input image", self.images.file(sample.image), None))
            if sample.video is not None:
                inputs.append(("input video (4 frames)", self.images.strip(sample.video), None))
            if sample.reference_image is not None:
                ref = self.images.file(sample.reference_image)
                if inputs and inputs[0][1] == ref:
                    inputs[0] = ("input = reference render", ref, None)
                else:
                    inputs.append(("reference render", ref, None))
            elif sample.reference_video is not None:
                inputs.append(("reference (4 frames)", self.images.strip(sample.reference_video), None))
        renders = []
        for a in rounds:
            media = json.loads(a["media"]) if a["media"] else {}
            image = None
            video = media.get("mp4_128") or media.get("mp4")  # the 128 px capture decodes 12x faster
            if video:
                image = self._artifact_strip(video)
            if image is None and media.get("frames"):  # fast mode: the metric frames side by side, no video
                image = self._artifact_sheet(media["frames"])
            strip = image is not None
            if image is None:
                image = self._artifact_png(media.get("png"))
            sc = scores.get(a["round"], {})
            renders.append({
                "round": a["round"], "outcome": a["outcome"], "reason": a["reason"], "image": image, "strip": strip,
                "scores": [(m, sc[m]["value"]) for m in metrics if m in sc and sc[m]["value"] is not None],
                "feedback": a["feedback"], "feedback_mode": a["feedback_mode"], "chose": bool(a["model_chose"]),
                "svg": _read_text(self.artifacts, a["answer"]),
                "answer": None if (a["answer"] or "").endswith(".svg") else a["answer"],
                "reply": a["reply"] if a["outcome"] != Outcome.OK.value else None,
                "selected": a["round"] == selected,
            })
        head = scores.get(selected, {})
        return {
            "id": t["id"], "task": t["task"], "sample_id": t["sample_id"],
            "model": self.labels.get((t["task"], t["model"], t["solver"])) or _label(t["model"], t["solver"]),
            "epoch": t["epoch"], "outcome": t["outcome"] or "", "stop_reason": t["stop_reason"],
            "selection": t["selection"], "selected": selected, "inputs": inputs, "renders": renders,
            "prompt": sample.prompt if sample is not None else None,
            "media_input": sample is not None and bool(sample.inputs),
            "target": sample.target if sample is not None and len(sample.target or "") <= 2 else None,
            "metrics": {m: head[m]["value"] for m in metrics if m in head and head[m]["value"] is not None},
        }


def _img(src: str | None, alt: str) -> str:
    """``src`` is the image's attribute: ``src="FILE_files/x.png"``, or ``data-img="x"`` (embedded once, set by script)."""
    if src is None:
        return f'<div class="norender">{_e(alt)}: not available</div>'
    return f'<img loading="lazy" decoding="async" {src} alt="{_e(alt)}">'


def _card_html(c: dict[str, Any], src) -> str:
    failed = c["outcome"] != Outcome.OK.value
    attrs = "".join(f' data-m-{_e(m)}="{v:.6g}"' for m, v in c["metrics"].items())
    head_scores = " ".join(f"{_e(_mlabel(m))} {_e(_fmt(m, v))}" for m, v in c["metrics"].items())
    epoch = f" (epoch {c['epoch']})" if c["epoch"] else ""
    head = (f'<div class="head"><b>{_e(c["sample_id"])}</b>{epoch} '
            f'· {_e(c["task"])} · {_label_html(c["model"])} · <span class="badge {"fail" if failed else "ok"}">'
            f'{_e(c["outcome"])}</span> {_e(head_scores)}')
    if len(c["renders"]) > 1:
        head += f' · {len(c["renders"])} rounds, stop: {_e(c["stop_reason"])}, selected round {c["selected"]} ({_e(c["selection"])})'
    head += "</div>"
    figs = []
    if c["prompt"] is not None and not c["media_input"]:
        figs.append(f'<figure><pre class="prompt">{_code(c["prompt"], 1500)}</pre><figcaption>prompt</figcaption></figure>')
    for caption, name, _ in c["inputs"]:
        figs.append(f"<figure>{_img(src(name), caption)}<figcaption>{_e(caption)}</figcaption></figure>")
    for r in c["renders"]:
        label = f'round {r["round"]}' if len(c["renders"]) > 1 else "model render"
        if r["strip"]:
            label += " (4 frames)"
        if r["chose"]:
            label += " (model's pick)"
        if r["selected"] and len(c["renders"]) > 1:
            label += " · selected"
        if r["outcome"] != Outcome.OK.value:
            body = f'<div class="norender">{_e(r["outcome"])}</div><div class="reason">{_e(r["reason"])}</div>'
        elif r["image"] is None and r["answer"] is not None:
            right = c["target"] is not None and r["answer"] == c["target"]
            target = f' (target {_e(c["target"])})' if c["target"] else ""
            body = (f'<div class="answer {"right" if right else "wrong"}">answer {_e(r["answer"])}{target}</div>')
        else:
            body = _img(src(r["image"]), label)
        scores = " ".join(f"{_e(_mlabel(m))} {_e(_fmt(m, v))}" for m, v in r["scores"])
        fb = ""
        if r["feedback"]:
            fb = (f'<details><summary>feedback shown ({_e(r["feedback_mode"])})</summary>'
                  f'<pre>{_code(r["feedback"], 3000)}</pre></details>')
        figs.append(f'<figure class="{"sel" if r["selected"] and len(c["renders"]) > 1 else ""}">{body}'
                    f'<figcaption>{_e(label)}<div class="scores">{scores}</div></figcaption>{fb}</figure>')
    parts = [f'<div class="card" id="t{c["id"]}" data-task="{_e(c["task"])}" data-model="{_e(c["model"])}" '
             f'data-outcome="{_e(c["outcome"])}"{attrs}>', head, f'<div class="strip">{"".join(figs)}</div>']
    if c["prompt"] is not None:
        parts.append(f"<details><summary>prompt</summary><pre>{_code(c['prompt'])}</pre></details>")
    for r in c["renders"]:
        which = f' (round {r["round"]})' if len(c["renders"]) > 1 else ""
        if r["svg"] is not None:
            parts.append(f"<details><summary>SVG code{which}, escaped</summary><pre>{_code(r['svg'])}</pre></details>")
        if r["reply"]:
            parts.append(f"<details><summary>model reply{which}</summary><pre>{_code(r['reply'])}</pre></details>")
    parts.append("</div>")
    return "".join(parts)


def _asset(name: str) -> str:
    return resources.files("svgarena.harness").joinpath("html", name).read_text(encoding="utf-8")


def _select(id_: str, label: str, options: list[tuple[str, str]]) -> str:
    opts = "".join(f'<option value="{_e(v)}">{_e(t)}</option>' for v, t in options)
    return f'<label>{_e(label)} <select id="{id_}">{opts}</select></label>'


def _open(path: Path) -> RunStore:
    try:
        return RunStore.open_existing(path, readonly=True)
    except StoreVersionError:  # an old store: migrate it once, as `svgarena report` does
        return RunStore.open_existing(path)


def build_html(run: str | Path, file: str | Path, *, out: str | Path = "runs", images: str = "auto",
               thumb: int = 128, page_size: int = 50, gallery_limit: int = 0, bootstrap: int = 1000) -> HtmlReport:
    """Write the HTML report of a run (its id under ``out``, its folder, or its run.sqlite) to ``file``."""
    if images not in ("auto", "embed", "folder"):
        raise ValueError(f"--images must be auto, embed or folder, got {images!r}")
    if thumb < 16:
        raise ValueError(f"--thumb must be 16 px or more, got {thumb}")
    if page_size < 1:
        raise ValueError(f"--page-size must be 1 or more, got {page_size}")
    started = time.perf_counter()
    db_path = run_store_path(run, out)
    file = Path(file)
    if file.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"{file}: the report file must end in .html")
    file.parent.mkdir(parents=True, exist_ok=True)
    files_dir = file.with_name(file.stem + "_files")
    if files_dir.exists():
        shutil.rmtree(files_dir)  # ours from an earlier build: stale thumbnails must not linger
    store = _open(db_path)
    try:
        results = collect(store, bootstrap)
        rows = results["results"]
        metrics_of = {r["task"]: list(r["metrics"]) for r in rows}
        trajs = list(store.trajectories())
        shown = _select_shown(trajs, gallery_limit)
        samples, note = _load_samples(results["config"], {t["task"] for t in shown})
        imgs = _Images(files_dir, thumb)
        cards = _Gallery(store, imgs, db_path.parent / "artifacts", samples, metrics_of, _labels(rows)).cards(shown)
        charts = _round_curves(store, rows) + _comparison(rows)
        running = sum(1 for _ in store.trajectories("running"))
    finally:
        store.close()

    embed = images == "embed" or (images == "auto" and imgs.bytes <= EMBED_MAX_BYTES)
    embedded: dict[str, str] = {}  # embed mode: each distinct image once, in a JSON map the script applies

    def src(name: str | None) -> str | None:
        if name is None:
            return None
        if not embed:
            return f'src="{_e(files_dir.name)}/{_e(name)}"'
        key = name.partition(".")[0]
        if key not in embedded:
            embedded[key] = _data_uri(files_dir / name)
        return f'data-img="{key}"'

    cards_html = "\n".join(_card_html(c, src) for c in cards)
    if embed and files_dir.exists():
        shutil.rmtree(files_dir)
    page = _page(results, charts, cards_html, cards, len(trajs), running, page_size, note, gallery_limit, embedded)
    file.write_text(page, encoding="utf-8")
    files_bytes = sum(p.stat().st_size for p in files_dir.iterdir()) if not embed and files_dir.exists() else 0
    return HtmlReport(path=file, files_dir=None if embed or not files_dir.exists() else files_dir,
                      samples=len(trajs), shown=len(cards), images=len(set(n for n in imgs.names.values() if n)),
                      page_bytes=file.stat().st_size, files_bytes=files_bytes,
                      seconds=time.perf_counter() - started)


_CSP = ("default-src 'none'; img-src data: file:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
        "connect-src 'none'; frame-src 'none'; object-src 'none'; form-action 'none'; base-uri 'none'")


def _page(results: dict[str, Any], charts: list[tuple[str, str]], cards_html: str, cards: list[dict[str, Any]],
          n_samples: int, running: int, page_size: int, note: str | None, gallery_limit: int,
          embedded: dict[str, str]) -> str:
    cfg = results["config"]
    tasks = sorted({c["task"] for c in cards})
    models = sorted({c["model"] for c in cards})
    outcomes = sorted({c["outcome"] for c in cards})
    metrics = sorted({m for c in cards for m in c["metrics"]})
    notes = []
    if running:
        notes.append(f"the run is still in progress: {running} samples unfinished are not shown")
    if note:
        notes.append(note)
    if len(cards) < n_samples:
        notes.append(f"the gallery shows {len(cards)} of {n_samples} samples (at most {gallery_limit} per task and "
                     f"model, failures first); the tables and charts cover all of them")
    notes.extend(n["text"] for n in results.get("notes") or [])
    notes.extend(results.get("skipped_metrics") or [])
    images_json = json.dumps(embedded).replace("</", "<\\/")  # data URIs hold no "</"; kept safe anyway
    chart_html = "".join(f'<figure><img src="{u}" alt="{_e(t)}" title="{_e(t)}"></figure>' for t, u in charts)
    controls = "".join([
        _select("f-task", "task", [("", "all tasks")] + [(t, t) for t in tasks]),
        _select("f-model", "model", [("", "all models")] + [(m, m) for m in models]),
        _select("f-outcome", "outcome", [("", "any outcome"), ("failed", "any failure")] + [(o, o) for o in outcomes]),
        _select("s-metric", "sort by", [("", "run order")] + [(m, _mlabel(m) + f" ({m})") for m in metrics]),
        _select("s-dir", "", [("desc", "high first"), ("asc", "low first")]),
        '<button id="reset" type="button">clear filters</button>',
        '<span class="pager"><button id="prev" type="button">&larr; prev</button>'
        '<button id="next" type="button">next &rarr;</button><span id="pageinfo"></span></span>',
    ])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>svgarena report {_e(results['run_id'])}</title>
<style>{_asset('report.css')}</style></head>
<body>
<h1>svgarena run {_e(results['run_id'])}</h1>
<div class="meta">status {_e(results['status'])} · suite {_e(cfg.get('suite'))} · solver {_e(cfg.get('solver'))}
{_e(f"(rounds {cfg.get('rounds')}, feedback {cfg.get('feedback')}, select {cfg.get('select')})" if cfg.get('solver') == 'refine' else '')}
· {n_samples} samples · built {_e(time.strftime('%Y-%m-%d %H:%M:%S'))}</div>
{''.join(f'<div class="note">{_e(n)}</div>' for n in notes)}
<h2 id="results">Results</h2>
{_tables(results)}
{_failure_list(results)}
<h2 id="charts">Charts</h2>
{'<div class="charts">' + chart_html + '</div>' if charts else '<p class="meta">no chart: one model per task and no multi-round run</p>'}
<h2 id="gallery">Samples</h2>
<div id="controls">{controls}</div>
<div id="cards" data-page-size="{page_size}">
{cards_html}
</div>
<script type="application/json" id="images">{images_json}</script>
<noscript><div class="note">embedded images and the filters need JavaScript</div></noscript>
<script>{_asset('report.js')}</script>
</body></html>
"""
