"""Suites: where samples come from (``sarena``, ``sarena-mini`` or a folder in SArena layout)."""

from __future__ import annotations

import os
from pathlib import Path

from svgarena.tasks._errors import SuiteError

SUITES = ("sarena-mini", "sarena")
DATA_ENV = "SVGARENA_DATA"


def bundled_suite_path() -> Path:
    """The sarena-mini suite shipped inside the package."""
    return Path(__file__).parent / "data" / "sarena-mini"


def resolve_suite(suite: str, data: str | Path | None = None) -> Path:
    """The folder a suite name or path stands for.

    ``sarena`` reads ``data`` (or $SVGARENA_DATA): the unzipped SArena folder, or a folder holding it.
    """
    if suite == "sarena-mini":
        path = bundled_suite_path()
        if not path.is_dir():
            raise SuiteError(f"{path}: the bundled sarena-mini suite is missing; rebuild it with scripts/build_sarena_mini.py")
        return path
    if suite == "sarena":
        given = data or os.environ.get(DATA_ENV)
        if not given:
            raise SuiteError(
                f"--suite sarena needs the unzipped SArena folder: pass --data PATH or set {DATA_ENV}"
            )
        path = Path(given).expanduser()
        if (path / "SArena").is_dir() and not (path / "Icon").is_dir():
            path = path / "SArena"
        if not path.is_dir():
            raise SuiteError(f"{path}: SArena data folder not found (from --data or {DATA_ENV})")
        return path
    path = Path(suite).expanduser()
    if not path.is_dir():
        raise SuiteError(f"{suite}: not a suite name ({', '.join(SUITES)}) nor an existing folder")
    return path
