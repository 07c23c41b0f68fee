"""``svgarena merge``: join the shard runs of one run into a single run, then score it whole.

Before anything is written the shard runs are checked against each other (same suite, tasks,
models, solver and arm, and every setting that changes an answer or a score) and against the set
of (task, model, sample, epoch) keys the unsharded run would hold (planned from the suite, not
counted): what is missing, duplicated (in more than one shard run) or unexpected is named, one
line each, and nothing is created. Then trajectories, attempts, round scores, per-sample scores,
notes, call ledgers and artifacts are copied into a new run folder, and a scoring pass recomputes
every metric from the merged rows, the set-level ones (FID, FID-C, FVD) over the whole merged set:
a shard's set-level score is never copied and shard means are never averaged. A merge that fails
half-way removes the folder it created.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from svgarena.harness._artifacts import ArtifactStore
from svgarena.harness._config import RunConfig
from svgarena.harness._rescore import ScoringOptions, score_stored
from svgarena.harness._report import run_store_path
from svgarena.harness._store import ATTEMPT_COLUMNS, RunStore, TrajectoryKey

log = logging.getLogger("svgarena.merge")

# Settings that change what a run asks, answers or scores: shard runs must agree on all of them.
# Left out: where and how fast a run went (out, run_id, concurrency, workers, backend), its spending
# caps and cache (max_cost_usd, max_tokens, no_cache), the model-file path and preflight choices.
ARM_FIELDS = ("suite", "data", "tasks", "models", "solver", "rounds", "feedback", "select", "samples",
              "temperature", "limit", "epochs", "video_frames", "video_input", "render_timeout_s", "renderer",
              "animation_mode", "extract_rule", "choice_rule", "tokenizer", "seed")

_TRAJECTORY_COLUMNS = ("task", "model", "solver", "sample_id", "epoch", "status", "outcome", "answer", "media",
                       "subject", "stop_reason", "selection", "selected_round", "arm", "started", "finished")
_SHOWN = 10  # keys named per problem line before "and N more"


class MergeError(ValueError):
    """Shard runs that cannot be merged; the message has one line per problem."""


@dataclass
class MergeReport:
    run_dir: Path
    shards: list[str] = field(default_factory=list)
    trajectories: int = 0
    attempts: int = 0
    artifacts: int = 0  # files copied (or linked) into the merged run's artifacts
    scoring: Any = None  # the scoring pass's report


@dataclass
class _Shard:
    path: Path
    store: RunStore
    config: dict[str, Any]
    meta: dict[str, Any]
    status: str
    rows: dict[TrajectoryKey, int]  # finished trajectory key -> its id in this store

    @property
    def label(self) -> str:
        spec = (self.meta.get("shard") or {}).get("spec")
        return f"{self.path.parent.name}" + (f" (shard {spec})" if spec else "")


def _key_text(key: TrajectoryKey) -> str:
    return f"{key.task}|{key.model}|{key.sample_id}|{key.epoch}"


def _named(keys: Iterable[TrajectoryKey], describe: Callable[[TrajectoryKey], str] = _key_text) -> str:
    keys = sorted(keys, key=lambda k: (k.task, k.model, k.solver, _natural(k.sample_id), k.epoch))
    shown = ", ".join(describe(k) for k in keys[:_SHOWN])
    more = len(keys) - _SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def _natural(sample_id: str) -> tuple[int, int | str]:
    return (0, int(sample_id)) if sample_id.isdigit() else (1, sample_id)


def resolve_into(into: str | Path, out: str | Path) -> Path:
    """The merged run's folder: a path when ``into`` names one (has a separator), else ``out/into``."""
    text = str(into)
    return Path(text) if ("/" in text or os.sep in text) else Path(out) / text


