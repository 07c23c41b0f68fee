"""Reproducibility metadata recorded with every run."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

_PACKAGES = ("svgarena", "numpy", "scikit-image", "cairosvg", "pillow", "vtracer", "litellm",
             "tokenizers", "torch", "playwright", "imageio-ffmpeg")


def git_state(path: Path | None = None) -> dict[str, Any]:
    """Commit and dirty flag of the svgarena checkout, when it is one."""
    cwd = Path(path or Path(__file__).resolve().parents[2])
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                                timeout=5, check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                                    capture_output=True, text=True, timeout=5, check=True).stdout.strip())
        return {"commit": commit, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def run_metadata(seed: int) -> dict[str, Any]:
    from svgarena import __version__

    return {
        "svgarena": __version__,
        "git": git_state(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
        "seed": seed,
        "argv": sys.argv,
    }
