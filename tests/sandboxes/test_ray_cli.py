"""The Ray executor's command line without a cluster: lazy import, and one clear line for bad choices."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest


def test_help_never_imports_ray() -> None:
    code = ("import sys; from typer.testing import CliRunner; import svgarena.cli as c; "
            "r = CliRunner().invoke(c.app, ['run', '--help']); "
            "print('--executor' in r.output, '--ray-address' in r.output, 'ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["True", "True", "False"], out.stderr


def test_unknown_executor_is_one_line_and_creates_nothing(tmp_path: Path) -> None:
    res = subprocess.run([sys.executable, "-m", "svgarena.cli", "run", "--executor", "spark", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == ["error: unknown --executor 'spark'; use local or ray"]
    assert not any(tmp_path.iterdir())


def test_unreachable_cluster_is_one_line_and_creates_nothing(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = subprocess.run([sys.executable, "-m", "svgarena.cli", "run", "--task", "icon/img2svg", "--limit", "1",
                          "--model", "baseline/vtracer", "--executor", "ray", "--ray-address", f"127.0.0.1:{port}",
                          "--out", str(tmp_path / "runs")], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "HOME": str(tmp_path)})
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot reach the Ray cluster at 127.0.0.1:{port}")
    assert "Connection refused" in lines[0] and not (tmp_path / "runs").exists()
