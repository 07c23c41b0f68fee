"""Bad arguments get one clear error line and exit 2, never a traceback (real subprocesses, as a user runs them)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'


def _svgarena(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "svgarena.cli", *args], capture_output=True, text=True, timeout=120)


def _one_error_line(res: subprocess.CompletedProcess) -> str:
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr + res.stdout
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr
    return lines[0]


@pytest.mark.parametrize(("animate", "name", "expected"), [
    (True, "out.out", "with --animate the output is an MP4 video; give a .mp4 name (got '.out')"),
    (False, "out.jpg", "the output is a PNG image (--animate for MP4); give a .png name (got '.jpg')"),
])
def test_render_checks_the_output_extension_before_rendering(tmp_path: Path, animate: bool, name: str,
                                                              expected: str) -> None:
    svg = tmp_path / "a.svg"
    svg.write_text(SVG)
    out = tmp_path / name
    res = _svgarena("render", str(svg), *(["--animate"] if animate else []), "-o", str(out))
    assert expected in _one_error_line(res)
    assert not out.exists()


def test_render_of_a_missing_file(tmp_path: Path) -> None:
    line = _one_error_line(_svgarena("render", str(tmp_path / "nope.svg"), "-o", str(tmp_path / "o.png")))
    assert "nope.svg: no such file" in line


def test_report_of_an_unknown_run(tmp_path: Path) -> None:
    line = _one_error_line(_svgarena("report", "no-such-run", "--out", str(tmp_path)))
    assert "no-such-run: no such run" in line


def test_run_with_a_malformed_models_file(tmp_path: Path) -> None:
    bad = tmp_path / "models.yaml"
    bad.write_text("models: [oops\n")
    res = _svgarena("run", "-m", "x/y", "--models-file", str(bad), "--out", str(tmp_path / "runs"))
    assert f"models file {bad} is not valid YAML" in _one_error_line(res)
    assert not (tmp_path / "runs").exists()
