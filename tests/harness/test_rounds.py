"""`report --rounds`: per-round curves, transitions, selections and strata against hand-computed values."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from svgarena.cli import app
from svgarena.harness import RunStore, TrajectoryKey, bootstrap_mean, rounds_report
from svgarena.harness._boot import column_intervals, resample_weights

TASK = "icon/img2svg"
ARM = {"solver": "refine", "feedback": "render", "rounds": 3, "oracle": False}
# sample -> rounds of (ok, ssim, svg hash); b stops after round 1 (carried forward), a repeats itself at round 2
ROUNDS = {"a": [(True, 0.5, "h1"), (True, 0.7, "h2"), (True, 0.7, "h2")],
          "b": [(False, 0.1, None), (True, 0.6, "h3")],
          "c": [(True, 0.8, "h4"), (False, 0.2, None), (True, 0.9, "h5")]}


def _store(path: Path, data=ROUNDS, *, arm=ARM, model="m", subjects=None, task=TASK) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    store = RunStore(path / "run.sqlite")
    store.init_run(path.name, {"seed": 0}, {})
    for sid, rounds in data.items():
        tid = store.start_trajectory(TrajectoryKey(task, model, arm["solver"], sid, 0),
                                     subject=(subjects or {}).get(sid))
        for r, (ok, _, h) in enumerate(rounds):
            store.add_attempt(tid, {"round": r, "outcome": "ok" if ok else "parse_error", "svg_hash": h,
                                    "input_tokens": 10 * (r + 1), "output_tokens": 5, "cost_usd": 0.001,
                                    "model_chose": sid == "a" and r == 1})
        store.finish_trajectory(tid, outcome="ok", answer=None, stop_reason="done marker" if sid == "b" else "rounds exhausted",
                                scores=[], selection="last", arm=arm,
                                round_scores=[(r, "ssim", v, ok, None) for r, (ok, v, _) in enumerate(rounds)])
    store.close()
    return path / "run.sqlite"


def _report(db: Path, **kw):
    store = RunStore.open_existing(db, readonly=True)
    try:
        return rounds_report(store, n_boot=kw.pop("n_boot", 200), **kw)
    finally:
        store.close()


def test_per_round_means_carry_forward_transitions_and_usage(tmp_path: Path) -> None:
    (g,) = _report(_store(tmp_path / "r"))["groups"]
    assert (g["arm"], g["oracle"], g["rounds"], g["n"]) == ("refine render x3", False, 3, 3)
    ssim = [r["metrics"]["ssim"]["mean"] for r in g["per_round"]]
    # round 2: a 0.7, b carries its round-1 0.6 forward, c 0.9
    assert ssim == pytest.approx([(0.5 + 0.1 + 0.8) / 3, (0.7 + 0.6 + 0.2) / 3, (0.7 + 0.6 + 0.9) / 3])
    assert [r["success_rate"]["mean"] for r in g["per_round"]] == pytest.approx([200 / 3, 200 / 3, 100.0])
    assert [r["n_active"] for r in g["per_round"]] == [3, 3, 2]
    t1, t2 = g["per_round"][1]["transition"], g["per_round"][2]["transition"]
    assert (t1["n"], t1["fixed"], t1["broken"], t1["no_op"]) == (3, 1, 1, 0)  # b fixed, c broken
    assert (t2["n"], t2["fixed"], t2["broken"], t2["no_op"]) == (2, 1, 0, 1)  # b stopped; a repeated its SVG
    assert {k: t1["quality"]["ssim"][k] for k in ("improved", "worsened", "unchanged")} == \
        {"improved": 2, "worsened": 1, "unchanged": 0}
    assert {k: t2["quality"]["ssim"][k] for k in ("improved", "worsened", "unchanged")} == \
        {"improved": 1, "worsened": 0, "unchanged": 1}
    u2 = g["per_round"][2]["usage"]
    assert (u2["calls"], u2["input_tokens"], u2["input_tokens_total"]) == (2, 30.0, 60.0)
    assert g["stop_reasons"] == {"rounds exhausted": 2, "done marker": 1}
    # a tools-like round holding three model calls (attempts.extra.model_calls) counts three calls, not one
    db = tmp_path / "r" / "run.sqlite"
    con = sqlite3.connect(db)
    con.execute("""UPDATE attempts SET extra='{"model_calls": 3}' WHERE round=2 AND trajectory_id=(SELECT id FROM """
                "trajectories WHERE sample_id='a')")
    con.commit()
    con.close()
    (g,) = _report(db)["groups"]
    assert [r["usage"]["calls"] for r in g["per_round"]] == [3, 3, 4]


def test_epsilon_override_turns_small_changes_into_unchanged(tmp_path: Path) -> None:
    from svgarena.harness._rounds import parse_epsilon

    (g,) = _report(_store(tmp_path / "r"), epsilon=parse_epsilon(["ssim=0.3"]))["groups"]
    q = g["per_round"][1]["transition"]["quality"]["ssim"]  # a +0.2 is now noise; b +0.5, c -0.6 are not
    assert (q["improved"], q["worsened"], q["unchanged"], q["epsilon"]) == (1, 1, 1, 0.3)
    with pytest.raises(ValueError, match="expected metric=value"):
        parse_epsilon(["ssim"])


def test_selections_side_by_side_from_round_scores(tmp_path: Path) -> None:
    (g,) = _report(_store(tmp_path / "r"))["groups"]
    sel = g["selections"]
    # last: a 0.7 (r2), b 0.6 (r1), c 0.9 (r2); best-model: a chose r1 (0.7), others last;
    # best-oracle: a r1 (tie with r2 goes to the earlier), b r1 (r0 failed), c r2
    assert sel["last"]["metrics"]["ssim"]["mean"] == pytest.approx((0.7 + 0.6 + 0.9) / 3)
    assert sel["last"]["mean_round"] == pytest.approx(5 / 3) and sel["last"]["used_by_run"] == 3
    assert sel["best-model"]["mean_round"] == pytest.approx(4 / 3)
    assert sel["best-oracle"]["mean_round"] == pytest.approx(4 / 3) and sel["best-oracle"]["oracle"]
    data = {"a": [(True, 0.5, "x"), (True, 0.9, "y"), (True, 0.4, "z")], "b": [(True, 0.3, "p"), (True, 0.2, "q")]}
    (g,) = _report(_store(tmp_path / "s", data))["groups"]
    sel = g["selections"]
    assert sel["last"]["metrics"]["ssim"]["mean"] == pytest.approx((0.4 + 0.2) / 2)
    assert sel["best-model"]["metrics"]["ssim"]["mean"] == pytest.approx((0.9 + 0.2) / 2)
    assert sel["best-oracle"]["metrics"]["ssim"]["mean"] == pytest.approx((0.9 + 0.3) / 2)


def test_column_bootstrap_reproduces_bootstrap_mean_with_the_same_seed() -> None:
    rng = np.random.default_rng(3)
    values = rng.uniform(size=(50, 3))
    w = resample_weights(50, n_boot=300, seed=7)
    for j, ci in enumerate(column_intervals(values, weights=w)):
        ref = bootstrap_mean(values[:, j], n_boot=300, seed=7)
        assert (ci.mean, ci.lo, ci.hi, ci.n) == pytest.approx((ref.mean, ref.lo, ref.hi, ref.n))
    clusters = [i // 2 for i in range(50)]  # two epochs per sample move together
    wc = resample_weights(50, n_boot=300, seed=7, clusters=clusters)
    ci = column_intervals(values[:, :1], weights=wc)[0]
    ref = bootstrap_mean(values[:, 0], n_boot=300, seed=7, clusters=clusters)
    assert (ci.lo, ci.hi) == pytest.approx((ref.lo, ref.hi))
    # a NaN row carries no weight: the point estimate is over the rows present
    values[0, 0] = np.nan
    ci = column_intervals(values[:, :1], weights=w)[0]
    assert ci.n == 49 and ci.mean == pytest.approx(np.nanmean(values[:, 0]))


def test_oracle_arm_is_labelled(tmp_path: Path) -> None:
    arm = {"solver": "refine", "feedback": "oracle", "rounds": 3, "oracle": True}
    (g,) = _report(_store(tmp_path / "r", arm=arm))["groups"]
    assert g["oracle"] and g["arm"] == "refine oracle x3 [oracle]"


def test_strata_by_first_round_quintile_and_subject(tmp_path: Path) -> None:
    # ten samples: round 0 ssim 0.0 .. 0.9, round 1 adds 0.5 - round0 / 2 (low starters gain most)
    data = {f"s{i}": [(True, i / 10, f"a{i}"), (True, i / 10 + 0.5 - i / 20, f"b{i}")] for i in range(10)}
    db = _store(tmp_path / "q", data, subjects={f"s{i}": "Color" if i < 4 else None for i in range(10)})
    strata = {s["stratum"]: s for s in _report(db, by="first-round-quintile")["strata"]}
    assert sorted(strata) == ["Q1", "Q2", "Q3", "Q4", "Q5"] and all(s["n"] == 2 for s in strata.values())
    assert strata["Q1"]["gain"]["mean"] == pytest.approx(0.5 - 0.05 / 2)  # s0, s1: gains 0.5, 0.45
    assert strata["Q5"]["gain"]["mean"] == pytest.approx(0.5 - 0.85 / 2)  # s8, s9
    subj = {s["stratum"]: s for s in _report(db, by="subject")["strata"]}
    assert (subj["Color"]["n"], subj["unknown"]["n"]) == (4, 6)
    assert subj["Color"]["first"]["mean"] == pytest.approx(0.15)
    (task,) = _report(db, by="task")["strata"]
    assert task["stratum"] == TASK and task["n"] == 10
    with pytest.raises(ValueError, match="unknown --by"):
        _report(db, by="colour")


def test_cli_rounds_json_table_and_one_cell_recomputed_by_hand(tmp_path: Path) -> None:
    db = _store(tmp_path / "r")
    res = CliRunner().invoke(app, ["report", str(db.parent), "--rounds", "--json", "--bootstrap", "100"])
    assert res.exit_code == 0, res.output
    (g,) = json.loads(res.stdout)["rounds"]["groups"]
    con = sqlite3.connect(db)
    # round 1 as the report means it: every trajectory's round-1 score, or its last one when it stopped earlier
    (by_hand,) = con.execute(
        "SELECT AVG(value) FROM round_scores r WHERE metric='ssim' AND round = (SELECT MIN(1, MAX(round)) "
        "FROM attempts a WHERE a.trajectory_id = r.trajectory_id)").fetchone()
    con.close()
    assert g["per_round"][1]["metrics"]["ssim"]["mean"] == pytest.approx(by_hand)
    table = CliRunner().invoke(app, ["report", str(db.parent), "--rounds", "--by", "subject", "--bootstrap", "50"])
    assert table.exit_code == 0, table.output
    for text in ("m [refine render x3]", "per round", "transitions", "best-oracle (oracle)", "carry its last answer forward", "strata"):
        assert text in table.output
    bad = CliRunner().invoke(app, ["report", str(db.parent), "--rounds", "--epsilon", "ssim:1"])
    assert bad.exit_code == 2 and "expected metric=value" in bad.output and "Traceback" not in bad.output


@pytest.mark.timeout(180)
def test_scripted_refine_run_analysed_with_rounds(tmp_path: Path) -> None:
    """A real refine run (scripted server, real renders): poor SVG, then the reference once shown its render,
    then the same SVG again (identical-svg stop)."""
    from tests.harness.test_refine_run import _model, _run

    db, _ = _run(tmp_path, lambda refs: _model(refs), "refine", solver="refine", rounds=3, select="last")
    res = CliRunner().invoke(app, ["report", str(db.parent), "--rounds", "--json", "--bootstrap", "100"])
    assert res.exit_code == 0, res.output
    (g,) = json.loads(res.stdout)["rounds"]["groups"]
    assert (g["arm"], g["n"], g["rounds"]) == ("refine render x3", 2, 3)
    r0, r1, r2 = g["per_round"]
    assert r1["metrics"]["ssim"]["mean"] == pytest.approx(1.0) and r0["metrics"]["ssim"]["mean"] < 0.9
    assert r1["transition"]["quality"]["ssim"]["improved"] == 2 and r1["transition"]["no_op"] == 0
    assert r2["transition"]["no_op"] == 2 and r2["transition"]["quality"]["ssim"]["unchanged"] == 2
    assert (r1["transition"]["fixed"], r1["transition"]["broken"]) == (0, 0)
    assert g["stop_reasons"] == {"identical svg": 2}
    assert r0["usage"]["svg_bytes"] < r1["usage"]["svg_bytes"]  # the poor rect, then the real reference icon
    assert (r0["usage"]["input_tokens"], r0["usage"]["output_tokens"]) == (10.0, 20.0)  # the server's usage
    sel = g["selections"]
    assert sel["best-oracle"]["mean_round"] == 1.0 and sel["last"]["mean_round"] == 2.0
    assert sel["last"]["used_by_run"] == 2
    con = sqlite3.connect(db)
    (by_hand,) = con.execute("SELECT AVG(value) FROM round_scores WHERE metric='ssim' AND round=0").fetchone()
    con.close()
    assert r0["metrics"]["ssim"]["mean"] == pytest.approx(by_hand)


def test_round_set_scores_shown_per_round(tmp_path: Path) -> None:
    from types import SimpleNamespace

    db = _store(tmp_path / "r", task="icon/text2svg")
    store = RunStore(db)
    for r, fid in enumerate((40.0, 30.0, 25.0)):
        store.put_round_set_scores("icon/text2svg", "m", "refine", r, [
            SimpleNamespace(metric="fid", view="sarena", value=fid, n_ref=3, n_pred=3, error=None),
            SimpleNamespace(metric="fid", view="ok_only", value=fid - 5, n_ref=3, n_pred=2, error=None)])
    store.close()
    (g,) = _report(db)["groups"]
    assert [r["set_metrics"]["fid"] for r in g["per_round"]] == [
        {"sarena": 40.0, "ok_only": 35.0}, {"sarena": 30.0, "ok_only": 25.0}, {"sarena": 25.0, "ok_only": 20.0}]
    out = CliRunner().invoke(app, ["report", str(db.parent), "--rounds", "--bootstrap", "20"])
    assert out.exit_code == 0 and "FID (set)" in out.output and "30.00 (25.00)" in out.output


def test_headline_report_names_the_arm_and_marks_oracle_arms(tmp_path: Path) -> None:
    from rich.console import Console

    from svgarena.harness import load_results, tables

    arm = {"solver": "refine", "feedback": "oracle", "rounds": 3, "oracle": True}
    results = load_results(_store(tmp_path / "r", arm=arm).parent, bootstrap=0)
    (row,) = results["results"]
    assert (row["arm"], row["oracle"]) == ("refine oracle x3 [oracle]", True)
    console = Console(width=200, record=True)
    for t in tables(results):
        console.print(t)
    assert "m [refine oracle x3 [oracle]]" in console.export_text()
