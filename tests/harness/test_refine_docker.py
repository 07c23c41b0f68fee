"""A refine run on ``--backend docker`` renders every round in containers; a hostile round becomes feedback.

Needs a Docker engine and the renderer image (``scripts/with_dockerd.sh --prepare-image pytest ...``
provides both); skipped, with the reason, where none answers, like tests/sandboxes/test_docker.py.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests._scripted_server import ScriptedServer
from tests._store import require_docker
from tests.harness.test_refine_run import POOR, _first_image, _reference_by_image
from tests.tasks._layout import make_layout

# A nesting bomb: 1,000 nested groups, which the render worker inside the container refuses (the depth cap
# is 128) with a typed render_error: deterministic, unlike a slow path whose time depends on the machine.
HOSTILE = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 9 9">' + "<g>" * 1000 + "</g>" * 1000 + "</svg>")


@pytest.fixture(autouse=True)
def _engine():
    require_docker()


@pytest.mark.timeout(300)
def test_refine_on_docker_renders_in_containers_and_a_hostile_round_is_feedback(tmp_path: Path, monkeypatch) -> None:
    import cairosvg

    from svgarena.harness import RunConfig, execute
    from svgarena.sandboxes import _local
    from svgarena.sandboxes._docker import DockerRenderer

    suite = make_layout(tmp_path / "suite", n=1)
    refs = _reference_by_image(suite)

    def reply(body: dict[str, Any]) -> str:  # round 0 poor, round 1 a nesting bomb, round 2 the reference
        return (POOR.format(n=0), HOSTILE, refs[_first_image(body)])[min((len(body["messages"]) - 1) // 2, 2)]

    rendered: list[str] = []
    docker_render = DockerRenderer.render

    async def spy(self, svg, spec=None):
        result = await docker_render(self, svg, spec)
        rendered.append(result.meta.get("backend", "?"))
        return result

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a docker-backend run rendered outside its containers")

    monkeypatch.setattr(DockerRenderer, "render", spy)
    monkeypatch.setattr(_local.LocalRenderer, "__init__", refuse)
    monkeypatch.setattr(cairosvg, "svg2png", refuse)  # nothing rasterises in the harness process either

    with ScriptedServer(reply) as srv:
        models = tmp_path / "models.yaml"
        models.write_text(f'models:\n  scripted: {{route: openai/scripted, api_base: "{srv.api_base}", concurrency: 1}}\n')
        config = RunConfig(suite=str(suite), tasks=["icon/img2svg"], models=["scripted"], models_file=str(models),
                           solver="refine", rounds=3, feedback="render", backend="docker", workers=1,
                           render_timeout_s=4.0, out=str(tmp_path / "runs"), run_id="dock")
        asyncio.run(execute(config))
        requests = list(srv.requests)

    assert rendered == ["docker", "docker", "docker"]  # one container render per round, none elsewhere
    db = sqlite3.connect(tmp_path / "runs" / "dock" / "run.sqlite")
    rounds = db.execute("SELECT round, outcome, reason, feedback, media FROM attempts ORDER BY round").fetchall()
    (stop,) = db.execute("SELECT stop_reason FROM trajectories").fetchone()
    db.close()
    assert [r[1] for r in rounds] == ["ok", "render_error", "ok"], rounds
    assert stop == "rounds exhausted"
    assert "Your answer failed: render_error" in rounds[1][3] and "nesting" in rounds[1][3]  # round 1's failure is the next round's feedback
    assert "render_error" in json.dumps(requests[2]["messages"][-1]["content"])
    assert "png" in json.loads(rounds[2][4])
