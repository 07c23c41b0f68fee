"""Scoring a stored run: the end-of-run pass of ``svgarena run`` and the ``svgarena score`` command.

Both read answers only from the run's store and artifacts (no model is called) and hand them to
``svgarena.scoring.run_pass`` group by group; scores go back into the store. The lines naming
skipped metrics are kept in the run's metadata (``skipped_metrics``), replaced by each pass, so
the report can repeat them.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from svgarena.harness._artifacts import ArtifactStore
from svgarena.harness._report import run_store_path
from svgarena.harness._store import RunStore
from svgarena.tasks import TASKS, AnswerKind, Sample, iter_samples, resolve_suite

log = logging.getLogger("svgarena.score")


@dataclass
class ScoringOptions:
    """How a scoring pass runs (command-line options of ``run`` and ``score``)."""

    metrics: list[str] | None = None  # None: every metric of each task
    device: str = "auto"
    batch_size: int = 16
    half: bool = False
    weights_dir: str | None = None  # also $SVGARENA_WEIGHTS
    enabled: bool = True  # False: the runner leaves neural and set-level metrics for `svgarena score`
    image_size: int = 448  # SArena scores 448x448 renders; smaller only for tests and benchmarks
    executor: str = "local"  # ray: per-sample neural metrics in scoring actors on the cluster
    ray_address: str | None = None


class _StoreSink:
    def __init__(self, store: RunStore) -> None:
        self.store = store

    def put_scores(self, rows: list) -> None:
        self.store.put_scores(rows)

    def put_set_scores(self, task: str, model: str, solver: str, scores: list) -> None:
        self.store.put_set_scores(task, model, solver, scores)


def stored_groups(store: RunStore, artifacts: ArtifactStore, root: Path, note: Callable[[str], None]) -> list[Any]:
    """One scoring group per (task, model, solver) of the run's finished trajectories."""
    from svgarena.scoring import Group, ScoringItem

    by_group: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for row in store.trajectories():
        by_group[(row["task"], row["model"], row["solver"])].append(
            {k: row[k] for k in ("id", "sample_id", "outcome", "answer", "media")})
    counts = store.score_counts()
    sets = {(r["task"], r["model"], r["solver"], r["metric"]): r["n_pred"]
            for r in store.set_scores() if r["view"] == "sarena" and r["value"] is not None}
    samples: dict[str, dict[str, Sample]] = {}
    groups = []
    for (task_id, model, solver), rows in by_group.items():
        task = TASKS.get(task_id)
        if task is None:
            note(f"skipped {task_id}: not a known task")
            continue
        n = len(rows)
        done = frozenset(m for m in task.metrics
                         if counts.get((task_id, model, solver, m)) == n or sets.get((task_id, model, solver, m)) == n)

        def items(task=task, rows=rows) -> Iterator[Any]:
            if task.id not in samples:
                samples[task.id] = {s.id: s for s in iter_samples(root, task, check_files=False)}
            by_id = samples[task.id]
            lost = 0
            for row in rows:
                sample = by_id.get(row["sample_id"])
                if sample is None:
                    lost += 1
                    continue
                yield _item(row, sample, task.answer, artifacts, ScoringItem)
            if lost:
                note(f"{task.id}: {lost} stored samples are no longer in the suite at {root}; not scored")

        groups.append(Group(task=task, model=model, solver=solver, sample_ids=[r["sample_id"] for r in rows],
                            items=items, done=done))
    return groups


def _item(row: dict, sample: Sample, answer_kind: AnswerKind, artifacts: ArtifactStore, cls: Any) -> Any:
    media = json.loads(row["media"] or "{}")

    def path(kind: str) -> Path | None:
        name = media.get(kind)
        return artifacts.path(name) if name else None

    ok = row["outcome"] == "ok"
    answer, svg = None, None
    if row["answer"]:
        if answer_kind is AnswerKind.CHOICE:
            answer = row["answer"]
        else:
            svg = artifacts.path(row["answer"])
    return cls(trajectory_id=row["id"], sample=sample, ok=ok, answer=answer, svg=svg,
               image=path("png") if answer_kind is AnswerKind.SVG else None,
               video=path("mp4"), video_128=path("mp4_128"), frames=path("frames"))