def _open_shards(runs: list[str | Path], out: str | Path) -> list[_Shard]:
    shards: list[_Shard] = []
    seen: dict[Path, str] = {}
    for run in runs:
        path = run_store_path(run, out).resolve()
        if path in seen:
            for s in shards:
                s.store.close()
            raise MergeError(f"{run}: given twice (as {seen[path]}); each shard run is merged once")
        seen[path] = str(run)
        store = RunStore.open_existing(path, readonly=True)
        info = store.run_info()
        rows = {TrajectoryKey(r[0], r[1], r[2], r[3], int(r[4])): int(r[5]) for r in store.db.execute(
            "SELECT task, model, solver, sample_id, epoch, id FROM trajectories WHERE status='done'")}
        shards.append(_Shard(path, store, info["config"], info["meta"], info["status"], rows))
    return shards


def _config_problems(shards: list[_Shard]) -> list[str]:
    """One line per setting on which the shard runs differ."""
    lines = []
    for name in ARM_FIELDS:
        values = {s.label: s.config.get(name) for s in shards}
        if len({json.dumps(v, sort_keys=True) for v in values.values()}) > 1:
            lines.append(f"the shard runs differ in {name}: " + "; ".join(f"{k} has {v!r}" for k, v in values.items()))
    tokenizers = {s.label: s.meta.get("tokenizer") for s in shards}
    if len(set(tokenizers.values())) > 1:
        lines.append("the shard runs counted tokens with different tokenizers: "
                     + "; ".join(f"{k} used {v}" for k, v in tokenizers.items()))
    splits = {s.label: (s.meta.get("shard") or {}).get("n") for s in shards}
    if len(set(splits.values())) > 1:
        lines.append("the shard runs split the suite differently: "
                     + "; ".join(f"{k} is {'unsharded' if v is None else f'one of {v}'}" for k, v in splits.items()))
    specs: dict[str, list[str]] = {}
    for s in shards:
        spec = (s.meta.get("shard") or {}).get("spec")
        if spec:
            specs.setdefault(spec, []).append(s.path.parent.name)
    for spec, names in specs.items():
        if len(names) > 1:
            lines.append(f"shard {spec} given more than once: {', '.join(names)}")
    return lines


def expected_keys(config: dict[str, Any]) -> list[TrajectoryKey]:
    """Every (task, model, solver, sample, epoch) the unsharded run of ``config`` holds, in plan order."""
    from svgarena.harness._runner import _plan

    base = RunConfig.from_dict(config)
    base.shard = None
    base.backend = "local"  # the plan only: the merging machine need not have the shards' render backend
    plan = _plan(base)
    return [TrajectoryKey(task.id, model.name, base.solver, sample.id, epoch)
            for task, model, samples in plan.units for sample in samples for epoch in range(base.epochs)]


def _key_problems(shards: list[_Shard], expected: list[TrajectoryKey]) -> tuple[list[str], dict[TrajectoryKey, _Shard]]:
    """Missing, duplicated and unexpected keys, one line each; and which shard holds each key."""
    owner: dict[TrajectoryKey, _Shard] = {}
    dup: dict[TrajectoryKey, list[str]] = {}
    for s in shards:
        for key in s.rows:
            if key in owner:
                dup.setdefault(key, [owner[key].path.parent.name]).append(s.path.parent.name)
            else:
                owner[key] = s
    want = set(expected)
    missing = [k for k in expected if k not in owner]
    unexpected = [k for k in owner if k not in want]
    lines = []
    if missing:
        unfinished = [s.label + f" is {s.status}" for s in shards if s.status != "finished"]
        why = f" ({'; '.join(unfinished)})" if unfinished else ""
        lines.append(f"missing {len(missing)} of {len(expected)} expected trajectories (task|model|sample|epoch)"
                     f"{why}: {_named(missing)}")
    if dup:
        lines.append(f"duplicated {len(dup)} trajectories, finished in more than one shard run: "
                     + _named(dup, lambda k: f"{_key_text(k)} in {' and '.join(dup[k])}"))
    if unexpected:
        lines.append(f"{len(unexpected)} trajectories are not in the plan of this suite and config: "
                     f"{_named(unexpected)}")
    return lines, owner


