"""The ``icon/edit`` headline row: one sample-weighted mean over every edit subtask.

The paper's edit figures are what hmwang2002/InternSVG ``evaluate_edit.py:41`` and ``:118``
print: one ``InternSVGMetrics`` calculator shared by every subtask, summarised at the end with
``calculator.summarize_metrics()`` (``metrics/metrics.py:69-75``). Each metric's meter is
updated with the subtask mean weighted by its count (``metrics/base_metric.py:38-40``,
``metrics/average_meter.py:12-16``), so the summary is the mean over all samples of all
subtasks: the SArena view here (black substitutes count, ``evaluate_edit.py:72-74``); beside it,
the same mean over successful samples.

Token length is the exception. ``metrics/token_length.py:42-63`` keeps running meters that
``InternSVGMetrics.reset`` is never called on, so the value printed after each subtask
(``evaluate_edit.py:113-115``) is the mean over *every subtask so far*, in ``os.listdir`` order
(``evaluate_edit.py:45``), and the summary meter is fed that running mean weighted by the
subtask's valid count (``token_length.py:62-63``). svgarena reports the true per-subtask and
overall means; :func:`official_token_length` computes what the official script would print.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from svgarena.harness._store import RunStore
from svgarena.outcome import Outcome

EDIT_PREFIX = "icon/edit/"
EDIT_OVERALL = "icon/edit"

OFFICIAL_TOKEN_NOTE = (
    "evaluate_edit.py shares one TokenLengthCalculator over all subtasks and never resets it: the "
    "'pred_tokens' it prints after each subtask is the mean over the valid predictions of every subtask "
    "evaluated so far (os.listdir order of the test folder; here: alphabetical, as `ls` lists it), and its "
    "summary is the sum of (that running mean x the subtask's valid count) over the total valid count. "
    "svgarena's token_length cells are the true means.")


def official_token_length(per_subtask: dict[str, list[float]], order: list[str] | None = None) -> dict[str, Any]:
    """What ``evaluate_edit.py`` would print for token length, given each subtask's valid counts.

    ``per_subtask`` maps a subtask name to the token counts of its valid predictions; ``order``
    is the directory order (default: alphabetical). Returns ``{"order", "printed": {subtask:
    running mean or None}, "summary"}``; a subtask without valid predictions prints NaN in the
    reference (``token_length.py:58-60``) and does not feed the summary: ``None`` here.
    """
    order = list(order) if order is not None else sorted(per_subtask)
    total, count = 0.0, 0  # meter_pred_tokens: never reset (token_length.py:19-20, 42-43)
    weighted, weight = 0.0, 0  # self.meter: updated with the running mean x valid_len (:62-63)
    printed: dict[str, float | None] = {}
    for name in order:
        values = per_subtask.get(name, [])
        if not values:
            printed[name] = None
            continue
        total += sum(values)
        count += len(values)
        running = total / count
        printed[name] = running
        weighted += running * len(values)
        weight += len(values)
    return {"order": order, "printed": printed, "summary": weighted / weight if weight else None,
            "how": OFFICIAL_TOKEN_NOTE}


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def edit_overall(store: RunStore, results: list[dict[str, Any]], *, n_boot: int = 0, seed: int = 0) -> list[dict[str, Any]]:
    """One ``icon/edit`` entry per (model, solver) that ran any edit subtask, shaped like a report entry.

    Metrics are sample-weighted over all subtasks in both views; ``official_token_length``
    adds what the official script prints. Usage is summed from the subtask entries.
    """
    from svgarena.harness._stats import bootstrap_mean

    subtasks: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        if r["task"].startswith(EDIT_PREFIX):
            subtasks[(r["model"], r["solver"])].append(r)
    if not subtasks:
        return []
    # (model, solver) -> metric -> [(task, sample_id, epoch, value, ok)]
    rows: dict[tuple[str, str], dict[str, list[tuple[str, str, int, float, bool]]]] = defaultdict(lambda: defaultdict(list))
    trajectories: dict[tuple[str, str], list[tuple[str, str, int, bool]]] = defaultdict(list)
    for s in store.scores():
        if s["task"].startswith(EDIT_PREFIX) and s["value"] is not None:
            rows[(s["model"], s["solver"])][s["metric"]].append(
                (s["task"], s["sample_id"], s["epoch"], float(s["value"]), bool(s["ok"])))
    for t in store.trajectories():
        if t["task"].startswith(EDIT_PREFIX):
            trajectories[(t["model"], t["solver"])].append(
                (t["task"], t["sample_id"], t["epoch"], t["outcome"] == Outcome.OK.value))

    out = []
    for (model, solver), entries in subtasks.items():
        metric_names = list(dict.fromkeys(m for e in entries for m in e["metrics"]))
        metrics: dict[str, Any] = {}
        for name in metric_names:
            # (subtask, sample, epoch) order, never the store's: intervals (and float sums) do not depend on it
            items = sorted(rows[(model, solver)].get(name, []), key=lambda i: (i[0], i[1], i[2]))
            all_v = [i[3] for i in items]
            ok_items = [i for i in items if i[4]]
            cell: dict[str, Any] = {
                "sarena": _mean(all_v), "ok_only": _mean([i[3] for i in ok_items]),
                "n": len(all_v), "n_ok": len(ok_items),
                "n_error": sum(e["metrics"].get(name, {}).get("n_error", 0) for e in entries),
                "computed": any(e["metrics"].get(name, {}).get("computed") for e in entries),
            }
            if any(e["metrics"].get(name, {}).get("set_level") for e in entries):
                continue  # no set-level metric belongs to edit; never average one across subtasks
            if n_boot > 0:
                def ci(sel: list[tuple[str, str, int, float, bool]]) -> dict[str, Any]:
                    keys = [f"{i[0]}\0{i[1]}" for i in sel]
                    clusters = keys if len(set(keys)) < len(keys) else None
                    return bootstrap_mean([i[3] for i in sel], n_boot=n_boot, seed=seed, clusters=clusters).as_dict()
                cell["ci"] = {"sarena": ci(items), "ok_only": ci(ok_items)}
            metrics[name] = cell
        tok = rows[(model, solver)].get("token_length", [])
        per_subtask: dict[str, list[float]] = {e["task"][len(EDIT_PREFIX):]: [] for e in entries}
        for task, _sid, _ep, value, ok in tok:
            if ok:
                per_subtask.setdefault(task[len(EDIT_PREFIX):], []).append(value)
        if "token_length" in metrics:
            metrics["token_length"]["official"] = official_token_length(per_subtask)
        trajs = trajectories[(model, solver)]
        n, n_ok = len(trajs), sum(1 for t in trajs if t[3])
        failures: dict[str, int] = defaultdict(int)
        usage: dict[str, float] = defaultdict(float)
        for e in entries:
            for k, v in e["failures"].items():
                failures[k] += v
            for k, v in e["usage"].items():
                usage[k] += v
        entry: dict[str, Any] = {
            "task": EDIT_OVERALL, "model": model, "solver": solver, "n": n, "n_ok": n_ok,
            "success_rate": 100.0 * n_ok / n if n else None, "failures": dict(failures),
            "metrics": metrics, "usage": dict(usage), "overall_of": sorted(e["task"] for e in entries),
        }
        if n_boot > 0 and trajs:
            trajs = sorted(trajs, key=lambda t: (t[0], t[1], t[2]))  # (subtask, sample, epoch): not store order
            keys = [f"{t[0]}\0{t[1]}" for t in trajs]
            clusters = keys if len(set(keys)) < len(keys) else None
            entry["success_rate_ci"] = bootstrap_mean([100.0 if t[3] else 0.0 for t in trajs], n_boot=n_boot,
                                                      seed=seed, clusters=clusters).as_dict()
        out.append(entry)
    return out


def insert_edit_overall(results: list[dict[str, Any]], overall: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``results`` with the overall rows (by model, solver) placed right after the last edit subtask row."""
    if not overall:
        return results
    last = max(i for i, r in enumerate(results) if r["task"].startswith(EDIT_PREFIX))
    ordered = sorted(overall, key=lambda o: (o["model"], o["solver"]))
    return results[: last + 1] + ordered + results[last + 1:]


def official_edit_lines(results: dict[str, Any]) -> list[str]:
    """One line per overall row: the token length the official ``evaluate_edit.py`` would print."""
    lines = []
    for r in results.get("results", []):
        official = (r.get("metrics", {}).get("token_length") or {}).get("official") if r.get("overall_of") else None
        if not official or official["summary"] is None:
            continue
        printed = ", ".join(f"{k} {v:.0f}" for k, v in official["printed"].items() if v is not None)
        lines.append(f"{r['task']} {r['model']}: official evaluate_edit.py token length would read "
                     f"{official['summary']:.0f} (running means, alphabetical order: {printed}); "
                     f"true mean {r['metrics']['token_length']['ok_only']:.0f}")
    return lines
