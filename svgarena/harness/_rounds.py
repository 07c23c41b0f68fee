"""Self-correction analytics (``svgarena report RUN --rounds``), read from the store alone.

Per (task, model, arm): each round's success rate and metrics with 95% bootstrap intervals;
the round-to-round transitions (fixed: fail -> ok, broken: ok -> fail; improved / worsened /
unchanged by more than a per-metric epsilon); no-op rounds (same SVG hash as the round before);
SVG length; tokens, cost and latency per round; stop reasons; and the ``last``, ``best-model``
and ``best-oracle`` selections side by side, all recomputed from ``round_scores``.

Carry-forward rule: a trajectory that stopped before round r (done marker, identical SVG, model
error) keeps its last round's answer at r, so every round's mean is over the same trajectories.
Transitions, no-ops, usage and SVG length count only the trajectories that ran round r
(``active``): a stopped trajectory neither changes nor spends.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

from svgarena.harness._store import ROUND_MODEL_CALLS_SQL, RunStore

#: Noise floor per metric: a round-to-round change smaller than this counts as unchanged.
#: SSIM/LPIPS/DINO are on 0-1 scales; PSNR in dB; CLIP and ViCLIP scores are 100 x cosine,
#: so 0.5 there is the 0.005 of a cosine; accuracy and token length: any change counts.
DEFAULT_EPSILON: dict[str, float] = {
    "ssim": 0.005, "ssim_video": 0.005, "lpips": 0.005, "lpips_video": 0.005, "dino": 0.005,
    "dino_video": 0.005, "psnr": 0.5, "psnr_video": 0.5, "clip_t2i": 0.5, "clip_i2i": 0.5,
    "viclip_t2v": 0.5, "viclip_v2v": 0.5, "accuracy": 0.0, "token_length": 0.0,
}
LOWER_IS_BETTER = frozenset({"lpips", "lpips_video", "fid", "fid_c", "fvd", "token_length"})
BY_CHOICES = ("first-round-quintile", "subject", "task")
CARRY_NOTE = ("rounds after a trajectory stopped carry its last answer forward (n active = trajectories "
              "that ran the round; transitions, no-ops, usage and SVG length count active ones only)")


def parse_epsilon(items: list[str] | None) -> dict[str, float]:
    """``["ssim=0.01", ...]`` -> the defaults with those overrides; a bad item is a ValueError."""
    eps = dict(DEFAULT_EPSILON)
    for item in items or []:
        name, sep, value = item.partition("=")
        try:
            if not sep or not name.strip():
                raise ValueError
            eps[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"--epsilon {item!r}: expected metric=value, e.g. ssim=0.01") from None
        if eps[name.strip()] < 0:
            raise ValueError(f"--epsilon {item!r}: epsilon must be 0 or more")
    return eps


@lru_cache(maxsize=1024)
def arm_of(solver: str, arm_json: str | None) -> tuple[str, bool, dict[str, Any]]:
    """``(label, oracle, arm)``: a short arm label such as ``refine render x3``; oracle arms say so."""
    try:
        arm = json.loads(arm_json) if isinstance(arm_json, str) and arm_json else {}
    except ValueError:
        arm = {}
    arm = arm if isinstance(arm, dict) else {}
    feedback = arm.get("feedback")
    oracle = bool(arm.get("oracle")) or feedback == "oracle"
    parts = [str(arm.get("solver") or solver)]
    if feedback and parts[0] != "resample":
        parts.append(str(feedback))
    if arm.get("rounds") is not None and parts[0] != "direct":
        parts.append(f"x{arm['rounds']}")
    if arm.get("samples") is not None:
        parts.append(f"x{arm['samples']}")
    label = " ".join(parts) + (" [oracle]" if oracle else "")
    return label, oracle, arm


def _frames(store: RunStore) -> tuple[Any, Any, Any]:
    import pandas as pd

    db = store.db
    # rows in (sample id, epoch) order, as every report interval resamples them: never the store's order
    # (completion order), so the same rows stored in any order give the same intervals
    traj = pd.read_sql_query(
        "SELECT id, task, model, solver, sample_id, epoch, subject, stop_reason, selection, selected_round, arm "
        "FROM trajectories WHERE status='done' ORDER BY sample_id, epoch, id", db)
    att = pd.read_sql_query(
        "SELECT a.trajectory_id, a.round, a.outcome, a.answer, a.input_tokens, a.output_tokens, a.cost_usd, "
        f"a.latency_s, a.svg_hash, a.model_chose, {ROUND_MODEL_CALLS_SQL} AS model_calls "  # tools: several per round
        "FROM attempts a JOIN trajectories t ON t.id = a.trajectory_id "
        "WHERE t.status='done'", db)
    rs = pd.read_sql_query(
        "SELECT r.trajectory_id, r.round, r.metric, r.value, r.ok FROM round_scores r "
        "JOIN trajectories t ON t.id = r.trajectory_id WHERE t.status='done'", db)
    return traj, att, rs


def _svg_sizes(names: Any, root: Path) -> Any:
    """Bytes of each stored SVG artifact (NaN for a choice letter, a missing answer or a missing file)."""
    import numpy as np

    cache: dict[str, float] = {}
    out = np.full(len(names), np.nan)
    for k, name in enumerate(names):
        if not isinstance(name, str) or not name.endswith(".svg"):
            continue
        if name not in cache:
            try:
                cache[name] = float((root / name[:2] / name).stat().st_size)
            except OSError:
                cache[name] = math.nan
        out[k] = cache[name]
    return out


class _Matrices:
    """Every done trajectory as a row and every round as a column, for each per-round quantity."""

    def __init__(self, store: RunStore) -> None:
        import numpy as np

        traj, att, rs = _frames(store)
        self.traj = traj
        n = len(traj)
        pos = {int(t): i for i, t in enumerate(traj["id"])}
        ai = att["trajectory_id"].map(pos).to_numpy(dtype=np.int64)
        ar = att["round"].to_numpy(dtype=np.int64)
        self.R = int(ar.max()) + 1 if len(ar) else 1
        R = self.R
        self.last = np.zeros(n, dtype=np.int64)
        np.maximum.at(self.last, ai, ar)
        self.ran = np.zeros((n, R), dtype=bool)
        self.ran[ai, ar] = True

        def mat(values: Any, dtype: Any = np.float64, fill: Any = np.nan) -> Any:
            m = np.full((n, R), fill, dtype=dtype)
            m[ai, ar] = values
            return m

        self.success = mat(np.where(att["outcome"].to_numpy() == "ok", 100.0, 0.0))
        self.chose = mat(att["model_chose"].fillna(0).to_numpy(dtype=np.float64), fill=0.0)
        self.calls = mat(att["model_calls"].fillna(1).to_numpy(dtype=np.float64), fill=0.0)
        self.hash = mat(att["svg_hash"].to_numpy(dtype=object), dtype=object, fill=None)
        self.usage = {k: mat(att[k].to_numpy(dtype=np.float64))
                      for k in ("input_tokens", "output_tokens", "cost_usd", "latency_s")}
        self.usage["svg_bytes"] = mat(_svg_sizes(att["answer"].tolist(), Path(store.path).parent / "artifacts"))
        self.metrics: dict[str, Any] = {}
        self.metric_ok: dict[str, Any] = {}
        ri = rs["trajectory_id"].map(pos).to_numpy(dtype=np.int64)
        rr = rs["round"].to_numpy(dtype=np.int64)
        keep = rr < R
        for metric, idx in rs[keep].groupby("metric").indices.items():
            v = np.full((n, R), np.nan)
            ok = np.zeros((n, R), dtype=bool)
            rows, cols = ri[keep][idx], rr[keep][idx]
            v[rows, cols] = rs["value"].to_numpy(dtype=np.float64)[keep][idx]
            ok[rows, cols] = rs["ok"].to_numpy()[keep][idx].astype(bool)
            self.metrics[str(metric)] = v
            self.metric_ok[str(metric)] = ok

    def carried(self, m: Any, rows: Any, R: int) -> Any:
        """``m[rows, :R]`` with each row's last round carried forward into the rounds after it."""
        import numpy as np

        sub = m[rows, :R]
        last = np.minimum(self.last[rows], R - 1)
        active = np.arange(R)[None, :] <= last[:, None]
        return np.where(active, sub, sub[np.arange(len(rows)), last][:, None])


