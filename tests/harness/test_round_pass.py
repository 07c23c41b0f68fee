"""The batched neural pass and the set-level metrics round by round (random-weight networks, offline).

icon/img2svg carries DINO (per sample), icon/text2svg FID (per set); both refined for up to 3 rounds.
"""

from __future__ import annotations

import asyncio
import base64
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests._scripted_server import ScriptedServer, first_text, images_in
from tests.harness.test_refine_run import POOR, _first_image
from tests.tasks._layout import make_layout


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_refine_run_scores_neural_and_set_metrics_per_round(tmp_path: Path, monkeypatch) -> None:
    from svgarena.harness import RunConfig, ScoringOptions, execute
    from svgarena.scoring import _weights as w
    from tests.scoring._random_weights import write_dino, write_inception

    for var in ("XDG_CACHE_HOME", "TORCH_HOME", "HF_HOME", "HF_HUB_CACHE"):
        monkeypatch.setenv(var, str(tmp_path / "cache" / var.lower()))
    monkeypatch.delenv(w.WEIGHTS_ENV, raising=False)
    wdir = tmp_path / "weights"
    wdir.mkdir()
    write_dino(wdir), write_inception(wdir)

    suite = make_layout(tmp_path / "suite", n=2)
    gen = suite / "Icon" / "generation"
    by_image = {base64.b64encode((gen / "images" / f"{i}.png").read_bytes()).decode(): i for i in range(2)}
    svg_of = {i: (gen / "svg" / f"{i}.svg").read_text() for i in range(2)}

    def reply(body: dict[str, Any]) -> str:
        # poor at round 0; the reference once shown a render. Sample 0 stops there with the done marker;
        # sample 1 repeats it at round 2 (identical svg), so round 2 has one real answer per task.
        msgs = body["messages"]
        image = _first_image(body)
        i = by_image[image] if image else int(re.search(r"a circle (\d+)", first_text(body)).group(1))
        if len(msgs) > 1 and images_in({"messages": [msgs[-1]]}):
            return svg_of[i] + ("\n<done/>" if i == 0 else "")
        return POOR.format(n=0)

    with ScriptedServer(reply) as srv:
        models = tmp_path / "models.yaml"
        models.write_text(f'models:\n  scripted: {{route: openai/scripted, api_base: "{srv.api_base}", concurrency: 2}}\n')
        config = RunConfig(suite=str(suite), tasks=["icon/img2svg", "icon/text2svg"], models=["scripted"], models_file=str(models),
                           solver="refine", rounds=3, out=str(tmp_path / "runs"), run_id="rp", workers=1)
        scoring = ScoringOptions(metrics=["dino", "fid"], weights_dir=str(wdir), batch_size=4, image_size=48)
        asyncio.run(execute(config, scoring=scoring))

    db = sqlite3.connect(tmp_path / "runs" / "rp" / "run.sqlite")
    try:
        stops = dict(db.execute("SELECT sample_id, stop_reason FROM trajectories WHERE task='icon/img2svg'"))
        all_stops = [r[0] for r in db.execute("SELECT stop_reason FROM trajectories ORDER BY task, sample_id")]
        dino = db.execute("SELECT t.sample_id, r.round, r.value FROM round_scores r JOIN trajectories t "
                          "ON t.id = r.trajectory_id WHERE r.metric='dino' ORDER BY t.sample_id, r.round").fetchall()
        fid = {r: (v, n) for r, v, n in db.execute(
            "SELECT round, value, n_pred FROM round_set_scores WHERE metric='fid' AND view='sarena' "
            "AND task='icon/text2svg'")}
        headline = db.execute("SELECT count(*) FROM scores WHERE metric='dino' AND value IS NOT NULL").fetchone()[0]
        headline_fid = db.execute("SELECT count(*) FROM set_scores WHERE metric='fid'").fetchone()[0]
    finally:
        db.close()
    assert all_stops == ["done marker", "identical svg"] * 2
    # every real round has its own DINO score; the stopped sample has none at round 2
    assert [(s, r) for s, r, _ in dino] == [(s, r) for s in sorted(stops)
                                            for r in ((0, 1) if stops[s] == "done marker" else (0, 1, 2))]
    assert all(v is not None for _, _, v in dino)
    by = {(s, r): v for s, r, v in dino}
    assert all(by[(s, 1)] > by[(s, 0)] for s in stops)  # the reference beats the poor answer
    # FID per round over both samples (the stopped one carries its last answer), falling once corrected
    assert set(fid) == {0, 1, 2} and all(n == 2 for _, n in fid.values())
    assert fid[1][0] == pytest.approx(0.0, abs=1e-6) and fid[2][0] == pytest.approx(0.0, abs=1e-6)
    assert fid[0][0] > 1e-3
    assert headline == 2 and headline_fid >= 1  # the headline view is still filled
