"""95% bootstrap intervals for every per-sample report cell, read from the store alone.

Each (task, model, solver) gets an interval for its success rate and for each per-sample
metric in both views (SArena: every sample with a value; successful samples only). When any
sample was run for more than one epoch, resampling is by sample id (cluster bootstrap).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from svgarena.harness._stats import Interval, bootstrap_mean
from svgarena.harness._store import RunStore
from svgarena.outcome import Outcome

Group = tuple[str, str, str]


def _clusters(sample_ids: list[str], epochs: list[int]) -> list[str] | None:
    """Sample ids as cluster keys when epochs > 1 (the epochs of a sample move together), else None."""
    return sample_ids if len(set(epochs)) > 1 or len(set(sample_ids)) < len(sample_ids) else None


def _interval(rows: list[tuple[str, int, float]], n_boot: int, seed: int) -> Interval:
    rows = sorted(rows, key=lambda r: (r[0], r[1]))  # store order is completion order: intervals must not depend on it
    ids = [r[0] for r in rows]
    return bootstrap_mean([r[2] for r in rows], n_boot=n_boot, seed=seed,
                          clusters=_clusters(ids, [r[1] for r in rows]))


def cell_intervals(store: RunStore, *, n_boot: int = 1000, seed: int = 0) -> dict[Group, dict[str, Any]]:
    """``{group: {"success_rate": Interval, "metrics": {metric: {"sarena": Interval, "ok_only": Interval}}}}``."""
    success: dict[Group, list[tuple[str, int, float]]] = defaultdict(list)
    for t in store.trajectories():
        success[(t["task"], t["model"], t["solver"])].append(
            (t["sample_id"], t["epoch"], 100.0 if t["outcome"] == Outcome.OK.value else 0.0))
    sarena: dict[Group, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    ok_only: dict[Group, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for s in store.scores():
        if s["value"] is None:
            continue
        g = (s["task"], s["model"], s["solver"])
        row = (s["sample_id"], s["epoch"], float(s["value"]))
        sarena[g][s["metric"]].append(row)
        if s["ok"]:
            ok_only[g][s["metric"]].append(row)
    out: dict[Group, dict[str, Any]] = {}
    for g in set(success) | set(sarena):
        metrics = {m: {"sarena": _interval(sarena[g][m], n_boot, seed),
                       "ok_only": _interval(ok_only[g].get(m, []), n_boot, seed)}
                   for m in sarena[g]}
        out[g] = {"success_rate": _interval(success.get(g, []), n_boot, seed), "metrics": metrics}
    return out


def attach_intervals(store: RunStore, results: list[dict[str, Any]], *, n_boot: int, seed: int) -> None:
    """Add ``ci`` (lo/hi/n per view) to each per-sample metric and ``success_rate_ci`` to each group;
    mark set-level metrics (FID, FID-C, FVD) as point estimates."""
    cis = cell_intervals(store, n_boot=n_boot, seed=seed)
    for entry in results:
        ci = cis.get((entry["task"], entry["model"], entry["solver"]), {})
        sr = ci.get("success_rate")
        entry["success_rate_ci"] = sr.as_dict() if sr else None
        for name, cell in entry["metrics"].items():
            if cell.get("set_level"):
                cell["point_estimate"] = True
                continue
            views = ci.get("metrics", {}).get(name)
            cell["ci"] = {v: views[v].as_dict() for v in ("sarena", "ok_only")} if views else None


def fmt_interval(fmt: str, ci: dict[str, Any] | None) -> str:
    """`` [lo, hi]`` in the metric's format, or empty when there is no interval."""
    if not ci or ci.get("lo") is None:
        return ""
    return f" [{fmt.format(ci['lo'])}, {fmt.format(ci['hi'])}]"
