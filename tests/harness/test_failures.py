"""Failure reasons reach the user: the end-of-run output and `report` (text and --json) say why samples failed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from svgarena.harness import RunStore, TrajectoryKey, failure_reasons, short_reason

CLI = [sys.executable, "-m", "svgarena.cli"]
MISSING_KEY = ("gave up after 5 retries: InternalServerError: litellm.InternalServerError: InternalServerError: "
               "OpenAIException - Missing credentials. Please pass an `api_key`, `workload_identity`, "
               "`admin_api_key`, or set the `OPENAI_API_KEY` or `OPENAI_ADMIN_KEY` environment variable.")


def _svgarena(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120)


def _failing_run(root: Path) -> Path:
    """A store as a run where gpt-4o had no key writes it: 3 failures (2 causes) and 1 success."""
    path = root / "failing" / "run.sqlite"
    store = RunStore(path)
    store.init_run("failing", {"tasks": ["icon/img2svg"]}, {})
    rows = [("0", "model_error", MISSING_KEY), ("1", "model_error", MISSING_KEY.replace(" ", "  ")),
            ("2", "no_svg", "no <svg> element in the reply"), ("3", "ok", None)]
    for sample_id, outcome, reason in rows:
        tid = store.start_trajectory(TrajectoryKey("icon/img2svg", "openai/gpt-4o", "direct", sample_id))
        store.add_attempt(tid, {"round": 0, "outcome": outcome, "reason": reason})
        store.finish_trajectory(tid, outcome=outcome, answer=None, scores=[])
    store.set_status("finished")
    store.close()
    return path.parent


def test_short_reason_keeps_the_cause_and_the_fix() -> None:
    line = short_reason(MISSING_KEY)
    assert len(line) <= 160 and "\n" not in line
    assert line.startswith("gave up after 5 retries: InternalServerError: OpenAIException")  # chain said once
    assert "OPENAI_API_KEY" in line  # the tail, where the fix is, survives the cut
    assert short_reason("a\n  b") == "a b" and short_reason(None) == "(no reason recorded)"


def test_identical_reasons_are_grouped_most_common_first(tmp_path: Path) -> None:
    store = RunStore.open_existing(_failing_run(tmp_path) / "run.sqlite", readonly=True)
    try:
        (entry,) = failure_reasons(store)
    finally:
        store.close()
    assert entry["failed"] == 3
    assert [(r["count"], r["outcome"]) for r in entry["reasons"]] == [(2, "model_error"), (1, "no_svg")]


def test_report_text_and_json_show_reasons(tmp_path: Path) -> None:
    run = _failing_run(tmp_path)
    text = _svgarena("report", str(run))
    assert text.returncode == 0, text.stderr
    line = next(ln for ln in text.stdout.splitlines() if "2 x model_error" in ln)
    assert "openai/gpt-4o" in line and "OPENAI_API_KEY" in line and "icon/img2svg" in line
    assert "1 x no_svg: no <svg> element in the reply" in text.stdout
    data = json.loads(_svgarena("report", str(run), "--json").stdout)
    (entry,) = data["failure_reasons"]
    assert entry["model"] == "openai/gpt-4o" and entry["reasons"][0]["count"] == 2
    assert "OPENAI_API_KEY" in entry["reasons"][0]["reason"]


def test_end_of_run_output_says_why_samples_failed(tmp_path: Path) -> None:
    # An explicitly requested baseline that cannot answer the task fails every sample, fast and offline.
    done = _svgarena("run", "--model", "baseline/vtracer", "--task", "chemistry/text2svg", "--limit", "2",
                     "--out", str(tmp_path), "--run-id", "nokey")
    assert done.returncode == 0, done.stderr
    assert "2 x model_error: baseline/vtracer needs an input image" in done.stdout
    again = _svgarena("report", "nokey", "--out", str(tmp_path))
    assert "2 x model_error: baseline/vtracer needs an input image" in again.stdout