def _metric_order(task: str, names: list[str]) -> list[str]:
    from svgarena.tasks import TASKS

    spec = TASKS.get(task)
    order = list(spec.metrics) if spec else []
    return [m for m in order if m in names] + sorted(m for m in names if m not in order)


def _oracle_metric(metrics: list[str]) -> str | None:
    for preferred in ("ssim", "ssim_video"):
        if preferred in metrics:
            return preferred
    return metrics[0] if metrics else None


def _clusters(traj: Any, rows: Any) -> list[str] | None:
    ids = traj["sample_id"].to_numpy()[rows]
    epochs = traj["epoch"].to_numpy()[rows]
    return list(ids) if len(set(epochs)) > 1 or len(set(ids)) < len(ids) else None


def _selected_rounds(mx: _Matrices, rows: Any, R: int, oracle_metric: str | None) -> dict[str, Any]:
    """Per row, the round each selection names: last; best-model (last chosen, else last); best-oracle."""
    import numpy as np

    last = np.minimum(mx.last[rows], R - 1)
    in_traj = np.arange(R)[None, :] <= last[:, None]
    chose = (mx.chose[rows, :R] > 0) & in_traj
    has = chose.any(axis=1)
    last_chosen = R - 1 - np.argmax(chose[:, ::-1], axis=1)
    best_model = np.where(has, last_chosen, last)
    if oracle_metric is None:
        best_oracle = last
    else:
        sign = -1.0 if oracle_metric in LOWER_IS_BETTER else 1.0
        v = sign * mx.metrics[oracle_metric][rows, :R]
        usable = in_traj & mx.ran[rows, :R] & mx.metric_ok[oracle_metric][rows, :R] & ~np.isnan(v)
        score = np.where(usable, v, -np.inf)
        best_oracle = np.argmax(score, axis=1)  # first maximum: ties go to the earlier round
    return {"last": last, "best-model": best_model, "best-oracle": best_oracle}


