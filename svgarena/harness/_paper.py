"""``report --paper``: the InternSVG paper's published numbers beside a run's models.

The numbers live in ``harness/data/paper.yaml`` with their source; this module only picks the
rows whose task the run has and the metrics both have, and labels them as published numbers
on the full SArena (a run on sarena-mini, or on any subset, is not comparable to them).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

PUBLISHED = "published, full SArena"


@lru_cache(maxsize=1)
def paper_data() -> dict[str, Any]:
    """The shipped ``paper.yaml``: ``{"sources": {id: {cite, url}}, "rows": [...]}``, checked on load."""
    from importlib.resources import files

    import yaml

    data = yaml.safe_load(files("svgarena.harness").joinpath("data/paper.yaml").read_text(encoding="utf-8"))
    for row in data["rows"]:
        if row["source"] not in data["sources"]:
            raise ValueError(f"paper.yaml: row {row['model']} {row['task']} cites unknown source {row['source']!r}")
    return data


def _matches(paper_task: str, task: str) -> bool:
    # The paper's edit figures are evaluate_edit.py's one mean over every edit sample: they go beside the run's
    # icon/edit overall row only, never beside a single icon/edit/<subtask> row (the paper has none per subtask).
    return task == paper_task


def paper_rows(results: dict[str, Any]) -> dict[str, Any]:
    """Reference rows for the run's tasks: ``{"rows": [...], "note": str, "sources": {...}}``.

    Each row: ``task`` (the run's task), ``paper_task``, ``model``, ``label`` (published), ``metrics``
    restricted to the metrics the run reports for that task, ``success_rate`` where published, ``source``.
    """
    data = paper_data()
    suite = str((results.get("config") or {}).get("suite") or "")
    run_metrics: dict[str, list[str]] = {}
    for r in results.get("results", []):
        run_metrics.setdefault(r["task"], list(r["metrics"]))
    rows = []
    for task, metrics in run_metrics.items():
        for p in data["rows"]:
            if not _matches(p["task"], task):
                continue
            shared = {m: v for m, v in p["metrics"].items() if m in metrics}
            if not shared and p.get("success_rate") is None:
                continue
            rows.append({"task": task, "paper_task": p["task"], "model": p["model"], "label": PUBLISHED,
                         "metrics": shared, "success_rate": p.get("success_rate"), "source": p["source"]})
    if suite == "sarena":
        note = (f"reference rows are {PUBLISHED} (InternSVG paper); comparable only where this run covered the "
                "whole task with the official protocol")
    else:
        note = (f"reference rows are {PUBLISHED} (InternSVG paper); this run is on {suite or 'another suite'}, "
                "not the full benchmark, so the numbers are NOT comparable")
    used = sorted({r["source"] for r in rows})
    return {"rows": rows, "note": note, "sources": {s: data["sources"][s] for s in used}}


def paper_table(results: dict[str, Any], paper: dict[str, Any]) -> Any:
    """One table per task with reference rows: the run's models (SArena view; n/c = not computed in this run),
    then the published rows."""
    from rich.markup import escape
    from rich.table import Table

    from svgarena.harness._report import METRIC_LABELS, _fmt, _who

    by_task: dict[str, list[dict[str, Any]]] = {}
    for row in paper["rows"]:
        by_task.setdefault(row["task"], []).append(row)
    tables = []
    for task, prows in by_task.items():
        metrics = list(dict.fromkeys(m for p in prows for m in p["metrics"]))
        t = Table(title=f"{task}: this run beside the paper", title_justify="left", header_style="bold")
        for col in ("model", "source", "SR %", *(METRIC_LABELS.get(m, (m, ""))[0] for m in metrics)):
            t.add_column(col, justify="left" if col in ("model", "source") else "right")
        for r in results.get("results", []):
            if r["task"] != task:
                continue
            t.add_row(_who(r), "this run", _fmt("accuracy", r.get("success_rate")),
                      *(_fmt(m, r["metrics"][m].get("sarena")) if r["metrics"].get(m, {}).get("computed")
                        else "n/c" for m in metrics))
        for p in prows:
            label = p["model"] + (" (icon edit overall)" if p["paper_task"] == "icon/edit" else "")
            t.add_row(escape(label), PUBLISHED, _fmt("accuracy", p.get("success_rate")),
                      *(_fmt(m, p["metrics"].get(m)) for m in metrics))
        t.caption = escape(paper["note"])
        tables.append(t)
    return tables
