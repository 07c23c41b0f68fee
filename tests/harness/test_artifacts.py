"""Artifacts are written from the runner's worker threads: the same bytes at once must not collide."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from svgarena.harness import ArtifactStore


def test_threads_writing_the_same_artifact_at_once_all_succeed(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "artifacts")
    payloads = [os.urandom(2 << 20) for _ in range(6)]  # large: each write is slow, so the writers overlap
    names: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def put() -> None:
        for data in payloads:
            try:
                start.wait()
                names.append(store.put(data, "bin"))
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

    threads = [threading.Thread(target=put) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert len(names) == 36 and len(set(names)) == 6
    files = sorted(p.name for p in (tmp_path / "artifacts").rglob("*") if p.is_file())
    assert files == sorted(set(names))  # one file per content, no temporary left behind
    for name in set(names):
        assert len(store.read(name)) == 2 << 20