def _group_report(mx: _Matrices, key: tuple, rows: Any, *, eps: dict[str, float], n_boot: int, seed: int,
                  set_rows: dict) -> dict[str, Any]:
    import numpy as np

    from svgarena.harness._boot import column_intervals, resample_weights

    task, model, solver, label = key
    traj = mx.traj
    R = int(min(mx.last[rows].max(), mx.R - 1)) + 1
    metrics = _metric_order(task, [m for m, v in mx.metrics.items() if not np.all(np.isnan(v[rows, :R]))])
    n = len(rows)
    active = mx.ran[rows, :R]
    S = mx.carried(mx.success, rows, R)
    V = {m: mx.carried(mx.metrics[m], rows, R) for m in metrics}
    oracle_metric = _oracle_metric(metrics)
    sel = _selected_rounds(mx, rows, R, oracle_metric)
    ar = np.arange(n)
    cols = [S[:, r] for r in range(R)] + [V[m][:, r] for m in metrics for r in range(R)]
    for s in ("last", "best-model", "best-oracle"):
        cols.append(mx.success[rows, sel[s]])
        cols.extend(mx.metrics[m][rows, sel[s]] for m in metrics)
    weights = resample_weights(n, n_boot=n_boot, seed=seed, clusters=_clusters(traj, rows))
    cis = [c.as_dict() for c in column_intervals(np.column_stack(cols), weights=weights)]
    it = iter(cis)
    sr_ci = [next(it) for _ in range(R)]
    m_ci = {m: [next(it) for _ in range(R)] for m in metrics}
    selections = {}
    used = Counter(traj["selection"].to_numpy()[rows])
    for s in ("last", "best-model", "best-oracle"):
        selections[s] = {"success_rate": next(it), "metrics": {m: next(it) for m in metrics},
                         "mean_round": float(sel[s].mean()) if n else None, "oracle": s == "best-oracle",
                         "used_by_run": int(used.get(s, 0))}

    per_round = []
    for r in range(R):
        act = active[:, r]
        entry: dict[str, Any] = {"round": r, "n": n, "n_active": int(act.sum()), "success_rate": sr_ci[r],
                                 "metrics": {m: m_ci[m][r] for m in metrics}}
        usage = {}
        for k, u in mx.usage.items():
            vals = u[rows, r][act]
            vals = vals[~np.isnan(vals)]
            usage[k] = float(vals.mean()) if len(vals) else None
            if k != "svg_bytes":
                usage[f"{k}_total"] = float(vals.sum()) if len(vals) else 0.0
        usage["calls"] = int(mx.calls[rows, r][act].sum())  # model calls, not rounds: a tools round may hold several
        entry["usage"] = usage
        if r > 0:
            both = act & active[:, r - 1]
            prev, cur = S[:, r - 1], S[:, r]
            entry["transition"] = {
                "from": r - 1, "n": int(both.sum()),
                "fixed": int(np.sum(both & (prev == 0) & (cur == 100))),
                "broken": int(np.sum(both & (prev == 100) & (cur == 0))),
                "no_op": int(sum(1 for i in np.flatnonzero(both)
                                 if mx.hash[rows[i], r] is not None and mx.hash[rows[i], r] == mx.hash[rows[i], r - 1])),
                "quality": {},
            }
            for m in metrics:
                a, b = V[m][:, r - 1], V[m][:, r]
                ok = both & ~np.isnan(a) & ~np.isnan(b)
                d = (b - a) * (-1.0 if m in LOWER_IS_BETTER else 1.0)
                e = eps.get(m, 0.0)
                entry["transition"]["quality"][m] = {
                    "n": int(ok.sum()), "epsilon": e, "improved": int(np.sum(ok & (d > e))),
                    "worsened": int(np.sum(ok & (d < -e))), "unchanged": int(np.sum(ok & (np.abs(d) <= e)))}
        sets = set_rows.get((task, model, solver, r))
        if sets:
            entry["set_metrics"] = sets
        per_round.append(entry)
    labels = traj["arm"].to_numpy()[rows]
    _, oracle, arm = arm_of(solver, labels[0] if len(labels) else None)
    stops = Counter(str(s or "") for s in traj["stop_reason"].to_numpy()[rows])
    return {"task": task, "model": model, "solver": solver, "arm": label, "arm_config": dict(arm), "oracle": oracle,
            "n": n, "rounds": R, "metrics": metrics, "oracle_metric": oracle_metric, "per_round": per_round,
            "stop_reasons": dict(sorted(stops.items(), key=lambda kv: (-kv[1], kv[0]))),
            "selections": selections, "_rows": rows, "_V": V, "_S": S}


