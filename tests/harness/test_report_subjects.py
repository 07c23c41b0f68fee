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
