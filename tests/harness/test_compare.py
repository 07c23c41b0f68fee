"""`svgarena compare` and report intervals on stores built with RunStore's API."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from svgarena.cli import app
from svgarena.harness import RunStore, TrajectoryKey, bootstrap_mean, compare_runs, load_results

TASK = "icon/understanding"
GEN = "icon/edit/color_simple"


def _add(store: RunStore, task: str, model: str, sid: str, ok: bool, scores: dict[str, float], epoch: int = 0) -> None:
    tid = store.start_trajectory(TrajectoryKey(task, model, "direct", sid, epoch))
    store.add_attempt(tid, {"round": 0, "outcome": "ok" if ok else "parse_error"})
    store.finish_trajectory(tid, outcome="ok" if ok else "parse_error", answer=None,
                            scores=[(m, v, ok, None) for m, v in scores.items()])


def _store(path: Path, seed: int = 0) -> RunStore:
    path.mkdir(parents=True, exist_ok=True)
    store = RunStore(path / "run.sqlite")
    store.init_run(path.name, {"seed": seed}, {})
    return store


def test_compare_within_one_run_verdicts_and_shared_counts(tmp_path: Path) -> None:
    store = _store(tmp_path / "r1")
    for i in range(30):  # model b improves ssim on every sample; accuracy: 12 b-only, 0 a-only
        _add(store, GEN, "a", str(i), True, {"ssim": 0.5 + 0.001 * i})
        _add(store, GEN, "b", str(i), True, {"ssim": 0.6 + 0.001 * i + 0.0001 * (i % 7)})
        _add(store, TASK, "a", str(i), True, {"accuracy": 100.0 if i < 10 else 0.0})
        _add(store, TASK, "b", str(i), True, {"accuracy": 100.0 if i < 22 else 0.0})
    _add(store, GEN, "a", "only-a", True, {"ssim": 0.1})  # dropped: baseline only
    store.close()
    res = compare_runs([tmp_path / "r1" / "run.sqlite"], n_boot=200, seed=0)
    by_task = {c["task"]: c for c in res["comparisons"]}
    gen = by_task[GEN]
    assert (gen["shared"], gen["dropped_baseline"], gen["dropped_other"]) == (30, 1, 0)
    ssim = next(r for r in gen["metrics"] if r["metric"] == "ssim")
    assert ssim["test"] == "wilcoxon" and ssim["verdict"] == "better" and ssim["lo"] > 0
    success = next(r for r in gen["metrics"] if r["metric"] == "success")
    assert success["verdict"] == "no significant difference" and success["delta"] == 0
    acc = next(r for r in by_task[TASK]["metrics"] if r["metric"] == "accuracy")
    assert acc["test"] == "mcnemar" and (acc["baseline_only"], acc["other_only"]) == (0, 12)
    assert acc["delta"] == pytest.approx(40.0) and acc["p"] == pytest.approx(2 / 2 ** 12)
    assert acc["verdict"] == "better"
    # Holm across the pair's metrics (success p = 1, accuracy p): accuracy's p doubles
    assert acc["p_holm"] == pytest.approx(2 * acc["p"])


def test_compare_across_runs_says_worse_and_lpips_lower_is_better(tmp_path: Path) -> None:
    s1, s2 = _store(tmp_path / "base"), _store(tmp_path / "new")
    for i in range(20):
        _add(s1, GEN, "m", str(i), True, {"lpips": 0.2 + 0.01 * i, "psnr": 20.0 + i})
        _add(s2, GEN, "m", str(i), i != 3, {"lpips": 0.3 + 0.01 * i + 0.001 * (i % 3), "psnr": 20.0 + i})
    _add(s2, GEN, "m", "new-only", True, {"lpips": 0.1, "psnr": 30.0})
    s1.close()
    s2.close()
    result = CliRunner().invoke(app, ["compare", str(tmp_path / "base"), str(tmp_path / "new"),
                                      "--json", "--bootstrap", "200"])
    assert result.exit_code == 0, result.output
    (c,) = json.loads(result.stdout)["comparisons"]
    assert c["baseline"]["run"] == "base" and c["other"]["run"] == "new"
    assert (c["shared"], c["dropped_baseline"], c["dropped_other"]) == (20, 0, 1)
    rows = {r["metric"]: r for r in c["metrics"]}
    assert rows["lpips"]["verdict"] == "worse"  # higher lpips is worse
    assert rows["psnr"]["verdict"] == "no significant difference" and rows["psnr"]["p"] == 1.0
    assert rows["success"]["verdict"] == "no significant difference"  # one discordant pair
    table = CliRunner().invoke(app, ["compare", str(tmp_path / "base"), str(tmp_path / "new"), "--bootstrap", "50"])
    assert table.exit_code == 0 and "worse" in table.output


def test_compare_bad_input_is_one_error_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["compare", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "no such run" in result.output and "Traceback" not in result.output
    s = _store(tmp_path / "r")
    s.close()
    bad = CliRunner().invoke(app, ["compare", str(tmp_path / "r"), "--alpha", "2"])
    assert bad.exit_code == 2 and "--alpha" in bad.output


def test_report_cell_interval_recomputed_from_sqlite_by_hand(tmp_path: Path) -> None:
    store = _store(tmp_path / "run", seed=5)
    rng = np.random.default_rng(0)
    for i in range(25):
        ok = i % 5 != 0
        _add(store, GEN, "m", str(i), ok, {"ssim": float(rng.uniform(0, 1)) if ok else 0.05})
    store.close()
    res = load_results(tmp_path / "run", bootstrap=400)
    (entry,) = [r for r in res["results"] if r["task"] == GEN]  # not the icon/edit overall row
    cell = entry["metrics"]["ssim"]
    # by hand, straight from run.sqlite: the SArena view is every stored ssim value, in (sample id, epoch)
    # order as the report resamples them (sample ids are text: "0", "1", "10", "11", ..., "2", ...)
    db = sqlite3.connect(tmp_path / "run" / "run.sqlite")
    values = [v for (v,) in db.execute("SELECT s.value FROM scores s JOIN trajectories t ON t.id = s.trajectory_id "
                                       "WHERE s.metric='ssim' AND t.status='done' ORDER BY t.sample_id, t.epoch")]
    ok_values = [v for (v,) in db.execute("SELECT value FROM scores WHERE metric='ssim' AND ok=1")]
    db.close()
    idx = np.random.default_rng(5).integers(0, len(values), size=(400, len(values)))
    lo, hi = np.quantile(np.asarray(values)[idx].mean(axis=1), [0.025, 0.975])
    assert cell["sarena"] == pytest.approx(sum(values) / len(values))
    assert (cell["ci"]["sarena"]["lo"], cell["ci"]["sarena"]["hi"]) == pytest.approx((lo, hi))
    assert cell["ci"]["sarena"]["n"] == 25 and cell["ci"]["ok_only"]["n"] == len(ok_values) == 20
    assert entry["success_rate"] == 80.0 and entry["success_rate_ci"]["lo"] < 80.0 < entry["success_rate_ci"]["hi"]
    # the table shows the interval; --bootstrap 0 leaves it out
    shown = CliRunner().invoke(app, ["report", str(tmp_path / "run"), "--bootstrap", "400"])
    assert shown.exit_code == 0 and f"[{lo:.3f}, {hi:.3f}]" in shown.output
    plain = json.loads(CliRunner().invoke(app, ["report", str(tmp_path / "run"), "--json", "--bootstrap", "0"]).stdout)
    assert "ci" not in plain["results"][0]["metrics"]["ssim"]


def test_report_clusters_by_sample_when_epochs_repeat(tmp_path: Path) -> None:
    store = _store(tmp_path / "run", seed=2)
    rng = np.random.default_rng(4)
    values = {(f"s{i}", e): float(rng.uniform(0, 1)) for i in range(10) for e in (0, 1)}
    for (sid, epoch), v in values.items():
        _add(store, GEN, "m", sid, True, {"ssim": v}, epoch)
    store.close()
    ci = next(r for r in load_results(tmp_path / "run", bootstrap=500)["results"]
              if r["task"] == GEN)["metrics"]["ssim"]["ci"]["sarena"]
    keys = sorted(values)
    v = np.array([values[k] for k in keys])
    assert ci["n"] == 20 and ci["mean"] == pytest.approx(v.mean())
    # clustered by hand: draw 10 sample ids per resample; each brings both its epochs
    per_sample = v.reshape(10, 2).sum(axis=1)
    draws = np.random.default_rng(2).integers(0, 10, size=(500, 10))
    clustered = np.quantile(per_sample[draws].sum(axis=1) / 20, [0.025, 0.975])
    # unclustered: the 20 rows drawn one by one, as if the epochs were independent samples
    flat = np.quantile(v[np.random.default_rng(2).integers(0, 20, size=(500, 20))].mean(axis=1), [0.025, 0.975])
    assert tuple(clustered) != pytest.approx(tuple(flat), abs=1e-3)
    assert (ci["lo"], ci["hi"]) == pytest.approx(tuple(clustered))
    assert bootstrap_mean(v, n_boot=500, seed=2, clusters=[k[0] for k in keys]).lo == pytest.approx(clustered[0])


def _add_rounds(store: RunStore, task: str, model: str, sid: str, epoch: int, rounds: list[tuple[bool, float]],
                subject: str | None = None) -> None:
    """A refine trajectory: one attempt, round score and (for the last round) headline score per round."""
    tid = store.start_trajectory(TrajectoryKey(task, model, "refine", sid, epoch), subject=subject)
    metric = "accuracy" if task == TASK else "ssim"
    for r, (ok, v) in enumerate(rounds):
        store.add_attempt(tid, {"round": r, "outcome": "ok" if ok else "parse_error"})
    ok, v = rounds[-1]
    store.finish_trajectory(tid, outcome="ok" if ok else "parse_error", answer=None, scores=[(metric, v, ok, None)],
                            round_scores=[(r, metric, val, o, None) for r, (o, val) in enumerate(rounds)])


def _without_keys(x: object, drop: set[str]) -> object:
    if isinstance(x, dict):
        return {k: _without_keys(v, drop) for k, v in x.items() if k not in drop}
    if isinstance(x, list):
        return [_without_keys(v, drop) for v in x]
    return x


def test_intervals_do_not_depend_on_the_order_rows_were_stored(tmp_path: Path) -> None:
    from svgarena.harness import rounds_report

    rng = np.random.default_rng(8)
    items = []  # edit subtasks (and the icon/edit overall row), understanding by subject; 2 epochs; 3 rounds
    for task in (GEN, "icon/edit/crop", TASK):
        for i in range(12):
            for epoch in (0, 1):
                rounds = [(bool(rng.integers(0, 4)), float(100 * rng.integers(0, 2) if task == TASK else rng.uniform()))
                          for _ in range(3)]
                items.append((task, str(i), epoch, rounds, ["Color", "Geometry"][i % 2] if task == TASK else None))
    reports = []
    for name, ordered in (("forward", items), ("reverse", items[::-1]),
                          ("shuffled", [items[k] for k in rng.permutation(len(items))])):
        store = _store(tmp_path / name, seed=9)
        for task, sid, epoch, rounds, subject in ordered:
            _add_rounds(store, task, "m", sid, epoch, rounds, subject)
        store.close()
        res = load_results(tmp_path / name, bootstrap=300)
        ro = RunStore.open_existing(tmp_path / name / "run.sqlite", readonly=True)
        try:
            rounds_out = rounds_report(ro, n_boot=300, seed=9, by="subject")
        finally:
            ro.close()
        reports.append((_without_keys(res["results"], {"usage"}), rounds_out))
    (fwd_res, fwd_rounds) = reports[0]
    assert any(r.get("overall_of") for r in fwd_res) and any(r.get("accuracy_by_subject_ci") for r in fwd_res)
    assert fwd_res[0]["success_rate_ci"]["lo"] is not None
    for res, rounds_out in reports[1:]:
        assert res == fwd_res
        assert rounds_out == fwd_rounds


def test_set_level_metrics_are_marked_point_estimates(tmp_path: Path) -> None:
    from types import SimpleNamespace

    store = _store(tmp_path / "run")
    for i in range(3):
        _add(store, GEN, "m", str(i), True, {"ssim": 0.5})
    store.put_set_scores(GEN, "m", "direct", [SimpleNamespace(metric="fid", view=v, value=12.5, n_ref=3, n_pred=3,
                                                              error=None) for v in ("sarena", "ok_only")])
    store.close()
    fid = load_results(tmp_path / "run", bootstrap=50)["results"][0]["metrics"]["fid"]
    assert fid["point_estimate"] is True and "ci" not in fid
    shown = CliRunner().invoke(app, ["report", str(tmp_path / "run"), "--bootstrap", "50"])
    assert shown.exit_code == 0 and "12.50 (12.50)*" in shown.output


def _add_solver(store: RunStore, task: str, model: str, solver: str, sid: str, ok: bool, scores: dict[str, float]) -> None:
    tid = store.start_trajectory(TrajectoryKey(task, model, solver, sid, 0))
    store.add_attempt(tid, {"round": 0, "outcome": "ok" if ok else "parse_error"})
    store.finish_trajectory(tid, outcome="ok" if ok else "parse_error", answer=None,
                            scores=[(m, v, ok, None) for m, v in scores.items()])


def test_compare_baseline_picks_the_group_every_other_is_paired_with(tmp_path: Path) -> None:
    store = _store(tmp_path / "r1")
    for i in range(20):  # two models, each direct and refine; refine improves ssim
        for model in ("m/a", "m/b"):
            _add_solver(store, GEN, model, "direct", str(i), True, {"ssim": 0.5 + 0.001 * i})
            _add_solver(store, GEN, model, "refine", str(i), True, {"ssim": 0.6 + 0.001 * i + 0.0001 * (i % 3)})
        _add_solver(store, TASK, "m/a", "direct", str(i), True, {"accuracy": 100.0})  # no m/b here
    store.close()
    db = [tmp_path / "r1" / "run.sqlite"]

    def pairs(res: dict) -> set[tuple[str, str, str]]:
        return {(c["task"], f"{c['baseline']['model']}:{c['baseline']['solver']}",
                 f"{c['other']['model']}:{c['other']['solver']}") for c in res["comparisons"]}

    # default: the first group per task (m/a direct)
    assert pairs(compare_runs(db, n_boot=50)) == {(GEN, "m/a:direct", o) for o in ("m/a:refine", "m/b:direct",
                                                                                  "m/b:refine")}
    # "model A direct vs model A refine" with model B in the run: the baseline by its printed label
    res = compare_runs(db, n_boot=50, baseline="m/a [refine]")
    assert pairs(res) == {(GEN, "m/a:refine", o) for o in ("m/a:direct", "m/b:direct", "m/b:refine")}
    assert res["baseline"] == "m/a [refine]" and res["baseline_missing_tasks"] == [TASK]
    a_vs_refine = next(c for c in res["comparisons"] if c["other"]["model"] == "m/a")
    assert next(r for r in a_vs_refine["metrics"] if r["metric"] == "ssim")["verdict"] == "worse"
    # an exact label wins over labels that merely contain it; a part of one label is enough
    assert {b for _, b, _ in pairs(compare_runs(db, n_boot=50, baseline="m/b"))} == {"m/b:direct"}
    assert {b for _, b, _ in pairs(compare_runs(db, n_boot=50, baseline="b [ref"))} == {"m/b:refine"}
    with pytest.raises(ValueError, match="matches 2 groups of icon/edit/color_simple"):
        compare_runs(db, n_boot=50, baseline="refine")
    with pytest.raises(ValueError, match="matches no group; the groups are: m/a, m/a \\[refine\\], m/b"):
        compare_runs(db, n_boot=50, baseline="m/c")
    # across runs the label carries the run folder name: RUN:MODEL[ [ARM]]
    s2 = _store(tmp_path / "r2")
    for i in range(20):
        _add_solver(s2, GEN, "m/a", "direct", str(i), True, {"ssim": 0.5 + 0.001 * i})
    s2.close()
    out = CliRunner().invoke(app, ["compare", str(tmp_path / "r1"), str(tmp_path / "r2"), "--baseline", "r2:m/a",
                                   "--json", "--bootstrap", "50"])
    assert out.exit_code == 0, out.output
    got = json.loads(out.stdout)
    assert {(c["baseline"]["run"], c["baseline"]["model"]) for c in got["comparisons"]} == {("r2", "m/a")}
    assert len(got["comparisons"]) == 4
    table = CliRunner().invoke(app, ["compare", str(tmp_path / "r1"), "--baseline", "m/b", "--bootstrap", "50"])
    assert table.exit_code == 0 and "icon/understanding: no group matches --baseline 'm/b'" in table.output
