"""Small helpers the tests share for reading a run's store and for the docker backend's tests."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest


def query(db: Path, sql: str) -> list[tuple]:
    """All rows of ``sql`` over the SQLite file ``db`` (opened and closed for each query)."""
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def require_docker() -> None:
    """Skip when the docker backend cannot run; fail instead where a test engine was started for it."""
    from svgarena.sandboxes import docker_problem

    problem = docker_problem()
    if problem:
        if os.environ.get("SVGARENA_REQUIRE_DOCKER") == "1":
            pytest.fail(f"a Docker engine was started for these tests but the backend cannot run: {problem}")
        pytest.skip(f"docker backend not available: {problem}")
