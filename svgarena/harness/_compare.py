"""``svgarena compare``: (task, model, solver) groups side by side on the samples they share.

Within a task, the baseline is the group ``baseline`` names (its label as compare prints it,
``[RUN:]MODEL[ [ARM]]``: an exact label, else a substring matching one group of the task), by
default the first group (first run given, then model and solver order); every other group is
paired with it on shared ``(sample_id, epoch)`` keys. Per
metric: the paired mean delta (other - baseline) with a paired bootstrap interval, a paired
test (exact McNemar for success and accuracy, Wilcoxon signed-rank for continuous metrics),
Holm correction across the metrics of that pair, and a verdict at ``alpha``. Metric values
are the SArena view (failed samples scored against black), as the headline report uses.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from svgarena.harness._budget import BUDGET_TOLERANCE, match, spent
from svgarena.harness._rounds import arm_of
from svgarena.harness._stats import holm, mcnemar_exact, paired_bootstrap, wilcoxon_test
from svgarena.harness._store import ROUND_MODEL_CALLS_SQL, RunStore
from svgarena.outcome import Outcome

#: Metrics where a smaller value is the better one.
LOWER_IS_BETTER = frozenset({"lpips", "lpips_video", "fid", "fid_c", "fvd", "token_length"})
#: Metrics whose per-sample values are right/wrong: tested with exact McNemar.
BINARY = frozenset({"success", "accuracy"})

Key = tuple[str, int]


def _load(path: Path, label: str) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Per group: ``{"run": label, "samples": {key: {metric: value}}}``; success is a 0/100 metric."""
    store = RunStore.open_existing(path, readonly=True)
    try:
        groups: dict[tuple[str, str, str], dict[str, Any]] = {}
        for t in store.trajectories():
            g = groups.setdefault((t["task"], t["model"], t["solver"]),
                                  {"run": label, "samples": defaultdict(dict), "spent": defaultdict(dict),
                                   "arm": arm_of(t["solver"], t["arm"])[0]})
            if json.loads(t["arm"] or "{}").get("oracle"):  # an oracle arm: labelled wherever it is compared
                g["oracle"] = True
            g["samples"][(t["sample_id"], t["epoch"])]["success"] = 100.0 if t["outcome"] == Outcome.OK.value else 0.0
            g.setdefault("subjects", {})[(t["sample_id"], t["epoch"])] = t["subject"] or "unknown"
        for r in store.db.execute(
                "SELECT t.task, t.model, t.solver, t.sample_id, t.epoch, r.metric, r.value FROM round_scores r "
                "JOIN trajectories t ON t.id = r.trajectory_id WHERE t.status='done' AND r.round = 0"):
            g = groups.get((r[0], r[1], r[2]))
            if g is not None and r[6] is not None:
                g.setdefault("first", defaultdict(dict))[(r[3], r[4])][r[5]] = float(r[6])
        for a in store.db.execute(
                f"SELECT t.task, t.model, t.solver, t.sample_id, t.epoch, SUM({ROUND_MODEL_CALLS_SQL}), "
                "SUM(COALESCE(a.input_tokens, 0) + COALESCE(a.output_tokens, 0)) FROM attempts a JOIN trajectories t "
                "ON t.id = a.trajectory_id WHERE t.status='done' GROUP BY t.id"):
            g = groups.get((a[0], a[1], a[2]))
            if g is not None:
                g["spent"][(a[3], a[4])] = {"calls": a[5], "tokens": a[6] or 0}
        for s in store.scores():
            g = groups.get((s["task"], s["model"], s["solver"]))
            if g is not None and s["value"] is not None:
                g["samples"][(s["sample_id"], s["epoch"])][s["metric"]] = float(s["value"])
        return groups
    finally:
        store.close()


def _verdict(metric: str, delta: float | None, p: float | None, alpha: float) -> str:
    if p is None or delta is None or p >= alpha or delta == 0:
        return "no significant difference"
    better = delta < 0 if metric in LOWER_IS_BETTER else delta > 0
    return "better" if better else "worse"


