"""Results from the store alone: aggregation into both scoring views, tables and JSON.

The SArena view averages every sample (failed ones scored as pure-black substitutes, as the
published protocol does); the success-only view averages samples with a successful output.
Reports never recompute a score: they read what the runner (or ``svgarena score``) stored.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from svgarena.harness._failures import failure_reasons
from svgarena.harness._rounds import arm_of
from svgarena.harness._store import RunStore
from svgarena.outcome import Outcome
from svgarena.scoring import SampleScore, aggregate
from svgarena.tasks import TASKS

# Display names and how to format each metric.
METRIC_LABELS: dict[str, tuple[str, str]] = {
    "accuracy": ("Acc", "{:.1f}"),
    "dino": ("DINO", "{:.3f}"),
    "ssim": ("SSIM", "{:.3f}"),
    "lpips": ("LPIPS", "{:.3f}"),
    "psnr": ("PSNR", "{:.2f}"),
    "fid": ("FID", "{:.2f}"),
    "fid_c": ("FID-C", "{:.2f}"),
    "clip_t2i": ("CLIP-T2I", "{:.2f}"),
    "clip_i2i": ("CLIP-I2I", "{:.2f}"),
    "fvd": ("FVD", "{:.2f}"),
    "viclip_t2v": ("ViCLIP-T2V", "{:.2f}"),
    "viclip_v2v": ("ViCLIP-V2V", "{:.2f}"),
    "dino_video": ("DINO", "{:.3f}"),
    "ssim_video": ("SSIM", "{:.3f}"),
    "lpips_video": ("LPIPS", "{:.3f}"),
    "psnr_video": ("PSNR", "{:.2f}"),
    "token_length": ("Tokens", "{:.0f}"),
}


def _arm_of(row: Any) -> dict[str, Any]:
    """A trajectory row's arm (JSON), {} when absent or unreadable."""
    try:
        raw = row["arm"]
    except (IndexError, KeyError):
        return {}
    try:
        arm = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return arm if isinstance(arm, dict) else {}


def _mean(values: list[float]) -> float | None:
    vals = [v for v in values if v is not None and not math.isnan(v)]
    return sum(vals) / len(vals) if vals else None


