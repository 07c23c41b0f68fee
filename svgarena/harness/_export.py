"""Exports: ``load_samples(run)`` (a pandas DataFrame, the way into notebooks) and ``report --csv DIR``.

``load_samples`` is long ("tidy"): one row per trajectory x round x metric, with the round's
attempt (outcome, tokens, cost, latency, SVG hash, whether the model chose it) and the
trajectory's identity, arm, stop reason and selected round. A round with no score rows keeps one
row with ``metric`` empty, so calls and tokens are never lost. ``selected`` marks the headline round.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

SAMPLE_COLUMNS = ("trajectory_id", "task", "model", "solver", "arm", "oracle", "sample_id", "epoch", "subject",
                  "round", "selected", "metric", "value", "ok", "error", "outcome", "reason", "svg_hash",
                  "model_chose", "input_tokens", "output_tokens", "cost_usd", "latency_s", "selection",
                  "selected_round", "stop_reason", "trajectory_outcome")


def samples_frame(store: Any) -> Any:
    """The long per-round frame of an open ``RunStore`` (see the module docstring)."""
    import pandas as pd

    from svgarena.harness._rounds import arm_of

    df = pd.read_sql_query(
        "SELECT t.id AS trajectory_id, t.task, t.model, t.solver, t.arm AS arm_json, t.sample_id, t.epoch, "
        "t.subject, a.round, r.metric, r.value, r.ok, r.error, a.outcome, a.reason, a.svg_hash, a.model_chose, "
        "a.input_tokens, a.output_tokens, a.cost_usd, a.latency_s, t.selection, t.selected_round, t.stop_reason, "
        "t.outcome AS trajectory_outcome FROM attempts a JOIN trajectories t ON t.id = a.trajectory_id "
        "LEFT JOIN round_scores r ON r.trajectory_id = a.trajectory_id AND r.round = a.round "
        "WHERE t.status='done' ORDER BY t.id, a.round, r.metric", store.db)
    arms = {(s, j): arm_of(s, j)[:2] for s, j in set(zip(df["solver"], df["arm_json"]))}
    df["arm"] = [arms[(s, j)][0] for s, j in zip(df["solver"], df["arm_json"])]
    df["oracle"] = [arms[(s, j)][1] for s, j in zip(df["solver"], df["arm_json"])]
    df["selected"] = df["round"] == df["selected_round"]
    df["ok"] = df["ok"].astype("boolean")
    df["model_chose"] = df["model_chose"].fillna(0).astype(bool)
    return df[list(SAMPLE_COLUMNS)]


def load_samples(run: str | Path, out: str | Path = "runs") -> Any:
    """A run's every round and metric as a pandas DataFrame (run id under ``out``, run folder, or run.sqlite)."""
    from svgarena.harness._report import run_store_path
    from svgarena.harness._store import RunStore

    store = RunStore.open_existing(run_store_path(run, out), readonly=True)
    try:
        return samples_frame(store)
    finally:
        store.close()