def _strata(mx: _Matrices, g: dict[str, Any], by: str, *, n_boot: int, seed: int) -> list[dict[str, Any]]:
    """Per stratum of a group: round-0 and final (carried) primary metric, the gain with its interval, fixes."""
    import numpy as np

    from svgarena.harness._boot import column_intervals, resample_weights

    rows, R, metric = g["_rows"], g["rounds"], g["oracle_metric"]
    traj = mx.traj
    if by == "subject":
        labels = np.array([s if isinstance(s, str) and s else "unknown" for s in traj["subject"].to_numpy()[rows]],
                          dtype=object)
    elif by == "task":
        labels = np.array([g["task"]] * len(rows), dtype=object)
    else:
        labels = np.full(len(rows), "no round-0 value", dtype=object)
        if metric is not None:
            first = g["_V"][metric][:, 0]
            have = np.flatnonzero(~np.isnan(first))
            sign = -1.0 if metric in LOWER_IS_BETTER else 1.0  # Q1 = the worst starters
            order = have[np.argsort(sign * first[have], kind="stable")]
            for rank, i in enumerate(order):
                labels[i] = f"Q{rank * 5 // len(order) + 1}"
    out = []
    for stratum in sorted(set(labels)):
        idx = np.flatnonzero(labels == stratum)
        S = g["_S"][idx]
        cols = [S[:, 0], S[:, R - 1]]
        if metric is not None:
            v = g["_V"][metric][idx]
            cols += [v[:, 0], v[:, R - 1], v[:, R - 1] - v[:, 0]]
        w = resample_weights(len(idx), n_boot=n_boot, seed=seed, clusters=_clusters(traj, rows[idx]))
        cis = [c.as_dict() for c in column_intervals(np.column_stack(cols), weights=w)]
        fixed = sum(int(np.sum((S[:, r - 1] == 0) & (S[:, r] == 100))) for r in range(1, R))
        broken = sum(int(np.sum((S[:, r - 1] == 100) & (S[:, r] == 0))) for r in range(1, R))
        entry = {"task": g["task"], "model": g["model"], "solver": g["solver"], "arm": g["arm"], "oracle": g["oracle"],
                 "by": by, "stratum": str(stratum), "n": int(len(idx)), "metric": metric,
                 "success_first": cis[0], "success_final": cis[1], "fixed": fixed, "broken": broken}
        if metric is not None:
            entry.update(first=cis[2], final=cis[3], gain=cis[4])
        out.append(entry)
    return out