def collect(store: RunStore, bootstrap: int = 1000) -> dict[str, Any]:
    """Machine-readable results of a run: one entry per (task, model, solver), with ``bootstrap``
    resamples (seeded by the run's seed) behind each cell's 95% interval; 0 leaves them out."""
    info = store.run_info()
    seed = int(info["config"].get("seed") or 0)
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}

    def group(task: str, model: str, solver: str) -> dict[str, Any]:
        key = (task, model, solver)
        if key not in groups:
            groups[key] = {"task": task, "model": model, "solver": solver, "n": 0, "n_ok": 0,
                           "failures": defaultdict(int), "_samples": defaultdict(dict),
                           "_subjects": defaultdict(list),
                           "usage": {"input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0,
                                     "latency_s": 0.0, "calls": 0, "retries": 0}}
        return groups[key]

    for row in store.trajectories():
        g = group(row["task"], row["model"], row["solver"])
        g.setdefault("_arm", (row["solver"], row["arm"]))
        g["n"] += 1
        arm = _arm_of(row)
        if arm.get("oracle"):  # an oracle arm (feedback, stop rule or selection peeked at the reference)
            g["oracle"] = sorted(set(g.get("oracle", [])) | set(arm.get("oracle_use") or ["oracle"]))
        if row["outcome"] == Outcome.OK.value:
            g["n_ok"] += 1
        else:
            g["failures"][row["outcome"]] += 1
    for row in store.scores():
        g = group(row["task"], row["model"], row["solver"])
        sample_key = (row["sample_id"], row["epoch"])
        g["_samples"][sample_key][row["metric"]] = SampleScore(row["value"], bool(row["ok"]), row["error"])
        if row["metric"] == "accuracy" and row["value"] is not None:
            # evaluate_un.py:33 obj.get("Subject", "unknown"): records without one count under "unknown"
            g["_subjects"][row["subject"] or "unknown"].append((row["sample_id"], row["epoch"], float(row["value"])))
    for row in store.attempts():
        g = group(row["task"], row["model"], row["solver"])
        u = g["usage"]
        u["calls"] += _model_calls(row)
        for k in ("input_tokens", "output_tokens", "retries"):
            u[k] += row[k] or 0
        u["cost_usd"] += row["cost_usd"] or 0.0
        u["latency_s"] += row["latency_s"] or 0.0

    set_scores: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = defaultdict(dict)
    for row in store.set_scores():  # fid, fid_c, fvd: one value per group and view, with sample counts
        set_scores[(row["task"], row["model"], row["solver"])].setdefault(row["metric"], {})[row["view"]] = row

    results = []
    for (task, model, solver), g in groups.items():
        spec = TASKS.get(task)
        views = aggregate([g["_samples"][k] for k in sorted(g["_samples"])])  # sample order, not the store's
        metrics: dict[str, Any] = {}
        for name in (spec.metrics if spec else sorted(views)):
            view = views.get(name, {"sarena": None, "ok_only": None, "n": 0, "n_ok": 0, "n_error": 0})
            metrics[name] = {**view, "computed": name in views}
        for name, views in set_scores.get((task, model, solver), {}).items():
            sa, ok = views.get("sarena"), views.get("ok_only")
            metrics[name] = {
                "sarena": sa["value"] if sa else None, "ok_only": ok["value"] if ok else None,
                "n": sa["n_pred"] if sa else 0, "n_ok": ok["n_pred"] if ok else 0,
                "n_ref": (sa or ok)["n_ref"], "set_level": True, "computed": True,
                "errors": sum(1 for v in (sa, ok) if v is not None and v["value"] is None),
                "error": next((v["error"] for v in (sa, ok) if v is not None and v["error"]), None),
            }
        arm_label, oracle, _ = arm_of(*g.get("_arm", (solver, None)))
        entry = {
            "task": task, "model": model, "solver": solver, "arm": arm_label, "oracle": oracle,
            "n": g["n"], "n_ok": g["n_ok"],
            "success_rate": 100.0 * g["n_ok"] / g["n"] if g["n"] else None,
            "failures": dict(g["failures"]), "metrics": metrics, "usage": g["usage"],
        }
        if g.get("oracle"):  # where the arm peeked at the reference: feedback, stop, selection
            entry["oracle"], entry["oracle_use"] = True, g["oracle"]
        if g["_subjects"]:
            subjects = sorted(g["_subjects"].items())
            entry["accuracy_by_subject"] = {s: _mean([v for _, _, v in rows]) for s, rows in subjects}
            entry["accuracy_by_subject_n"] = {s: len(rows) for s, rows in subjects}
            if bootstrap > 0:  # the same interval as every other cell: sorted by sample, clustered when epochs > 1
                from svgarena.harness._intervals import subject_intervals

                entry["accuracy_by_subject_ci"] = subject_intervals(dict(subjects), n_boot=bootstrap, seed=seed)
        results.append(entry)
    order = {t: i for i, t in enumerate(TASKS)}
    results.sort(key=lambda r: (order.get(r["task"], len(order)), r["task"], r["model"], r["solver"]))
    if bootstrap > 0:
        from svgarena.harness._intervals import attach_intervals

        attach_intervals(store, results, n_boot=bootstrap, seed=seed)
    from svgarena.harness._edit_overall import edit_overall, insert_edit_overall

    results = insert_edit_overall(results, edit_overall(store, results, n_boot=bootstrap, seed=seed))
    return {
        "run_id": info["run_id"], "status": info["status"], "config": info["config"], "meta": info["meta"],
        "tokenizer": info["meta"].get("tokenizer"), "results": results, "notes": store.notes(),
        "skipped_metrics": [e["line"] for e in info["meta"].get("skipped_metrics", []) if isinstance(e, dict)],
        "spend": _spend(store),
        "failure_reasons": failure_reasons(store),
    }