def _write(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def _ci_cols(ci: dict[str, Any] | None) -> list[Any]:
    ci = ci or {}
    return [ci.get("mean"), ci.get("lo"), ci.get("hi"), ci.get("n")]


def write_csv(run: str | Path, directory: str | Path, results: dict[str, Any], out: str | Path = "runs") -> list[Path]:
    """One tidy CSV per table into ``directory``; returns the files written.

    samples.csv (``load_samples``: trajectory x round x metric), cells.csv (report cells with intervals; the
    understanding accuracy of each subject is a row with ``subject`` set),
    and with ``results["rounds"]``: round_cells.csv, transitions.csv, selections.csv, strata.csv; with
    ``results["paper"]``: paper.csv.
    """
    d = Path(directory)
    if d.exists() and not d.is_dir():
        raise FileExistsError(f"--csv {d}: exists and is not a folder")
    d.mkdir(parents=True, exist_ok=True)
    written = []
    frame = load_samples(run, out)
    frame.to_csv(d / "samples.csv", index=False)
    written.append(d / "samples.csv")

    cells = []
    for r in results["results"]:
        cells.append([r["task"], r["model"], r["solver"], "success_rate", "sarena", r.get("success_rate"),
                      *(_ci_cols(r.get("success_rate_ci"))[1:3]), r["n"], "", ""])
        for m, cell in r["metrics"].items():
            for view in ("sarena", "ok_only"):
                ci = (cell.get("ci") or {}).get(view) or {}
                n = cell.get("n") if view == "sarena" else cell.get("n_ok")
                cells.append([r["task"], r["model"], r["solver"], m, view, cell.get(view), ci.get("lo"), ci.get("hi"),
                              n, "point estimate" if cell.get("set_level") else ("" if cell.get("computed") else "n/c"), ""])
        for subject, value in (r.get("accuracy_by_subject") or {}).items():  # understanding: one row per subject
            ci = (r.get("accuracy_by_subject_ci") or {}).get(subject) or {}
            cells.append([r["task"], r["model"], r["solver"], "accuracy", "sarena", value, ci.get("lo"), ci.get("hi"),
                          (r.get("accuracy_by_subject_n") or {}).get(subject), "", subject])
    _write(d / "cells.csv", ["task", "model", "solver", "metric", "view", "value", "lo", "hi", "n", "note", "subject"],
           cells)
    written.append(d / "cells.csv")

    rep = results.get("rounds")
    if rep:
        rc, tr, sel = [], [], []
        for g in rep["groups"]:
            ident = [g["task"], g["model"], g["solver"], g["arm"], g["oracle"]]
            for r in g["per_round"]:
                u = r["usage"]
                base = [*ident, r["round"], r["n_active"]]
                usage = [u.get("calls"), u.get("input_tokens"), u.get("output_tokens"), u.get("cost_usd"),
                         u.get("latency_s"), u.get("svg_bytes")]
                rc.append([*base, "success_rate", *_ci_cols(r["success_rate"]), *usage])
                for m, ci in r["metrics"].items():
                    rc.append([*base, m, *_ci_cols(ci), *usage])
                t = r.get("transition")
                if t:
                    tr.append([*ident, t["from"], r["round"], "success", t["n"], t["fixed"], t["broken"], t["no_op"],
                               "", "", "", ""])
                    for m, q in t["quality"].items():
                        tr.append([*ident, t["from"], r["round"], m, q["n"], "", "", "", q["epsilon"], q["improved"],
                                   q["worsened"], q["unchanged"]])
            for name, s in g["selections"].items():
                sel.append([*ident, name, s["oracle"], s["used_by_run"], s["mean_round"], "success_rate",
                            *_ci_cols(s["success_rate"])])
                for m, ci in s["metrics"].items():
                    sel.append([*ident, name, s["oracle"], s["used_by_run"], s["mean_round"], m, *_ci_cols(ci)])
        ident_h = ["task", "model", "solver", "arm", "oracle"]
        _write(d / "round_cells.csv", [*ident_h, "round", "n_active", "metric", "mean", "lo", "hi", "n", "calls",
                                       "input_tokens", "output_tokens", "cost_usd", "latency_s", "svg_bytes"], rc)
        _write(d / "transitions.csv", [*ident_h, "from_round", "to_round", "metric", "n", "fixed", "broken", "no_op",
                                       "epsilon", "improved", "worsened", "unchanged"], tr)
        _write(d / "selections.csv", [*ident_h, "selection", "selection_is_oracle", "used_by_run", "mean_round",
                                      "metric", "mean", "lo", "hi", "n"], sel)
        written += [d / "round_cells.csv", d / "transitions.csv", d / "selections.csv"]
        if rep.get("strata"):
            st = [[s["task"], s["model"], s["solver"], s["arm"], s["oracle"], s["by"], s["stratum"], s["n"],
                   s.get("metric"), *_ci_cols(s.get("first"))[:1], *_ci_cols(s.get("final"))[:1],
                   *_ci_cols(s.get("gain"))[:3], s["success_first"]["mean"], s["success_final"]["mean"],
                   s["fixed"], s["broken"]] for s in rep["strata"]]
            _write(d / "strata.csv", [*ident_h, "by", "stratum", "n", "metric", "first", "final", "gain", "gain_lo",
                                      "gain_hi", "success_first", "success_final", "fixed", "broken"], st)
            written.append(d / "strata.csv")
    paper = results.get("paper")
    if paper:
        pr = [[p["task"], p["paper_task"], p["model"], p["label"], m, v, p["source"]]
              for p in paper["rows"] for m, v in [("success_rate", p.get("success_rate")), *p["metrics"].items()]
              if v is not None]
        _write(d / "paper.csv", ["task", "paper_task", "model", "label", "metric", "value", "source"], pr)
        written.append(d / "paper.csv")
    return written
