"""The CLI as a user meets it: help, a small run, the report from the store, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.tasks._layout import make_layout

CLI = [sys.executable, "-m", "svgarena.cli"]


def _svgarena(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


def test_help_is_fast() -> None:
    t0 = time.perf_counter()
    res = _svgarena("--help")
    assert res.returncode == 0 and "run" in res.stdout and "report" in res.stdout
    assert time.perf_counter() - t0 < 3.0  # includes interpreter start; the import itself is ~0.2 s
    # heavy modules stay unimported at start-up
    probe = subprocess.run([sys.executable, "-c", "import sys, svgarena.cli; "
                            "print(sorted(m for m in ('numpy','litellm','cairosvg','playwright','torch') if m in sys.modules))"],
                           capture_output=True, text=True)
    assert probe.stdout.strip() == "[]"


def test_run_third_party_folder_then_report(tmp_path: Path) -> None:
    suite = make_layout(tmp_path / "SArena", n=3)
    out = tmp_path / "runs"
    res = _svgarena("run", "--suite", str(suite), "--task", "icon/*", "--model", "baseline/oracle",
                    "--model", "baseline/blank", "--out", str(out), "--run-id", "t1", "--json")
    assert res.returncode == 0, res.stderr
    results = json.loads(res.stdout)
    rows = {(r["task"], r["model"]): r for r in results["results"]}
    oracle = rows[("icon/img2svg", "baseline/oracle")]
    assert oracle["success_rate"] == 100.0
    assert oracle["metrics"]["ssim"]["sarena"] == 1.0 and oracle["metrics"]["psnr"]["sarena"] == 100.0
    assert rows[("icon/understanding", "baseline/oracle")]["metrics"]["accuracy"]["sarena"] == 100.0
    blank = rows[("icon/edit/flip", "baseline/blank")]
    assert blank["success_rate"] == 0.0 and blank["failures"] == {"no_svg": 3}
    assert blank["metrics"]["ssim"]["sarena"] < 1.0 and blank["metrics"]["ssim"]["ok_only"] is None
    assert not blank["metrics"]["dino"]["computed"]  # not computed is not zero
    meta = results["meta"]
    assert meta["seed"] == 0 and "packages" in meta and meta["tokenizer"]
    assert results["config"]["models"] == ["baseline/oracle", "baseline/blank"]

    report = _svgarena("report", "t1", "--out", str(out))
    assert report.returncode == 0, report.stderr
    assert "icon/img2svg" in report.stdout and "baseline/oracle" in report.stdout and "1.000" in report.stdout
    assert f"Tokens ({meta['tokenizer']})" in report.stdout
    again = json.loads(_svgarena("report", str(out / "t1"), "--json").stdout)
    assert again["results"] == results["results"]


def test_user_errors_are_one_line(tmp_path: Path) -> None:
    res = _svgarena("run", "--suite", str(tmp_path / "nowhere"))
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "not a suite name" in res.stderr
    res = _svgarena("run", "--task", "icon/nothing", "--out", str(tmp_path))
    assert res.returncode == 2 and "no task matches" in res.stderr
    res = _svgarena("run", "--choice", "llm", "--out", str(tmp_path))
    assert res.returncode == 2 and res.stderr.count("\n") == 1
    assert "--choice 'llm' is not one of official, vlmevalkit, first-letter" in res.stderr
    res = _svgarena("run", "--video-input", "gif", "--out", str(tmp_path))
    assert res.returncode == 2 and "--video-input 'gif' is not one of official, labelled" in res.stderr
    res = _svgarena("report", "missing-run", "--out", str(tmp_path))
    assert res.returncode == 2 and "no such run" in res.stderr
    bad = make_layout(tmp_path / "bad", n=1)
    (bad / "Icon/generation/img2svg.jsonl").write_text("{oops\n")
    res = _svgarena("run", "--suite", str(bad), "--task", "icon/img2svg", "--out", str(tmp_path))
    assert res.returncode == 2 and "img2svg.jsonl:1: not valid JSON" in res.stderr