def run_store_path(run: str | Path, out: str | Path = "runs") -> Path:
    """The run.sqlite of a run given its id (under ``out``), its folder, or the file itself."""
    path = Path(run)
    if path.is_dir():
        path = path / "run.sqlite"
    elif not path.exists():
        path = Path(out) / str(run) / "run.sqlite"
    if not path.is_file():
        raise FileNotFoundError(f"{run}: no such run (looked for {path})")
    return path


def load_results(run: str | Path, out: str | Path = "runs", bootstrap: int = 1000) -> dict[str, Any]:
    """Results of a run given its id (under ``out``) or its folder or its run.sqlite."""
    store = RunStore.open_existing(run_store_path(run, out))
    try:
        return collect(store, bootstrap)
    finally:
        store.close()


def _fmt(name: str, value: float | None) -> str:
    if value is None:
        return "-"
    return METRIC_LABELS.get(name, (name, "{:.3f}"))[1].format(value)


def _ci(name: str, ci: dict[str, Any] | None) -> str:
    from svgarena.harness._intervals import fmt_interval

    return fmt_interval(METRIC_LABELS.get(name, (name, "{:.3f}"))[1], ci)


def _who(r: dict[str, Any]) -> str:
    """The model, with its arm (``refine render x3``, ``[oracle]`` marked) when the solver is not direct."""
    from rich.markup import escape

    arm = r.get("arm") or r["solver"]
    return escape(r["model"] if r["solver"] == "direct" and arm == "direct" else f"{r['model']} [{arm}]")


def tables(results: dict[str, Any]) -> list[Any]:
    """Rich tables, one per family of tasks sharing the same metrics. Cells read
    ``SArena view (successful only)``; metrics not computed in this run show ``n/c``."""
    from rich.table import Table

    families: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for r in results["results"]:
        families[tuple(r["metrics"])].append(r)
    tokenizer = results.get("tokenizer") or "unknown"
    out = []
    for metrics, rows in families.items():
        subjects = sorted({s for r in rows for s in r.get("accuracy_by_subject", {})})
        title = ", ".join(dict.fromkeys(TASKS[r["task"]].kind if r["task"] in TASKS else r["task"]
                                        for r in rows if not r.get("overall_of")))
        table = Table(title=title, title_justify="left", header_style="bold")
        table.add_column("task")
        table.add_column("model")
        table.add_column("SR %", justify="right")
        for m in metrics:
            label = METRIC_LABELS.get(m, (m, ""))[0]
            if m == "token_length":
                label = f"Tokens ({tokenizer})"
            table.add_column(label, justify="right")
        for s in subjects:
            table.add_column(s, justify="right")
        table.add_column("failures")
        for i, r in enumerate(rows):
            if r.get("overall_of") and i and not rows[i - 1].get("overall_of"):
                table.add_section()  # the icon/edit headline rows: sample-weighted over their subtasks
            cells = [f"{r['task']} (all {len(r['overall_of'])})" if r.get("overall_of") else r["task"], _who(r)
                     + (f" [bold red]ORACLE ({', '.join(r['oracle_use'])})[/bold red]" if r.get("oracle_use") else ""),
                     _fmt("accuracy", r["success_rate"]) + _ci("accuracy", r.get("success_rate_ci"))]
            for m in metrics:
                v = r["metrics"][m]
                if not v["computed"]:
                    cells.append("[dim]n/c[/dim]")
                elif m == "token_length":  # counted over valid predictions only
                    cells.append(_fmt(m, v["ok_only"]) + _ci(m, (v.get("ci") or {}).get("ok_only")))
                elif m == "accuracy":
                    cells.append(_fmt(m, v["sarena"]) + _ci(m, (v.get("ci") or {}).get("sarena")))
                elif v.get("set_level"):
                    cells.append(f"{_fmt(m, v['sarena'])} ({_fmt(m, v['ok_only'])})" + ("*" if v.get("point_estimate") else ""))
                else:
                    ci = v.get("ci") or {}
                    cells.append(f"{_fmt(m, v['sarena'])}{_ci(m, ci.get('sarena'))} "
                                 f"({_fmt(m, v['ok_only'])}{_ci(m, ci.get('ok_only'))})")
            for s in subjects:
                cells.append(_fmt("accuracy", r.get("accuracy_by_subject", {}).get(s))
                             + _ci("accuracy", (r.get("accuracy_by_subject_ci") or {}).get(s)))
            cells.append(", ".join(f"{k} {v}" for k, v in sorted(r["failures"].items())) or "-")
            table.add_row(*cells)
        out.append(table)
    return out


