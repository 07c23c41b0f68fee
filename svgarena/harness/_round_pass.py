"""The scoring pass round by round: neural metrics per round and FID/FID-C/FVD per round.

A multi-round run (refine, resample) keeps every round's render. Its scoring pass adds one group
per (task, model, solver, round) beside the headline groups, in the same ``run_pass`` call, so each
network is loaded once. Per-sample scores of a round go to ``round_scores`` for the trajectories
that have that round. The set-level metrics of round k take every trajectory: one that stopped
before round k counts with its last answer (a stopped trajectory keeps its answer), so every round's
FID is over the same samples and rounds compare on equal sets; ``n_pred`` says how many.
Runs whose trajectories all have one round (direct) get no round groups: their round 0 is the headline.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from svgarena.harness._artifacts import ArtifactStore
from svgarena.harness._store import RunStore
from svgarena.tasks import TASKS, AnswerKind, Sample, iter_samples

_TAG = "#round"


class RoutingSink:
    """Headline rows to the store's headline tables; round groups' rows to ``round_scores``/``round_set_scores``."""

    def __init__(self, store: RunStore, headline: Any) -> None:
        self.store = store
        self.headline = headline
        self.items: dict[int, tuple[int, int, bool]] = {}  # synthetic id -> (trajectory id, round, carried forward)
        self.tags: dict[str, tuple[str, int]] = {}  # group solver tag -> (solver, round)

    def put_scores(self, rows: list) -> None:
        plain = [r for r in rows if r[0] >= 0]
        if plain:
            self.headline.put_scores(plain)
        per_round = []
        for sid, metric, value, ok, error in (r for r in rows if r[0] < 0):
            tid, round_no, carried = self.items[sid]
            if not carried:  # a carried-forward answer belongs to the set, not to this round's per-sample rows
                per_round.append((tid, round_no, metric, value, ok, error))
        if per_round:
            self.store.put_round_scores(per_round)

    def put_set_scores(self, task: str, model: str, solver: str, scores: list) -> None:
        if solver in self.tags:
            real, round_no = self.tags[solver]
            self.store.put_round_set_scores(task, model, real, round_no, scores)
        else:
            self.headline.put_set_scores(task, model, solver, scores)


def round_groups(store: RunStore, artifacts: ArtifactStore, root: Path, sink: RoutingSink,
                 note: Callable[[str], None]) -> list[Any]:
    """One scoring group per round of every multi-round (task, model, solver) of the run."""
    from svgarena.harness._rescore import _item
    from svgarena.scoring import Group, ScoringItem

    rows = store.db.execute(
        "SELECT a.trajectory_id, a.round, a.outcome, a.answer, a.media, t.task, t.model, t.solver, t.sample_id "
        "FROM attempts a JOIN trajectories t ON t.id = a.trajectory_id WHERE t.status='done' "
        "ORDER BY t.id, a.round").fetchall()
    by_group: dict[tuple[str, str, str], dict[int, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        by_group[(r["task"], r["model"], r["solver"])][r["trajectory_id"]].append(dict(r))
    have = _stored(store)
    groups: list[Any] = []
    samples: dict[str, dict[str, Sample]] = {}
    for (task_id, model, solver), trajs in by_group.items():
        task = TASKS.get(task_id)
        last = max((a["round"] for t in trajs.values() for a in t), default=0)
        if task is None or task.answer is AnswerKind.CHOICE or last == 0:
            continue
        for k in range(last + 1):
            tag = f"{solver}{_TAG}{k}"
            sink.tags[tag] = (solver, k)
            picked = []  # (synthetic id, attempt row, carried)
            for tid, attempts in trajs.items():
                upto = [a for a in attempts if a["round"] <= k]
                if not upto:
                    continue
                row = upto[-1]
                sid = -(len(sink.items) + 1)
                sink.items[sid] = (tid, k, row["round"] != k)
                picked.append((sid, row))
            actual = [(sid, row) for sid, row in picked if row["round"] == k]
            done = frozenset(m for m in task.metrics if _complete(have, task_id, model, solver, k, m, actual, sink))

            def items(task=task, picked=picked) -> Iterator[Any]:
                if task.id not in samples:
                    samples[task.id] = {s.id: s for s in iter_samples(root, task, check_files=False)}
                for sid, row in picked:
                    sample = samples[task.id].get(row["sample_id"])
                    if sample is not None:
                        yield _item({**row, "id": sid}, sample, task.answer, artifacts, ScoringItem)

            groups.append(Group(task=task, model=model, solver=tag, sample_ids=[r["sample_id"] for _, r in picked],
                                items=items, done=done))
    return groups


def _stored(store: RunStore) -> dict[str, set]:
    per_sample = {(r[0], r[1], r[2]) for r in store.db.execute(
        "SELECT trajectory_id, round, metric FROM round_scores WHERE value IS NOT NULL OR error IS NOT NULL")}
    per_set = {tuple(r) for r in store.db.execute(
        "SELECT task, model, solver, round, metric FROM round_set_scores WHERE view='sarena'")}
    return {"sample": per_sample, "set": per_set}


def _complete(have: dict[str, set], task: str, model: str, solver: str, k: int, metric: str,
              actual: list, sink: RoutingSink) -> bool:
    if (task, model, solver, k, metric) in have["set"]:
        return True
    if not actual:
        return False
    return all((sink.items[sid][0], k, metric) in have["sample"] for sid, _ in actual)
