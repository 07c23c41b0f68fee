"""95% bootstrap intervals for every per-sample report cell, read from the store alone.

Each (task, model, solver) gets an interval for its success rate and for each per-sample
metric in both views (SArena: every sample with a value; successful samples only). When any
sample was run for more than one epoch, resampling is by sample id (cluster bootstrap). Rows are
sorted by (sample id, epoch) before resample weights are drawn, so the order the store holds them
in (completion order) never changes an interval.
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


def sort_rows(rows: list[tuple[str, int, float]]) -> list[tuple[str, int, float]]:
    """``(sample_id, epoch, value)`` rows in sample id, then epoch order (the order every interval resamples in)."""
    return sorted(rows, key=lambda r: (r[0], r[1]))


def _interval(rows: list[tuple[str, int, float]], n_boot: int, seed: int) -> Interval:
    rows = sort_rows(rows)  # store order is completion order: intervals must not depend on it
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
        cells = {("success_rate", ""): success.get(g, [])}
        for m in sarena[g]:
            cells[(m, "sarena")] = sarena[g][m]
            cells[(m, "ok_only")] = ok_only[g].get(m, [])
        ci = _batched(cells, n_boot, seed)
        metrics = {m: {"sarena": ci[(m, "sarena")], "ok_only": ci[(m, "ok_only")]} for m in sarena[g]}
        out[g] = {"success_rate": ci[("success_rate", "")], "metrics": metrics}
    return out


def _batched(cells: dict[tuple[str, str], list[tuple[str, int, float]]], n_boot: int,
             seed: int) -> dict[tuple[str, str], Interval]:
    """``_interval`` of every cell, resampling once per distinct set of samples (usually one or two per group):
    the cells over the same samples share one weight matrix and one matrix product (``_boot``), which gives
    the same intervals as one ``bootstrap_mean`` per cell."""
    import numpy as np

    from svgarena.harness._boot import column_intervals, resample_weights

    # rows sorted by (sample id, epoch) before any weights are drawn: the store's order is completion
    # order (and a merged run's is plan order), and no interval may depend on it
    cells = {name: sort_rows(rows) for name, rows in cells.items()}
    by_keys: dict[tuple, list[tuple[str, str]]] = {}
    for name, rows in cells.items():
        by_keys.setdefault(tuple((r[0], r[1]) for r in rows), []).append(name)
    out: dict[tuple[str, str], Interval] = {}
    for keys, names in by_keys.items():
        if len(keys) < 2 or n_boot < 1:
            for name in names:
                out[name] = _interval(cells[name], n_boot, seed)
            continue
        ids = [k[0] for k in keys]
        clusters = _clusters(ids, [k[1] for k in keys])
        weights = resample_weights(len(keys), n_boot=n_boot, seed=seed, clusters=clusters)
        if weights is None:  # fewer than two clusters: no interval, as bootstrap_mean says
            for name in names:
                out[name] = _interval(cells[name], n_boot, seed)
            continue
        values = np.array([[r[2] for r in cells[name]] for name in names], dtype=float).T
        for name, ci in zip(names, column_intervals(values, weights=weights)):
            out[name] = ci
    return out


def subject_intervals(subjects: dict[str, list[tuple[str, int, float]]], *, n_boot: int,
                      seed: int) -> dict[str, dict[str, Any]]:
    """Understanding accuracy per subject (``{subject: [(sample_id, epoch, value)]}``): ``{subject: {mean, lo,
    hi, n}}``, each the same seeded bootstrap as every other cell (sorted by sample, clustered when epochs > 1)."""
    return {s: _interval(rows, n_boot, seed).as_dict() for s, rows in subjects.items()}


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
