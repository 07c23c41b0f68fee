"""The run store and artifact store: durable, atomic, content-addressed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from svgarena.harness import ArtifactStore, RunStore, TrajectoryKey


def test_trajectory_lifecycle_and_clear_unfinished(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "run.sqlite")
    store.init_run("r", {"suite": "x"}, {"seed": 0})
    a = store.start_trajectory(TrajectoryKey("icon/img2svg", "m", "direct", "1"))
    store.add_attempt(a, {"round": 0, "outcome": "ok", "reply": "<svg/>"})
    store.finish_trajectory(a, outcome="ok", answer=None, media={"png": "ab.png"}, stop_reason="single call",
                            scores=[("ssim", 0.5, True, None), ("psnr", None, True, "ValueError: x")])
    b = store.start_trajectory(TrajectoryKey("icon/img2svg", "m", "direct", "2"))
    store.add_attempt(b, {"round": 0, "outcome": "ok"})
    store.put_round_scores([(b, 0, "ssim", 0.9, True, None)])  # e.g. a rescore that ran while it was half-done
    assert store.done_keys() == {TrajectoryKey("icon/img2svg", "m", "direct", "1")}
    assert store.clear_unfinished() == 1  # the half-done sample goes; the finished one stays
    assert [r["sample_id"] for r in store.trajectories(status=None)] == ["1"]
    assert len(list(store.attempts())) == 1
    assert store.db.execute("SELECT DISTINCT trajectory_id FROM round_scores").fetchall() == []  # none orphaned
    assert {(r["metric"], r["value"]) for r in store.scores()} == {("ssim", 0.5), ("psnr", None)}
    store.update_meta(tokenizer="smollm2")
    assert store.run_info()["meta"] == {"seed": 0, "tokenizer": "smollm2"}
    store.close()


def test_artifacts_are_stored_once_by_content(tmp_path: Path) -> None:
    arts = ArtifactStore(tmp_path / "artifacts")
    n1 = arts.put_text("<svg/>")
    n2 = arts.put_text("<svg/>")
    assert n1 == n2 and n1.endswith(".svg")
    assert arts.read(n1) == b"<svg/>"
    img = np.zeros((4, 4, 3), np.uint8)
    p = arts.put_png(img)
    assert arts.path(p).is_file() and len(list((tmp_path / "artifacts").rglob("*.*"))) == 2


def test_a_round_reported_again_replaces_its_row(tmp_path: Path) -> None:
    """The tools solver charges calls made after its last render to that round, by reporting it again."""
    store = RunStore(tmp_path / "run.sqlite")
    store.init_run("r", {}, {})
    t = store.start_trajectory(TrajectoryKey("icon/text2svg", "m", "tools", "1"))
    store.add_attempt(t, {"round": 0, "outcome": "ok", "output_tokens": 10, "extra": {"model_calls": 1}})
    store.add_attempt(t, {"round": 1, "outcome": "ok", "output_tokens": 20, "extra": {"model_calls": 1}})
    store.replace_attempt(t, {"round": 1, "outcome": "ok", "output_tokens": 35, "malformed_calls": 1,
                              "extra": {"model_calls": 2}})
    rows = [(r["round"], r["output_tokens"], r["malformed_calls"], r["extra"]) for r in store.attempts()]
    assert rows == [(0, 10, None, '{"model_calls": 1}'), (1, 35, 1, '{"model_calls": 2}')]
    store.close()
