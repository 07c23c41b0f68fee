"""Equal-budget `compare` over arms: calls and tokens per arm on the shared samples, and whether they match."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from svgarena.cli import app
from svgarena.harness import RunStore, TrajectoryKey, compare_runs
from svgarena.harness._budget import match

TASK = "icon/img2svg"


def _arm_run(path: Path, arm: dict, calls: dict[str, list[tuple[int, ...]]], ssim: float) -> Path:
    """One run of one arm: per sample, its rounds as (input, output) tokens, or (input, output, model calls)
    for a tools-like round that holds several model calls (``attempts.extra.model_calls``)."""
    path.mkdir(parents=True)
    store = RunStore(path / "run.sqlite")
    store.init_run(path.name, {"seed": 0}, {})
    for sid, rounds in calls.items():
        tid = store.start_trajectory(TrajectoryKey(TASK, "m", arm["solver"], sid, 0))
        for r, (i, o, *n) in enumerate(rounds):
            store.add_attempt(tid, {"round": r, "outcome": "ok", "input_tokens": i, "output_tokens": o,
                                    **({"extra": {"model_calls": n[0]}} if n else {})})
        store.finish_trajectory(tid, outcome="ok", answer=None, scores=[("ssim", ssim + 0.01 * int(sid), True, None)],
                                arm=arm, round_scores=[(r, "ssim", ssim, True, None) for r in range(len(rounds))])
    store.close()
    return path / "run.sqlite"


def test_refine_vs_resample_vs_none_budgets_by_hand(tmp_path: Path) -> None:
    # refine: conversation grows (input 100, 300, 500); sample 2 stopped after two rounds
    refine = _arm_run(tmp_path / "refine", {"solver": "refine", "feedback": "render", "rounds": 3, "oracle": False},
                      {"1": [(100, 50), (300, 50), (500, 50)], "2": [(100, 50), (300, 50)], "3": [(100, 50)] * 3}, 0.6)
    resample = _arm_run(tmp_path / "resample", {"solver": "resample", "feedback": "none", "samples": 3, "oracle": False},
                        {"1": [(100, 50)] * 3, "2": [(100, 50)] * 3, "3": [(100, 50)] * 3, "4": [(100, 50)] * 3}, 0.5)
    none = _arm_run(tmp_path / "none", {"solver": "refine", "feedback": "none", "rounds": 3, "oracle": False},
                    {"1": [(100, 50), (160, 50), (220, 50)], "2": [(100, 50), (160, 50), (230, 50)],
                     "3": [(100, 50), (160, 50), (220, 50)]}, 0.55)
    res = compare_runs([refine, resample, none], n_boot=50)
    by_other = {c["other"]["arm"]: c for c in res["comparisons"]}
    assert set(by_other) == {"resample x3", "refine none x3"}
    c = by_other["resample x3"]
    assert c["baseline"]["arm"] == "refine render x3" and (c["shared"], c["dropped_other"]) == (3, 1)
    b, o = c["budget"]["baseline"], c["budget"]["other"]
    # refine: 8 calls; tokens 900+150 + 400+100 + 300+150 = 2000. resample on the 3 shared samples: 9 calls, 1350
    assert (b["calls"], b["tokens"], o["calls"], o["tokens"]) == (8, 2000, 9, 1350)
    m = c["budget"]["match"]
    assert m["calls_diff"] == pytest.approx(1 / 8) and m["tokens_diff"] == pytest.approx(1350 / 2000 - 1)
    assert not m["matched"] and m["verdict"].startswith("NOT matched: calls +12%, tokens -32%")
    n = by_other["refine none x3"]["budget"]
    assert (n["other"]["calls"], n["other"]["tokens"]) == (9, 100 * 3 + 160 * 3 + 670 + 450)
    assert by_other["refine none x3"]["budget"]["match"]["calls_diff"] == pytest.approx(1 / 8)


def test_match_tolerance_and_cli_tables(tmp_path: Path) -> None:
    assert match({"calls": 10, "tokens": 1000}, {"calls": 10, "tokens": 1090}, 0.10)["matched"]
    assert not match({"calls": 10, "tokens": 1000}, {"calls": 10, "tokens": 1110}, 0.10)["matched"]
    assert match({"calls": 0, "tokens": 0}, {"calls": 3, "tokens": 0})["verdict"].startswith("NOT matched: calls n/a")
    a = _arm_run(tmp_path / "a", {"solver": "refine", "feedback": "render", "rounds": 2, "oracle": False},
                 {"1": [(100, 50)] * 2, "2": [(100, 50)] * 2}, 0.6)
    b = _arm_run(tmp_path / "b", {"solver": "resample", "feedback": "none", "samples": 2, "oracle": False},
                 {"1": [(100, 50)] * 2, "2": [(100, 50)] * 2}, 0.5)
    res = CliRunner().invoke(app, ["compare", str(a.parent), str(b.parent), "--bootstrap", "50"])
    assert res.exit_code == 0, res.output
    assert "m [refine render x2]" in res.output and "m [resample x2]" in res.output
    assert "matched (calls +0%, tokens +0%" in res.output
    js = CliRunner().invoke(app, ["compare", str(a.parent), str(b.parent), "--json", "--bootstrap", "50",
                                  "--budget-tolerance", "0"])
    (c,) = json.loads(js.stdout)["comparisons"]
    assert c["budget"]["match"]["matched"] and c["budget"]["baseline"]["calls_per_sample"] == 2.0
    bad = CliRunner().invoke(app, ["compare", str(a.parent), str(b.parent), "--budget-tolerance", "-1"])
    assert bad.exit_code == 2 and "--budget-tolerance" in bad.output
    # a tools round that holds three model calls counts three, not one
    t = _arm_run(tmp_path / "t", {"solver": "tools", "feedback": "tool", "oracle": False},
                 {"1": [(100, 50, 3)], "2": [(100, 50), (100, 50)]}, 0.5)
    (c,) = compare_runs([a, t], n_boot=50)["comparisons"]
    assert (c["budget"]["baseline"]["calls"], c["budget"]["other"]["calls"]) == (4, 5)


def test_compare_by_subject_and_first_round_quintile(tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    store = RunStore(tmp_path / "r" / "run.sqlite")
    store.init_run("r", {"seed": 0}, {})
    for i in range(20):
        for model, acc in (("a", 100.0 if i % 2 else 0.0), ("b", 100.0 if (i % 2 or i < 10) else 0.0)):
            tid = store.start_trajectory(TrajectoryKey("icon/understanding", model, "direct", str(i), 0),
                                         subject="Color" if i < 10 else "Shape")
            store.add_attempt(tid, {"round": 0, "outcome": "ok"})
            store.finish_trajectory(tid, outcome="ok", answer=None, scores=[("accuracy", acc, True, None)],
                                    round_scores=[(0, "accuracy", acc, True, None)])
        for model, v in (("a", i / 20), ("b", i / 20 + (0.2 if i < 4 else 0.0))):  # b gains only on low starters
            tid = store.start_trajectory(TrajectoryKey(TASK, model, "direct", str(i), 0))
            store.add_attempt(tid, {"round": 0, "outcome": "ok"})
            store.finish_trajectory(tid, outcome="ok", answer=None, scores=[("ssim", v, True, None)],
                                    round_scores=[(0, "ssim", v, True, None)])
    store.close()
    db = tmp_path / "r" / "run.sqlite"
    res = compare_runs([db], n_boot=50, by="subject")
    und = next(c for c in res["comparisons"] if c["task"] == "icon/understanding")
    strata = {s["stratum"]: s for s in und["strata"]}
    color = next(r for r in strata["Color"]["metrics"] if r["metric"] == "accuracy")
    shape = next(r for r in strata["Shape"]["metrics"] if r["metric"] == "accuracy")
    # Color: b right on the 5 even samples a misses; Shape: identical answers
    assert (strata["Color"]["shared"], color["delta"], color["other_only"], color["baseline_only"]) == (10, 50.0, 5, 0)
    assert shape["delta"] == 0 and shape["verdict"] == "no significant difference"
    res = compare_runs([db], n_boot=50, by="first-round-quintile")
    img = next(c for c in res["comparisons"] if c["task"] == TASK)
    q = {s["stratum"]: next(r for r in s["metrics"] if r["metric"] == "ssim") for s in img["strata"]}
    assert sorted(q) == [f"Q{i} (ssim)" for i in range(1, 6)]
    assert q["Q1 (ssim)"]["delta"] == pytest.approx(0.2) and q["Q1 (ssim)"]["n"] == 4
    assert q["Q5 (ssim)"]["delta"] == pytest.approx(0.0)
    out = CliRunner().invoke(app, ["compare", str(db), "--by", "subject", "--bootstrap", "50"])
    assert out.exit_code == 0 and "paired comparisons by subject" in out.output and "Color" in out.output
    bad = CliRunner().invoke(app, ["compare", str(db), "--by", "colour"])
    assert bad.exit_code == 2 and "unknown --by" in bad.output


@pytest.mark.timeout(300)
def test_real_refine_and_resample_runs_compared_at_equal_budget(tmp_path: Path) -> None:
    """Two real runs through the solvers (scripted server, real renders), then one `compare` over the arms."""
    from tests.harness.test_refine_run import _model, _run

    refine, _ = _run(tmp_path / "a", lambda refs: _model(refs, vary=True), "refine", solver="refine", rounds=2)
    resample, _ = _run(tmp_path / "b", lambda refs: _model(refs, vary=True), "resample", solver="resample", samples=2)
    res = CliRunner().invoke(app, ["compare", str(refine.parent), str(resample.parent), "--json", "--bootstrap", "50"])
    assert res.exit_code == 0, res.output
    (c,) = json.loads(res.stdout)["comparisons"]
    assert (c["baseline"]["arm"], c["other"]["arm"]) == ("refine render x2", "resample x2")
    b, o = c["budget"]["baseline"], c["budget"]["other"]
    # two samples x two calls each; the scripted server reports 10 + 20 tokens per call
    assert (b["calls"], o["calls"], b["tokens"], o["tokens"]) == (4, 4, 120, 120)
    assert c["budget"]["match"]["matched"]
    ssim = next(r for r in c["metrics"] if r["metric"] == "ssim")
    assert ssim["baseline"] == pytest.approx(1.0) and ssim["delta"] < 0  # refine saw its render and fixed it
