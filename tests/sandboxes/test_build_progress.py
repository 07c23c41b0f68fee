"""`sandbox build` progress: the Dockerfile's `Step N/M` lines of a build's output become counts.

The stream is the decoded JSON a Docker daemon sends for a classic build (what docker-py's
``api.build(decode=True)`` yields); building for real needs dockerd (tests/sandboxes/test_docker.py).
"""

from __future__ import annotations

from svgarena.sandboxes._docker import follow_build


def test_each_step_line_counts_the_steps_before_it_and_a_good_build_ends_complete() -> None:
    chunks = [{"stream": "Step 1/3 : FROM python:3.11-slim AS renderer\n"}, {"stream": " ---> 1a2b3c\n"},
              {"stream": "Step 2/3 : COPY docker/wheels /wheels\n"}, {"stream": "\n"},
              {"stream": "Step 3/3 : RUN pip install --no-index /wheels/*.whl\n"},
              {"stream": "Successfully built 4d5e6f\n"}]
    logged: list[str] = []
    seen: list[tuple[int, int, str]] = []
    assert follow_build(iter(chunks), logged.append, lambda *a: seen.append(a)) is None
    assert seen == [(0, 3, "FROM python:3.11-slim AS renderer"), (1, 3, "COPY docker/wheels /wheels"),
                    (2, 3, "RUN pip install --no-index /wheels/*.whl"), (3, 3, "built")]
    assert logged[-1] == "Successfully built 4d5e6f" and "" not in logged


def test_a_failed_build_returns_its_error_and_does_not_claim_completion() -> None:
    chunks = [{"stream": "Step 1/2 : FROM nowhere/none\n"},
              {"error": "pull access denied for nowhere/none\n", "errorDetail": {"message": "denied"}}]
    seen: list[tuple[int, int, str]] = []
    assert follow_build(iter(chunks), lambda line: None, lambda *a: seen.append(a)) == \
        "pull access denied for nowhere/none"
    assert seen == [(0, 2, "FROM nowhere/none")]