def _pair(base: dict[str, Any], other: dict[str, Any], *, n_boot: int, seed: int, alpha: float,
          tolerance: float = BUDGET_TOLERANCE) -> dict[str, Any]:
    bk, ok = set(base["samples"]), set(other["samples"])
    shared = sorted(bk & ok)
    metrics = sorted({m for k in shared for m in base["samples"][k]} & {m for k in shared for m in other["samples"][k]},
                     key=lambda m: (m != "success", m))
    epochs_gt1 = len({e for _, e in shared}) > 1
    rows = []
    for m in metrics:
        keys = [k for k in shared if m in base["samples"][k] and m in other["samples"][k]]
        a = [base["samples"][k][m] for k in keys]
        b = [other["samples"][k][m] for k in keys]
        ci = paired_bootstrap(a, b, n_boot=n_boot, seed=seed, clusters=[k[0] for k in keys] if epochs_gt1 else None)
        if m in BINARY:
            a_only, b_only, p = mcnemar_exact([x > 0 for x in a], [y > 0 for y in b])
            test, stat = "mcnemar", {"baseline_only": a_only, "other_only": b_only}
        else:
            w, p = wilcoxon_test(a, b)
            test, stat = "wilcoxon", {"statistic": w}
        rows.append({"metric": m, "n": len(keys), "baseline": sum(a) / len(a) if a else None,
                     "other": sum(b) / len(b) if b else None, "delta": ci.mean, "lo": ci.lo, "hi": ci.hi,
                     "test": test, **stat, "p": p})
    for row, p_holm in zip(rows, holm([r["p"] for r in rows])):
        row["p_holm"] = p_holm
        row["verdict"] = _verdict(row["metric"], row["delta"], p_holm, alpha)
    b_spent, o_spent = spent(base.get("spent", {}), shared), spent(other.get("spent", {}), shared)
    budget = {"baseline": b_spent, "other": o_spent, "match": match(b_spent, o_spent, tolerance)}
    return {"shared": len(shared), "dropped_baseline": len(bk - ok), "dropped_other": len(ok - bk), "metrics": rows,
            "budget": budget}


def _strata(base: dict[str, Any], other: dict[str, Any], by: str) -> dict[str, list[Key]]:
    """Shared keys per stratum: the baseline's subject, or the quintile of the baseline's round-0 score."""
    shared = sorted(set(base["samples"]) & set(other["samples"]))
    out: dict[str, list[Key]] = defaultdict(list)
    if by == "subject":
        for k in shared:
            out[base.get("subjects", {}).get(k, "unknown")].append(k)
        return dict(out)
    first = base.get("first", {})
    names = {m for k in shared for m in first.get(k, {})}
    metric = next((m for m in ("ssim", "ssim_video") if m in names), min(names) if names else None)
    have = [k for k in shared if metric is not None and metric in first.get(k, {})]
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    have.sort(key=lambda k: sign * first[k][metric])  # stable: ties keep sample order; Q1 = the worst starters
    for rank, k in enumerate(have):
        out[f"Q{rank * 5 // len(have) + 1} ({metric})"].append(k)
    missing = [k for k in shared if k not in set(have)]
    if missing:
        out["no round-0 value"] = missing
    return dict(out)


def _subset(g: dict[str, Any], keys: list[Key]) -> dict[str, Any]:
    return {**g, "samples": {k: g["samples"][k] for k in keys},
            "spent": {k: g.get("spent", {})[k] for k in keys if k in g.get("spent", {})}}


COMPARE_BY = ("task", "subject", "first-round-quintile")


def _label(run: str, key: tuple[str, str, str], g: dict[str, Any]) -> str:
    """A group's label as the compare table prints it: ``[RUN:]MODEL[ [ARM]][ ORACLE]``."""
    return _name({"run": run, "model": key[1], "solver": key[2], "arm": g.get("arm"), "oracle": bool(g.get("oracle"))})


def _baseline_index(task: str, members: list, baseline: str) -> int | None:
    """Which of a task's groups ``--baseline`` names: the one whose label equals it, else the one label
    holding it; None when none does; a ValueError when it is ambiguous."""
    labels = [_label(run, key, g) for run, key, g in members]
    exact = [i for i, lab in enumerate(labels) if lab == baseline]
    hits = exact or [i for i, lab in enumerate(labels) if baseline in lab]
    if len(hits) > 1:
        raise ValueError(f"--baseline {baseline!r} matches {len(hits)} groups of {task} "
                         f"({', '.join(labels[i] for i in hits)}); give one whole label")
    return hits[0] if hits else None