def rounds_report(store: RunStore, *, n_boot: int = 1000, seed: int = 0, epsilon: dict[str, float] | None = None,
                  by: str | None = None) -> dict[str, Any]:
    """The ``--rounds`` analytics of a run: one entry per (task, model, solver, arm), plus strata with ``by``."""
    import numpy as np

    if by is not None and by not in BY_CHOICES:
        raise ValueError(f"unknown --by {by!r}; use {', '.join(BY_CHOICES)}")
    eps = dict(DEFAULT_EPSILON) if epsilon is None else epsilon
    mx = _Matrices(store)
    traj = mx.traj
    labels = [arm_of(s, a)[0] for s, a in zip(traj["solver"], traj["arm"])]
    traj = traj.assign(arm_label=labels)
    set_rows: dict[tuple, dict[str, dict[str, Any]]] = {}
    for row in store.round_set_scores():
        k = (row["task"], row["model"], row["solver"], row["round"])
        set_rows.setdefault(k, {}).setdefault(row["metric"], {})[row["view"]] = row["value"]
    groups = []
    for key, idx in traj.groupby(["task", "model", "solver", "arm_label"], sort=True).indices.items():
        groups.append(_group_report(mx, tuple(key), np.asarray(idx), eps=eps, n_boot=n_boot, seed=seed,
                                    set_rows=set_rows))
    strata = [s for g in groups for s in _strata(mx, g, by, n_boot=n_boot, seed=seed)] if by else []
    if by == "task":
        strata.sort(key=lambda s: (s["model"], s["arm"], s["stratum"]))
    for g in groups:
        for k in ("_rows", "_V", "_S"):
            g.pop(k)
    return {"groups": groups, "epsilon": eps, "carry_forward": CARRY_NOTE, "bootstrap": n_boot, "seed": seed,
            "by": by, "strata": strata}


def load_rounds(run: str | Path, out: str | Path = "runs", *, bootstrap: int = 1000, epsilon: list[str] | None = None,
                by: str | None = None) -> dict[str, Any]:
    """``rounds_report`` of a run given its id (under ``out``), folder or run.sqlite; seeded by the run's seed."""
    from svgarena.harness._report import run_store_path

    eps = parse_epsilon(epsilon)
    store = RunStore.open_existing(run_store_path(run, out), readonly=True)
    try:
        seed = int(store.run_info()["config"].get("seed") or 0)
        return rounds_report(store, n_boot=bootstrap, seed=seed, epsilon=eps, by=by)
    finally:
        store.close()
