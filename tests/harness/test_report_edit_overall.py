"""The icon/edit headline row and the official token-length figure, checked against evaluate_edit.py's way."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from svgarena.harness._report import collect, tables
from svgarena.harness._store import RunStore, TrajectoryKey


class _Meter:  # metrics/average_meter.py restated
    def __init__(self) -> None:
        self.sum, self.count, self.avg = 0.0, 0, 0.0

    def update(self, val: float, n: int = 1) -> None:
        self.sum += val * n
        self.count += n
        self.avg = self.sum / self.count


# subtask -> [(ssim, psnr, tokens or None when the sample failed)]: unequal sizes, failures in two
def _data() -> dict[str, list[tuple[float, float, int | None]]]:
    rng = random.Random(7)
    sizes = {"crop": 3, "flip": 1, "scale": 6, "color_simple": 2}
    data = {}
    for name, n in sizes.items():
        rows = []
        for i in range(n):
            failed = (name == "scale" and i in (1, 4)) or (name == "crop" and i == 0)
            tokens = None if failed else rng.randint(50, 900)
            rows.append((rng.uniform(0.1, 0.6) if failed else rng.uniform(0.7, 1.0), rng.uniform(5, 90), tokens))
        data[name] = rows
    return data


def _store(tmp_path: Path, data) -> RunStore:
    store = RunStore(tmp_path / "run.sqlite")
    store.init_run("r", {"suite": "x", "seed": 0}, {})
    for name, rows in data.items():
        for i, (ssim, psnr, tokens) in enumerate(rows):
            ok = tokens is not None
            tid = store.start_trajectory(TrajectoryKey(f"icon/edit/{name}", "m", "direct", f"{name}-{i}"))
            store.finish_trajectory(tid, outcome="ok" if ok else "render_error", answer="x", scores=[
                ("ssim", ssim, ok, None), ("psnr", psnr, ok, None),
                ("token_length", float(tokens) if ok else None, ok, None)])
    return store


def test_edit_overall_is_one_sample_weighted_mean_in_both_views(tmp_path: Path) -> None:
    data = _data()
    store = _store(tmp_path, data)
    results = collect(store, bootstrap=50)
    overall = [r for r in results["results"] if r["task"] == "icon/edit"]
    assert len(overall) == 1
    (row,) = overall
    # evaluate_edit.py: one calculator, each subtask's mean fed with its count; summarize = meter.avg
    ssim_meter, psnr_meter = _Meter(), _Meter()
    for rows in data.values():
        ssim_meter.update(sum(r[0] for r in rows) / len(rows), len(rows))
        psnr_meter.update(sum(r[1] for r in rows) / len(rows), len(rows))
    assert row["metrics"]["ssim"]["sarena"] == pytest.approx(ssim_meter.avg)
    assert row["metrics"]["psnr"]["sarena"] == pytest.approx(psnr_meter.avg)
    # the mean of the subtask means differs (unequal sizes): the row is not that
    macro = sum(sum(r[0] for r in rows) / len(rows) for rows in data.values()) / len(data)
    assert row["metrics"]["ssim"]["sarena"] != pytest.approx(macro)
    ok = [r for rows in data.values() for r in rows if r[2] is not None]
    assert row["metrics"]["ssim"]["ok_only"] == pytest.approx(sum(r[0] for r in ok) / len(ok))
    assert row["n"] == 12 and row["n_ok"] == len(ok)
    assert row["success_rate"] == pytest.approx(100.0 * len(ok) / 12)  # global success rate, evaluate_edit.py:117
    assert row["failures"] == {"render_error": 3}
    assert row["metrics"]["ssim"]["ci"]["sarena"]["lo"] <= row["metrics"]["ssim"]["sarena"]
    # placed after the subtask rows, and JSON-serialisable
    tasks = [r["task"] for r in results["results"]]
    assert tasks[-1] == "icon/edit" and all(t.startswith("icon/edit/") for t in tasks[:-1])
    json.dumps(results, default=str)
    store.close()


def test_official_token_length_is_the_never_reset_running_mean(tmp_path: Path) -> None:
    data = _data()
    store = _store(tmp_path, data)
    results = collect(store, bootstrap=0)
    row = next(r for r in results["results"] if r["task"] == "icon/edit")
    tok = row["metrics"]["token_length"]
    # true means: per subtask and overall, over valid predictions
    valid = {k: [r[2] for r in rows if r[2] is not None] for k, rows in data.items()}
    allv = [v for vs in valid.values() for v in vs]
    assert tok["ok_only"] == pytest.approx(sum(allv) / len(allv))
    for r in results["results"]:
        if r["task"].startswith("icon/edit/"):
            vs = valid[r["task"].split("/")[-1]]
            assert r["metrics"]["token_length"]["ok_only"] == pytest.approx(sum(vs) / len(vs))
    # token_length.py restated: meter_pred_tokens never reset; self.meter fed running avg x valid_len
    pred_meter, summary = _Meter(), _Meter()
    printed = {}
    for name in sorted(valid):  # the directory order svgarena assumes (as `ls` lists it)
        for v in valid[name]:
            pred_meter.update(v, 1)
        printed[name] = pred_meter.avg
        summary.update(pred_meter.avg, len(valid[name]))
    official = tok["official"]
    assert official["order"] == sorted(valid)
    assert official["printed"] == pytest.approx(printed)
    assert official["summary"] == pytest.approx(summary.avg)
    assert official["summary"] != pytest.approx(tok["ok_only"])
    store.close()


def test_overall_row_in_the_table(tmp_path: Path) -> None:
    from rich.console import Console

    store = _store(tmp_path, _data())
    results = collect(store, bootstrap=0)
    console = Console(width=250, record=True)
    for t in tables(results):
        console.print(t)
    text = console.export_text()
    assert "icon/edit (all 4)" in text
    from svgarena.harness import official_edit_lines

    (line,) = official_edit_lines(results)
    assert "official evaluate_edit.py token length" in line
    store.close()


def test_one_caption_per_report(tmp_path: Path) -> None:
    """The legend is printed once under all tables, not repeated as every table's caption."""
    from typer.testing import CliRunner

    from svgarena.cli import app

    store = _store(tmp_path, _data())
    # a second task family, so the report has more than one table
    tid = store.start_trajectory(TrajectoryKey("icon/understanding", "m", "direct", "u1"))
    store.finish_trajectory(tid, outcome="ok", answer="A", scores=[("accuracy", 100.0, True, None)])
    store.set_status("finished")
    store.close()
    res = CliRunner().invoke(app, ["report", str(tmp_path), "--bootstrap", "20"])
    assert res.exit_code == 0, res.output
    assert res.stdout.count("cells: SArena view") == 1
    assert res.stdout.count("understanding") >= 1 and res.stdout.count("edit") >= 1
    assert "icon/edit (all N): one sample-weighted mean" in res.stdout
    assert "[lo, hi]: 95% bootstrap interval" in res.stdout
    for table in tables(collect(RunStore.open_existing(tmp_path / "run.sqlite"), bootstrap=0)):
        assert not table.caption


def test_usage_is_not_counted_twice(tmp_path: Path) -> None:
    from rich.console import Console

    from svgarena.harness import usage_table

    store = _store(tmp_path, _data())
    tid = store.start_trajectory(TrajectoryKey("icon/edit/crop", "m", "direct", "extra"))
    store.add_attempt(tid, {"round": 0, "outcome": "ok", "input_tokens": 7, "output_tokens": 5})
    store.finish_trajectory(tid, outcome="ok", answer="x", scores=[])
    results = collect(store, bootstrap=0)
    row = next(r for r in results["results"] if r["task"] == "icon/edit")
    assert row["usage"]["input_tokens"] == 7  # the overall row sums its subtasks ...
    console = Console(width=200, record=True)
    console.print(usage_table(results))
    line = next(l for l in console.export_text().splitlines() if l.lstrip("│ ").startswith("m "))
    assert " 7 " in line and " 14 " not in line  # ... but the usage table counts each call once
    store.close()