def merge_runs(runs: list[str | Path], into: str | Path, *, out: str | Path = "runs",
               scoring: ScoringOptions | None = None, reuse_sample_scores: bool = False,
               note: Callable[[str], None] = log.info) -> MergeReport:
    """Check, copy and score: the shard runs ``runs`` become one run at ``into`` (see the module doc).

    ``reuse_sample_scores`` keeps the shards' per-sample scores and recomputes only what is missing
    (always the set-level metrics, which no shard can have computed over the merged set).
    """
    if not runs:
        raise MergeError("give the shard runs to merge")
    run_dir = resolve_into(into, out)
    if (run_dir / "run.sqlite").exists():
        raise FileExistsError(f"{run_dir}: a run exists there; choose another --into")
    shards = _open_shards(list(runs), out)
    created = False
    try:
        problems = _config_problems(shards)
        if problems:  # keys are only comparable between runs of the same plan
            raise MergeError("\n".join(problems))
        expected = expected_keys(shards[0].config)
        problems, owner = _key_problems(shards, expected)
        if problems:
            raise MergeError("\n".join(problems))
        created = not run_dir.exists()
        report = MergeReport(run_dir=run_dir, shards=[s.label for s in shards])
        _write(shards, expected, owner, run_dir, report, scoring or ScoringOptions(), reuse_sample_scores, note)
        return report
    except BaseException:
        if created and run_dir.exists():
            shutil.rmtree(run_dir, ignore_errors=True)  # nothing half-merged is left behind
        elif (run_dir / "run.sqlite").exists():
            for suffix in ("", "-wal", "-shm"):
                (run_dir / f"run.sqlite{suffix}").unlink(missing_ok=True)
        raise
    finally:
        for s in shards:
            s.store.close()


def _write(shards: list[_Shard], expected: list[TrajectoryKey], owner: dict[TrajectoryKey, _Shard], run_dir: Path,
           report: MergeReport, options: ScoringOptions, reuse: bool, note: Callable[[str], None]) -> None:
    from svgarena.harness._meta import run_metadata
    from svgarena.tasks import resolve_suite

    config = RunConfig.from_dict(shards[0].config)
    config.shard, config.run_id, config.out = None, run_dir.name, str(run_dir.parent)
    meta = {k: v for k, v in shards[0].meta.items() if k not in ("shard", "skipped_metrics", "scoring")}
    meta["merged_from"] = [{"run_id": s.config.get("run_id"), "path": str(s.path.parent), "status": s.status,
                            "shard": (s.meta.get("shard") or {}).get("spec"), "trajectories": len(s.rows),
                            "git": s.meta.get("git")} for s in shards]
    meta["merge"] = run_metadata(config.seed)
    store = RunStore(run_dir / "run.sqlite")
    try:
        store.init_run(config.run_id, config.to_dict(), meta)
        store.set_status("merging")
        artifacts = ArtifactStore(run_dir / "artifacts")
        for s in shards:
            report.artifacts += _copy_artifacts(s.path.parent / "artifacts", artifacts.root)
        with store._tx():
            for key in expected:  # plan order, so the merged store reads like an unsharded run
                report.attempts += _copy_trajectory(owner[key].store.db, owner[key].rows[key], store.db)
                report.trajectories += 1
            for s in shards:
                for n in s.store.notes():
                    store.db.execute("INSERT INTO notes (created, task, model, text) VALUES (?,?,?,?)",
                                     (s.store.run_info()["updated"], n["task"], n["model"], f"{s.label}: {n['text']}"))
        _merge_ledgers([s.path.parent for s in shards], run_dir)
        units: dict[tuple[str, str], int] = {}
        for key in expected:
            units[(key.task, key.model)] = units.get((key.task, key.model), 0) + 1
        store.put_heartbeat("plan", {"units": [{"task": t, "model": m, "total": n} for (t, m), n in units.items()]})
        store.add_note(f"merged from {len(shards)} shard runs: {', '.join(s.label for s in shards)}")
        root = resolve_suite(config.suite, config.data)
        report.scoring = score_stored(store, artifacts, root, options, only_missing=reuse, runner_pass=False, note=note)
        stopped = any(s.status == "stopped" for s in shards)
        store.set_status("stopped" if stopped else "finished")
    except BaseException:
        store.close()
        raise
    store.close()