def compare_runs(paths: list[Path], *, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05,
                 budget_tolerance: float = BUDGET_TOLERANCE, by: str | None = None,
                 baseline: str | None = None) -> dict[str, Any]:
    """Paired comparisons of every group against its task's baseline group, over one or more run stores,
    with each arm's calls and tokens on the shared samples and whether they match within ``budget_tolerance``.

    ``baseline`` names the baseline group by its label (see the module docstring); tasks where no group
    matches it are not compared (``baseline_missing_tasks``); matching no group of any task is a ValueError."""
    if not 0 < alpha < 1:
        raise ValueError(f"--alpha must be between 0 and 1, got {alpha}")
    if budget_tolerance < 0:
        raise ValueError(f"--budget-tolerance must be 0 or more, got {budget_tolerance}")
    if by is not None and by not in COMPARE_BY:
        raise ValueError(f"unknown --by {by!r}; use {', '.join(COMPARE_BY)}")
    if baseline is not None and not baseline.strip():
        raise ValueError("--baseline is empty; give a group label as compare prints it, e.g. MODEL or RUN:MODEL")
    groups: list[tuple[str, tuple[str, str, str], dict[str, Any]]] = []
    for i, path in enumerate(paths):
        label = path.parent.name if len(paths) > 1 else ""
        if len(paths) > 1 and label in {g[0] for g in groups}:
            label = f"{label}#{i + 1}"
        for gkey, g in sorted(_load(path, label).items()):
            groups.append((label, gkey, g))
    by_task: dict[str, list] = defaultdict(list)
    for label, gkey, g in groups:
        by_task[gkey[0]].append((label, gkey, g))
    picks = {task: 0 if baseline is None else _baseline_index(task, members, baseline)
             for task, members in by_task.items()}
    if baseline is not None and all(i is None for i in picks.values()):
        labels = sorted({_label(*m) for members in by_task.values() for m in members})
        raise ValueError(f"--baseline {baseline!r} matches no group; the groups are: {', '.join(labels)}")
    comparisons = []
    for task, members in by_task.items():
        i = picks[task]
        if i is None:  # --baseline names no group of this task: nothing to pair against
            continue
        (blabel, bkey, base), others = members[i], members[:i] + members[i + 1:]
        for olabel, okey, other in others:
            comparisons.append({
                "task": task,
                "baseline": {"run": blabel, "model": bkey[1], "solver": bkey[2], "arm": base.get("arm"), "oracle": bool(base.get("oracle"))},
                "other": {"run": olabel, "model": okey[1], "solver": okey[2], "arm": other.get("arm"), "oracle": bool(other.get("oracle"))},
                **_pair(base, other, n_boot=n_boot, seed=seed, alpha=alpha, tolerance=budget_tolerance),
            })
            if by in ("subject", "first-round-quintile"):  # by task is the comparisons themselves
                comparisons[-1]["strata"] = [
                    {"stratum": name, **_pair(_subset(base, keys), _subset(other, keys), n_boot=n_boot, seed=seed,
                                              alpha=alpha, tolerance=budget_tolerance)}
                    for name, keys in sorted(_strata(base, other, by).items())]
    lonely = [t for t, m in by_task.items() if len(m) < 2 and picks[t] is not None]
    return {"alpha": alpha, "bootstrap": n_boot, "seed": seed, "budget_tolerance": budget_tolerance, "by": by,
            "baseline": baseline, "comparisons": comparisons,
            "single_group_tasks": lonely, "baseline_missing_tasks": [t for t, i in picks.items() if i is None]}


def _name(side: dict[str, Any]) -> str:
    arm = side.get("arm") or side["solver"]
    name = side["model"] if side["solver"] == "direct" and arm == "direct" else f"{side['model']} [{arm}]"
    if side.get("oracle"):
        name += " ORACLE"
    return f"{side['run']}:{name}" if side["run"] else name


def compare_table(result: dict[str, Any]) -> Any:
    """One rich table: a row per (pair, metric)."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"paired comparisons (alpha {result['alpha']}, Holm across metrics, "
                        f"{result['bootstrap']} bootstrap resamples)", title_justify="left", header_style="bold")
    for col in ("task", "baseline", "vs", "shared", "dropped", "metric", "n", "baseline mean", "other mean",
                "delta [95% CI]", "test", "p (Holm)", "verdict"):
        table.add_column(col, justify="left" if col in ("task", "baseline", "vs", "metric", "test", "verdict")
                         else "right")

    def f(x: float | None) -> str:
        return "-" if x is None else f"{x:.3f}"

    for c in result["comparisons"]:
        for i, r in enumerate(c["metrics"]):
            first = i == 0
            ci = f" [{f(r['lo'])}, {f(r['hi'])}]" if r["lo"] is not None else ""
            table.add_row(c["task"] if first else "", escape(_name(c["baseline"])) if first else "",
                          escape(_name(c["other"])) if first else "", str(c["shared"]) if first else "",
                          f"{c['dropped_baseline']}/{c['dropped_other']}" if first else "",
                          r["metric"], str(r["n"]), f(r["baseline"]), f(r["other"]), f(r["delta"]) + ci,
                          r["test"], f"{f(r['p'])} ({f(r['p_holm'])})", r["verdict"])
    table.caption = ("delta = vs - baseline on shared (sample, epoch) keys, SArena view; dropped = keys only "
                     "the baseline / only the other has; success and accuracy: exact McNemar, others: Wilcoxon; "
                     f"lower is better for {', '.join(sorted(LOWER_IS_BETTER))}")
    return table


def strata_table(result: dict[str, Any]) -> Any:
    """The comparisons within each stratum of ``--by`` (subject or first-round quintile), as one table."""
    rows = [{**c, **s, "task": f"{c['task']} | {s['stratum']}"} for c in result["comparisons"]
            for s in c.get("strata", [])]
    table = compare_table({**result, "comparisons": rows})
    table.title = f"paired comparisons by {result['by']} (Holm across the metrics of each stratum)"
    return table