def legend(results: dict[str, Any]) -> str:
    """The one caption of a report, printed once under all its tables (only the parts that apply)."""
    rows = results.get("results", [])
    metrics = {m for r in rows for m in r.get("metrics", {})}
    parts = ["cells: SArena view, failed samples scored as black (successful samples only)"]
    if metrics & {"fid", "fid_c", "fvd"}:
        parts.append("FID/FID-C/FVD: all references vs all predictions with black substitutes "
                     "(vs successful predictions only); * point estimate (no interval)")
    parts.append("SR = success rate")
    if any(not v.get("computed", True) for r in rows for v in r.get("metrics", {}).values()):
        parts.append("n/c = not computed in this run")
    if any(r.get("success_rate_ci") for r in rows):
        parts.append("[lo, hi]: 95% bootstrap interval over samples")
    if any(r.get("overall_of") for r in rows):
        parts.append("icon/edit (all N): one sample-weighted mean over its N subtasks, as the paper's edit row")
    return "; ".join(parts)


def _spend(store: RunStore) -> dict[str, Any]:
    """What the run paid per model, from its call ledger (every try and cache hit, across resumes)."""
    from svgarena.agents import run_spend

    return run_spend(Path(store.path).parent)


def usage_table(results: dict[str, Any]) -> Any:
    """Calls, tokens and cost per model (from the attempts), and what the run paid (from its call ledger)."""
    from rich.table import Table

    per_model: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in results["results"]:
        if r.get("overall_of"):  # the icon/edit row repeats its subtasks' usage
            continue
        for k, v in r["usage"].items():
            per_model[r["model"]][k] += v
    table = Table(title="usage per model", title_justify="left", header_style="bold")
    spend = results.get("spend") or {}
    cols = ["model", "calls", "retries", "input tok", "output tok", "cost $", "mean latency s"]
    if spend:
        cols += ["cache hits", "paid $"]
    for col in cols:
        table.add_column(col, justify="left" if col == "model" else "right")
    for model, u in sorted(per_model.items()):
        calls = int(u["calls"])
        row = [model, str(calls), str(int(u["retries"])), str(int(u["input_tokens"])),
               str(int(u["output_tokens"])), f"{u['cost_usd']:.4f}", f"{u['latency_s'] / calls:.3f}" if calls else "-"]
        if spend:
            paid = spend.get(model)
            row += [str(paid["cache_hits"]), f"{paid['cost_usd']:.4f}"] if paid else ["-", "-"]
        table.add_row(*row)
    for model, paid in sorted(spend.items()):  # a model with calls but no attempts of its own: --choice-judge
        if model not in per_model:
            table.add_row(f"{model} (judge)" if model == (results.get("config") or {}).get("choice_judge") else model,
                          str(paid["calls"]), str(paid["retries"]), str(paid["input_tokens"]),
                          str(paid["output_tokens"]), f"{paid['cost_usd']:.4f}", "-",
                          str(paid["cache_hits"]), f"{paid['cost_usd']:.4f}")
    if spend:
        table.caption = ("calls/retries/tokens/cost: the attempts kept; paid $: every call the run made, "
                         "resumes and retries included; cache hits cost nothing")
    return table


def _model_calls(row: Any) -> int:
    """Model calls behind one stored round: 1, or what the solver recorded (tools: a round can hold several turns)."""
    try:
        extra = json.loads(row["extra"]) if row["extra"] else {}
        return int(extra.get("model_calls", 1)) if isinstance(extra, dict) else 1
    except (ValueError, TypeError, IndexError, KeyError):
        return 1