def score_stored(store: RunStore, artifacts: ArtifactStore, root: Path, options: ScoringOptions, *,
                 only_missing: bool, runner_pass: bool, note: Callable[[str], None] = log.info,
                 progress: Callable[[int, int, str], None] | None = None) -> Any:
    """Run one scoring pass over a run's store; returns the pass report (``progress``: see ``run_pass``)."""
    from svgarena.scoring import ScoringContext, resolve_device, run_pass, runner_metrics
    from svgarena.scoring._weights import weights_dir

    metrics: set[str] | None = set(options.metrics) if options.metrics else None
    if runner_pass:
        metrics = runner_metrics() if metrics is None else metrics & runner_metrics()
    info = store.run_info()
    ctx = ScoringContext(device=resolve_device(options.device), half=options.half,
                         batch_size=max(1, options.batch_size), weights_dir=weights_dir(options.weights_dir),
                         suite_root=root, image_size=options.image_size, tokenizer=info["config"].get("tokenizer") or info["meta"].get("tokenizer"))
    if options.half:
        from svgarena.scoring._torch import autocast

        autocast(ctx.device, True)  # fails early, with one line, on a CPU
    groups = stored_groups(store, artifacts, root, note)
    from svgarena.harness._round_pass import RoutingSink, round_groups

    sink = RoutingSink(store, _StoreSink(store))  # multi-round runs: every round scored in the same pass
    groups += round_groups(store, artifacts, root, sink, note)
    remote = None
    if options.executor == "ray":
        from svgarena.scoring._remote import RayScoring

        remote = RayScoring(ctx, options.device, options.ray_address)
    try:
        report = run_pass(groups, sink, ctx, metrics=metrics, only_missing=only_missing, note=note,
                          build=remote.build if remote is not None else None, progress=progress)
    except BaseException as exc:
        if type(exc).__name__ == "PassAborted":  # the cluster is gone: the run stops, resumable
            from svgarena.sandboxes._ray import ClusterLost

            raise ClusterLost(str(exc)) from None
        raise
    finally:
        if remote is not None:
            remote.shutdown()
    previous = [entry for entry in info["meta"].get("skipped_metrics", [])
                if isinstance(entry, dict) and metrics is not None and not set(entry.get("metrics", ())) & metrics]
    current = [{"metrics": report.line_metrics.get(line, []), "line": line} for line in report.lines]
    store.update_meta(skipped_metrics=previous + current,
                      scoring={"device": ctx.device, "half": ctx.half, "batch_size": ctx.batch_size,
                               **({"executor": "ray", "actors": remote.pool.size, "gpus": remote.gpus}
                                  if remote is not None else {})})
    return report


def rescore(run: str | Path, out: str | Path, options: ScoringOptions,
            note: Callable[[str], None] = log.info,
            progress: Callable[[int, int, str], None] | None = None) -> tuple[Path, Any]:
    """``svgarena score``: (re)compute a finished run's metrics from its store and artifacts."""
    from svgarena.scoring import METRICS

    unknown = sorted(set(options.metrics or []) - set(METRICS))
    if unknown:
        raise ValueError(f"unknown metric {', '.join(unknown)}; known: {', '.join(sorted(METRICS))}")
    path = run_store_path(run, out)
    store = RunStore.open_existing(path)
    try:
        config = store.run_info()["config"]
        root = resolve_suite(config.get("suite", "sarena-mini"), config.get("data"))
        report = score_stored(store, ArtifactStore(path.parent / "artifacts"), root, options,
                              only_missing=False, runner_pass=False, note=note, progress=progress)
    finally:
        store.close()
    return path.parent, report
