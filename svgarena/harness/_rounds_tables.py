"""Rich tables of ``report --rounds``: per round, transitions, usage, selections, strata."""

from __future__ import annotations

from typing import Any


def _label(metric: str) -> str:
    from svgarena.harness._report import METRIC_LABELS

    return METRIC_LABELS.get(metric, (metric, ""))[0]


def _fmt(metric: str, value: float | None) -> str:
    from svgarena.harness._report import METRIC_LABELS

    if value is None:
        return "-"
    return METRIC_LABELS.get(metric, (metric, "{:.3f}"))[1].format(value)


def _cell(metric: str, ci: dict[str, Any] | None) -> str:
    if not ci or ci.get("mean") is None:
        return "-"
    text = _fmt(metric, ci["mean"])
    if ci.get("lo") is not None:
        text += f" \\[{_fmt(metric, ci['lo'])}, {_fmt(metric, ci['hi'])}]"
    return text


def _who(g: dict[str, Any]) -> str:
    from rich.markup import escape

    return escape(f"{g['model']} [{g['arm']}]")


def rounds_tables(rep: dict[str, Any]) -> list[Any]:
    """Per-round metric and success curves, transitions, usage per round, selections; then strata if asked."""
    from rich.table import Table

    out = []
    from svgarena.tasks import TASKS

    kinds: dict[str, list[dict[str, Any]]] = {}  # one table per kind of task, columns the metrics any group has
    for g in rep["groups"]:
        kinds.setdefault(TASKS[g["task"]].kind if g["task"] in TASKS else g["task"], []).append(g)
    families = {tuple(dict.fromkeys(m for g in groups for m in g["metrics"])): groups for groups in kinds.values()}
    for metrics, groups in families.items():
        set_metrics = list(dict.fromkeys(m for g in groups for r in g["per_round"] for m in r.get("set_metrics", {})))
        t = Table(title="per round (--rounds)", title_justify="left", header_style="bold")
        for col in ("task", "model \\[arm]", "round", "n active", "SR %", *(_label(m) for m in metrics),
                    *(f"{_label(m)} (set)" for m in set_metrics)):
            t.add_column(col, justify="left" if col in ("task", "model \\[arm]") else "right")
        for g in groups:
            for i, r in enumerate(g["per_round"]):
                sets = r.get("set_metrics", {})
                t.add_row(g["task"] if i == 0 else "", _who(g) if i == 0 else "", str(r["round"]),
                          f"{r['n_active']}/{r['n']}", _cell("accuracy", r["success_rate"]),
                          *(_cell(m, r["metrics"].get(m)) for m in metrics),
                          *(f"{_fmt(m, sets.get(m, {}).get('sarena'))} ({_fmt(m, sets.get(m, {}).get('ok_only'))})"
                            for m in set_metrics))
        t.caption = (f"SArena view with 95% bootstrap intervals ({rep['bootstrap']} resamples); (set): FID/FID-C/FVD "
                     "of the round's answers from round_set_scores, point estimates, SArena (successful only); "
                     f"{rep['carry_forward']}; \\[oracle] marks an arm whose feedback saw the reference")
        out.append(t)

    t = Table(title="round-to-round transitions", title_justify="left", header_style="bold")
    for col in ("task", "model \\[arm]", "rounds", "n", "fixed", "broken", "no-op", "quality +/-/= (epsilon)"):
        t.add_column(col, justify="left" if col in ("task", "model \\[arm]", "quality +/-/= (epsilon)") else "right")
    for g in rep["groups"]:
        first = True
        for r in g["per_round"][1:]:
            tr = r["transition"]
            quality = "; ".join(f"{_label(m)} {q['improved']}/{q['worsened']}/{q['unchanged']} ({q['epsilon']:g})"
                                for m, q in tr["quality"].items())
            t.add_row(g["task"] if first else "", _who(g) if first else "", f"{tr['from']}->{r['round']}",
                      str(tr["n"]), str(tr["fixed"]), str(tr["broken"]), str(tr["no_op"]), quality or "-")
            first = False
    if not t.row_count:
        t.add_row("-", "-", "-", "0", "-", "-", "-", "no trajectory has more than one round")
    t.caption = ("fixed: failed -> ok; broken: ok -> failed; no-op: same SVG hash as the round before; quality: "
                 "improved / worsened / unchanged by more than epsilon (lower is better for LPIPS and token length); "
                 "over trajectories that ran both rounds")
    out.append(t)

    t = Table(title="usage per round", title_justify="left", header_style="bold")
    for col in ("task", "model \\[arm]", "round", "calls", "in tok", "out tok", "cost $", "latency s", "SVG bytes"):
        t.add_column(col, justify="left" if col in ("task", "model \\[arm]") else "right")
    for g in rep["groups"]:
        for i, r in enumerate(g["per_round"]):
            u = r["usage"]

            def f(k: str, fmt: str) -> str:
                return "-" if u.get(k) is None else fmt.format(u[k])
            t.add_row(g["task"] if i == 0 else "", _who(g) if i == 0 else "", str(r["round"]), str(u["calls"]),
                      f("input_tokens", "{:.0f}"), f("output_tokens", "{:.0f}"), f("cost_usd", "{:.5f}"),
                      f("latency_s", "{:.2f}"), f("svg_bytes", "{:.0f}"))
    t.caption = "means per call of the trajectories that ran the round; SVG bytes: size of the extracted SVG"
    out.append(t)

    for metrics, groups in families.items():
        t = Table(title="selection side by side (from round_scores)", title_justify="left", header_style="bold")
        for col in ("task", "model \\[arm]", "selection", "mean round", "SR %", *(_label(m) for m in metrics)):
            t.add_column(col, justify="left" if col in ("task", "model \\[arm]", "selection") else "right")
        for g in groups:
            for i, (name, s) in enumerate(g["selections"].items()):
                label = name + (" (oracle)" if s["oracle"] else "") + (" *" if s["used_by_run"] else "")
                t.add_row(g["task"] if i == 0 else "", _who(g) if i == 0 else "", label,
                          "-" if s["mean_round"] is None else f"{s['mean_round']:.2f}",
                          _cell("accuracy", s["success_rate"]), *(_cell(m, s["metrics"].get(m)) for m in metrics))
        t.caption = ("best-oracle picks each trajectory's best round by the reference (SSIM, else the task's first "
                     "metric): an upper bound, not a deployable rule; * = the selection the run used for its headline")
        out.append(t)

    stops = [f"{g['task']} {_who(g)}: " + ", ".join(f"{k or '-'} {v}" for k, v in g["stop_reasons"].items())
             for g in rep["groups"]]
    t = Table(title="stop reasons", title_justify="left", header_style="bold", show_header=False)
    t.add_column("stops")
    for line in stops:
        t.add_row(line)
    out.append(t)

    if rep.get("strata"):
        t = Table(title=f"strata (--by {rep['by']})", title_justify="left", header_style="bold")
        for col in ("task", "model \\[arm]", "stratum", "n", "metric", "round 0", "final", "gain [95% CI]",
                    "SR round 0", "SR final", "fixed", "broken"):
            t.add_column(col, justify="left" if col in ("task", "model \\[arm]", "stratum", "metric") else "right")
        for s in rep["strata"]:
            m = s.get("metric")
            t.add_row(s["task"], _who(s), s["stratum"], str(s["n"]), _label(m) if m else "-",
                      _cell(m, s.get("first")) if m else "-", _cell(m, s.get("final")) if m else "-",
                      _cell(m, s.get("gain")) if m else "-", _cell("accuracy", s["success_first"]),
                      _cell("accuracy", s["success_final"]), str(s["fixed"]), str(s["broken"]))
        t.caption = ("final = the last round with early stops carried forward; gain = final - round 0 per trajectory; "
                     "first-round-quintile: Q1 = the lowest round-0 scores (ties by trajectory order)")
        out.append(t)
    return out
