"""Understanding accuracy by subject: records without a Subject count under "unknown" (evaluate_un.py:33)."""

from __future__ import annotations

from pathlib import Path

from svgarena.harness._report import collect
from svgarena.harness._store import RunStore, TrajectoryKey


def test_records_without_subject_count_under_unknown(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "run.sqlite")
    store.init_run("r", {"suite": "x"}, {})
    rows = [("1", "Color", 100.0), ("2", "Color", 0.0), ("3", None, 100.0), ("4", None, 0.0), ("5", None, 0.0)]
    for sid, subject, value in rows:
        tid = store.start_trajectory(TrajectoryKey("icon/understanding", "m", "direct", sid), subject=subject)
        store.finish_trajectory(tid, outcome="ok", answer="A", scores=[("accuracy", value, True, None)])
    (entry,) = collect(store)["results"]
    # The reference's way: subject = obj.get("Subject", "unknown"), accuracy = correct / total per subject.
    per: dict[str, list[float]] = {}
    for _sid, subject, value in rows:
        per.setdefault(subject if subject is not None else "unknown", []).append(value)
    expected = {s: sum(v) / len(v) for s, v in per.items()}
    assert entry["accuracy_by_subject"] == expected
    store.close()


def _hand_interval(rows: list[tuple[str, int, float]], n_boot: int, seed: int) -> tuple[float, float]:
    """The report's 95% bootstrap by hand: rows sorted by (sample id, epoch); whole samples resampled
    when a sample has several epochs, else every row on its own."""
    import numpy as np

    rows = sorted(rows, key=lambda r: (r[0], r[1]))
    ids = list(dict.fromkeys(r[0] for r in rows))
    rng = np.random.default_rng(seed)
    if len(ids) == len(rows):  # one epoch per sample: plain bootstrap of the values
        values = np.array([r[2] for r in rows])
        means = values[rng.integers(0, len(values), size=(n_boot, len(values)))].mean(axis=1)
    else:  # cluster bootstrap: draw sample ids, each brings all its epochs
        sums = np.array([sum(r[2] for r in rows if r[0] == i) for i in ids])
        counts = np.array([sum(1 for r in rows if r[0] == i) for i in ids], dtype=float)
        draws = rng.integers(0, len(ids), size=(n_boot, len(ids)))
        means = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    lo, hi = np.quantile(means, [0.025, 0.975])
    return float(lo), float(hi)


def test_subject_accuracy_cells_carry_a_seeded_bootstrap_interval(tmp_path: Path) -> None:
    import csv
    import json

    import numpy as np
    import pytest
    from typer.testing import CliRunner

    from svgarena.cli import app

    rng = np.random.default_rng(11)
    # Color: 14 samples x 2 epochs (clustered by sample); Geometry: 9 samples, one epoch; Semantic: 1 sample
    rows = [(f"c{i:02d}", "Color", e, float(100 * rng.integers(0, 2))) for i in range(14) for e in (0, 1)]
    rows += [(f"g{i}", "Geometry", 0, float(100 * rng.integers(0, 2))) for i in range(9)]
    rows += [("s0", "Semantic", 0, 100.0)]
    order = rng.permutation(len(rows))  # stored in a shuffled order: the interval must not care
    run = tmp_path / "run"
    run.mkdir()
    store = RunStore(run / "run.sqlite")
    store.init_run("r", {"seed": 3}, {})
    for k in order:
        sid, subject, epoch, value = rows[k]
        tid = store.start_trajectory(TrajectoryKey("icon/understanding", "m", "direct", sid, epoch), subject=subject)
        store.finish_trajectory(tid, outcome="ok", answer="A", scores=[("accuracy", value, True, None)])
    store.close()

    per: dict[str, list[tuple[str, int, float]]] = {}
    for sid, subject, epoch, value in rows:
        per.setdefault(subject, []).append((sid, epoch, value))
    res = CliRunner().invoke(app, ["report", str(run), "--json", "--bootstrap", "400", "--csv", str(tmp_path / "csv")])
    assert res.exit_code == 0, res.output
    (entry,) = json.loads(res.stdout)["results"]
    cis = entry["accuracy_by_subject_ci"]
    assert set(cis) == {"Color", "Geometry", "Semantic"}
    for subject in ("Color", "Geometry"):
        values = [r[2] for r in per[subject]]
        lo, hi = _hand_interval(per[subject], 400, 3)
        assert cis[subject]["mean"] == pytest.approx(sum(values) / len(values)) == entry["accuracy_by_subject"][subject]
        assert (cis[subject]["lo"], cis[subject]["hi"]) == pytest.approx((lo, hi))
        assert cis[subject]["n"] == entry["accuracy_by_subject_n"][subject] == len(values)
    # Color's epochs move together: its interval differs from the unclustered one over the same 28 rows
    flat = [(f"{sid}-{e}", 0, v) for sid, e, v in per["Color"]]
    assert _hand_interval(flat, 400, 3) != pytest.approx((cis["Color"]["lo"], cis["Color"]["hi"]))
    # one sample: a mean and its n, no interval (as every other cell)
    assert cis["Semantic"] == {"mean": 100.0, "lo": None, "hi": None, "n": 1}

    # the table shows each subject's interval in the accuracy format
    shown = CliRunner().invoke(app, ["report", str(run), "--bootstrap", "400"])
    assert shown.exit_code == 0, shown.output
    for subject in ("Color", "Geometry"):
        assert f"[{cis[subject]['lo']:.1f}, {cis[subject]['hi']:.1f}]" in shown.output
    # cells.csv: one accuracy row per subject with its interval and n
    with (tmp_path / "csv" / "cells.csv").open() as fh:
        cells = {c["subject"]: c for c in csv.DictReader(fh) if c["subject"]}
    assert set(cells) == {"Color", "Geometry", "Semantic"}
    assert float(cells["Geometry"]["lo"]) == pytest.approx(cis["Geometry"]["lo"])
    assert int(cells["Color"]["n"]) == 28 and cells["Color"]["metric"] == "accuracy"
    # --bootstrap 0: the n stays, the interval goes
    plain = json.loads(CliRunner().invoke(app, ["report", str(run), "--json", "--bootstrap", "0"]).stdout)["results"][0]
    assert "accuracy_by_subject_ci" not in plain and plain["accuracy_by_subject_n"]["Geometry"] == 9
