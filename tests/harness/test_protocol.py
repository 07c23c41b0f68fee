"""Every run records, in its metadata, the protocol settings that differ from the official scripts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.tasks._layout import make_layout


def _run(tmp_path: Path, run_id: str, **kw) -> dict:
    from svgarena.harness import RunConfig, execute, load_results

    suite = make_layout(tmp_path / "suite", n=1)
    config = RunConfig(suite=str(suite), tasks=["icon/understanding", "icon/img2svg"], models=["baseline/oracle"],
                       out=str(tmp_path / "runs"), run_id=run_id, workers=1, **kw)
    asyncio.run(execute(config))
    return load_results(tmp_path / "runs" / run_id, bootstrap=0)


@pytest.mark.timeout(120)
def test_default_run_records_the_deliberate_differences(tmp_path: Path) -> None:
    results = _run(tmp_path, "a", tokenizer="utf8-bytes")
    diffs = {d["setting"]: d for d in results["meta"]["protocol_differences"]}
    # always: render limits (with this run's timeout), external hrefs, fp32 neural metrics
    assert "10 s" in diffs["render limits"]["svgarena"]
    assert "external references" in diffs
    assert diffs["neural metric precision"]["svgarena"] == "fp32"
    assert "DINO_video.py" in diffs["neural metric precision"]["official"]
    # a run that calls no API has no retry difference; the tokenizer used here is not InternVL3-8B's
    assert "API retries" not in diffs
    assert diffs["token-length tokenizer"]["svgarena"] == "utf8-bytes"
    assert all({"setting", "svgarena", "official", "effect"} <= set(d) for d in diffs.values())
    assert "understanding answer rule" not in diffs and "solver" not in diffs


@pytest.mark.timeout(120)
def test_options_off_the_official_protocol_are_recorded(tmp_path: Path) -> None:
    results = _run(tmp_path, "b", tokenizer="utf8-bytes", choice_rule="vlmevalkit", extract_rule="vlmevalkit",
                   render_timeout_s=4.0, renderer="resvg")
    diffs = {d["setting"]: d for d in results["meta"]["protocol_differences"]}
    assert diffs["understanding answer rule"]["svgarena"] == "vlmevalkit"
    assert diffs["SVG extraction"]["svgarena"] == "vlmevalkit"
    assert diffs["static renderer"]["svgarena"] == "resvg"
    assert "4 s" in diffs["render limits"]["svgarena"]
