"""`report --paper` (published rows with their source) and exports: `--csv DIR`, `load_samples`."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from svgarena.cli import app
from svgarena.harness import RunStore, TrajectoryKey, load_samples
from svgarena.harness._paper import PUBLISHED, paper_data
from tests.harness.test_rounds import _store


def _baseline_run(path: Path, suite: str = "sarena-mini") -> Path:
    path.mkdir(parents=True)
    store = RunStore(path / "run.sqlite")
    store.init_run(path.name, {"seed": 0, "suite": suite}, {})
    for task in ("icon/img2svg", "icon/edit/color_simple", "illustration/img2svg"):
        for i in range(3):
            tid = store.start_trajectory(TrajectoryKey(task, "baseline/vtracer", "direct", str(i), 0))
            store.add_attempt(tid, {"round": 0, "outcome": "ok"})
            scores = [("ssim", 0.8 + 0.01 * i, True, None), ("psnr", 20.0 + i, True, None)]
            store.finish_trajectory(tid, outcome="ok", answer=None, scores=scores,
                                    round_scores=[(0, m, v, ok, e) for m, v, ok, e in scores])
    store.close()
    return path


def _numbers(text: str) -> set[float]:
    return {float(x) for x in re.findall(r"\d*\.\d+|\d+", text)}


#: The project's reference notes the sarena-md rows were transcribed from (beside the repository, when present).
SARENA_MD = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "SARENA.md"


def test_every_published_number_is_in_its_quoted_source() -> None:
    data = paper_data()
    # where the source notes are here, every sarena-md quote must be in them word for word (line breaks
    # in the Markdown are only wrapping: whitespace runs compare as one space)
    source = " ".join(SARENA_MD.read_text(encoding="utf-8").split()) if SARENA_MD.is_file() else None
    for row in data["rows"]:
        assert data["sources"][row["source"]]["cite"] and row["quote"]
        values = [*row["metrics"].values(), *([row["success_rate"]] if row.get("success_rate") is not None else [])]
        for v in values:
            assert float(v) in _numbers(row["quote"]), (row["model"], row["task"], v)
        if source is not None and row["source"] == "sarena-md":
            assert " ".join(row["quote"].split()) in source, (row["model"], row["task"], row["quote"])


def test_paper_rows_beside_the_run_marked_not_comparable(tmp_path: Path) -> None:
    run = _baseline_run(tmp_path / "base")
    res = CliRunner().invoke(app, ["report", str(run), "--paper", "--json", "--bootstrap", "0"])
    assert res.exit_code == 0, res.output
    paper = json.loads(res.stdout)["paper"]
    rows = {(r["task"], r["model"]): r for r in paper["rows"]}
    # icon/img2svg: the three published models, with the metrics the task reports (computed here or not)
    assert {m for t, m in rows if t == "icon/img2svg"} == {"InternSVG-8B", "Claude-Sonnet-4", "VTracer"}
    assert rows[("icon/img2svg", "VTracer")]["metrics"] == {"dino": 0.966, "ssim": 0.875, "lpips": 0.054,
                                                             "psnr": 21.75}
    assert rows[("icon/img2svg", "VTracer")]["success_rate"] == 100.0
    # the paper's edit figures (one mean over every edit sample) stand beside the icon/edit overall row only
    assert rows[("icon/edit", "InternSVG-8B")]["paper_task"] == "icon/edit"
    assert rows[("icon/edit", "InternSVG-8B")]["metrics"] == {"dino": 0.989, "ssim": 0.952, "lpips": 0.036,
                                                            "psnr": 77.33}
    assert not any(t.startswith("icon/edit/") for t, _ in rows)
    assert not any(t == "illustration/img2svg" for t, _ in rows)  # nothing published for it here
    assert all(r["label"] == PUBLISHED for r in paper["rows"])
    assert "NOT comparable" in paper["note"] and "sarena-mini" in paper["note"]
    table = CliRunner().invoke(app, ["report", str(run), "--paper", "--bootstrap", "0"])
    assert table.exit_code == 0, table.output
    flat = " ".join(table.output.split())
    for text in ("this run beside the paper", PUBLISHED, "NOT comparable", "arXiv:2510.11341", "0.875", "21.75"):
        assert text in flat


def test_load_samples_long_frame_and_csv_tables(tmp_path: Path) -> None:
    db = _store(tmp_path / "r")
    df = load_samples(db.parent)
    assert len(df) == 8  # 3 + 2 + 3 rounds, one metric each
    row = df[(df.sample_id == "b") & (df["round"] == 1)].iloc[0]
    assert (row.metric, row.value, bool(row.ok), row.arm, row.stop_reason) == ("ssim", 0.6, True, "refine render x3",
                                                                               "done marker")
    assert df.groupby("trajectory_id")["selected"].sum().tolist() == [1, 1, 1]  # selection last: one headline round
    assert df["input_tokens"].sum() == 10 * (1 + 2 + 3) * 2 + 10 * (1 + 2)
    out = tmp_path / "csv"
    res = CliRunner().invoke(app, ["report", str(db.parent), "--rounds", "--by", "subject", "--csv", str(out),
                                   "--bootstrap", "50"])
    assert res.exit_code == 0, res.output
    names = {p.name for p in out.iterdir()}
    assert names == {"samples.csv", "cells.csv", "round_cells.csv", "transitions.csv", "selections.csv", "strata.csv"}
    with (out / "round_cells.csv").open() as fh:
        cells = list(csv.DictReader(fh))
    r2 = next(c for c in cells if c["round"] == "2" and c["metric"] == "ssim")
    assert float(r2["mean"]) == pytest.approx((0.7 + 0.6 + 0.9) / 3) and r2["n_active"] == "2"
    with (out / "transitions.csv").open() as fh:
        tr = [t for t in csv.DictReader(fh) if t["metric"] == "success"]
    assert [(t["fixed"], t["broken"], t["no_op"]) for t in tr] == [("1", "1", "0"), ("1", "0", "1")]
    with (out / "samples.csv").open() as fh:
        assert len(list(csv.DictReader(fh))) == 8
    blocked = tmp_path / "file"
    blocked.write_text("x")
    bad = CliRunner().invoke(app, ["report", str(db.parent), "--csv", str(blocked)])
    assert bad.exit_code == 2 and "not a folder" in bad.output