def _copy_trajectory(src: sqlite3.Connection, tid: int, dst: sqlite3.Connection) -> int:
    """Copy one finished trajectory with its attempts, round scores and per-sample scores; returns its attempts.

    Set-level scores are not copied: the scoring pass computes them over the merged set.
    """
    row = src.execute(f"SELECT {', '.join(_TRAJECTORY_COLUMNS)} FROM trajectories WHERE id=?", (tid,)).fetchone()
    new = int(dst.execute(f"INSERT INTO trajectories ({', '.join(_TRAJECTORY_COLUMNS)}) "
                          f"VALUES ({', '.join('?' * len(_TRAJECTORY_COLUMNS))})", tuple(row)).lastrowid)
    cols = (*ATTEMPT_COLUMNS, "created")
    attempts = src.execute(f"SELECT {', '.join(cols)} FROM attempts WHERE trajectory_id=? ORDER BY round",
                           (tid,)).fetchall()
    dst.executemany(f"INSERT INTO attempts (trajectory_id, {', '.join(cols)}) VALUES (?, {', '.join('?' * len(cols))})",
                    [(new, *a) for a in attempts])
    dst.executemany("INSERT INTO round_scores (trajectory_id, round, metric, value, ok, error) VALUES (?,?,?,?,?,?)",
                    [(new, *r) for r in src.execute("SELECT round, metric, value, ok, error FROM round_scores "
                                                     "WHERE trajectory_id=?", (tid,))])
    dst.executemany("INSERT INTO scores (trajectory_id, metric, value, ok, error) VALUES (?,?,?,?,?)",
                    [(new, *r) for r in src.execute("SELECT metric, value, ok, error FROM scores "
                                                     "WHERE trajectory_id=?", (tid,))])
    return len(attempts)


def _copy_artifacts(src: Path, dst: Path) -> int:
    """Every artifact of a shard run not yet in ``dst`` (content-addressed: same name, same bytes)."""
    if not src.is_dir():
        return 0
    copied = 0
    for folder in os.scandir(src):
        if not folder.is_dir():
            continue
        for entry in os.scandir(folder.path):
            if entry.name.endswith(".tmp"):
                continue
            target = dst / folder.name / entry.name
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(entry.path, target)  # same disk: no bytes copied
            except OSError:
                shutil.copyfile(entry.path, target)
            copied += 1
    return copied


def _merge_ledgers(shard_dirs: list[Path], run_dir: Path) -> None:
    """Concatenate the shards' call ledgers, so the merged run reports what all of them paid."""
    from svgarena.agents import CALLS_DB, CallLedger

    sources = [d / CALLS_DB for d in shard_dirs if (d / CALLS_DB).is_file()]
    if not sources:
        return
    CallLedger(run_dir / CALLS_DB).close()  # the ledger's schema
    dst = sqlite3.connect(run_dir / CALLS_DB)
    try:
        cols = [r[1] for r in dst.execute("PRAGMA table_info(calls)") if r[1] != "id"]
        for path in sources:
            src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                rows = src.execute(f"SELECT {', '.join(cols)} FROM calls ORDER BY id").fetchall()
            except sqlite3.OperationalError:  # a ledger with no calls table yet
                rows = []
            finally:
                src.close()
            dst.executemany(f"INSERT INTO calls ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows)
        dst.commit()
    finally:
        dst.close()
