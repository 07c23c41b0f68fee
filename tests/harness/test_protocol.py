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


def _by_model(results: dict) -> dict:
    return {(d["setting"], d.get("model")): d for d in results["meta"]["protocol_differences"]}


def test_retry_entry_states_the_shipped_scripts_single_try() -> None:
    from svgarena.harness import RunConfig
    from svgarena.harness._protocol import protocol_differences

    (retry,) = [d for d in protocol_differences(RunConfig(), max_retries=5) if d["setting"] == "API retries"]
    assert retry["svgarena"].startswith("up to 6 tries")
    # scripts/inference/*/demo.sh: RETRY=1; the gen and edit scripts never pass it (--retry default 2, 2 s apart)
    assert retry["official"].startswith("1 try as shipped") and "RETRY=1" in retry["official"]
    assert "--retry default 2, 2 s apart" in retry["official"]


@pytest.mark.timeout(120)
def test_generation_settings_off_the_official_ones_are_recorded_per_model(tmp_path: Path) -> None:
    """A --temperature override (every routed model) and a registry max_tokens other than 4000 (that model only)."""
    from svgarena.harness import RunConfig, execute, load_results
    from tests._scripted_server import ScriptedServer

    suite = make_layout(tmp_path / "suite", n=1)
    with ScriptedServer(lambda body: "A.") as srv:
        models = tmp_path / "models.yaml"
        models.write_text(
            "models:\n"
            f'  short: {{route: openai/scripted, api_base: "{srv.api_base}", generation: {{max_tokens: 512}}}}\n'
            f'  plain: {{route: openai/scripted, api_base: "{srv.api_base}"}}\n')
        base = dict(suite=str(suite), tasks=["icon/understanding"], models=["short", "plain"], models_file=str(models),
                    out=str(tmp_path / "runs"), workers=1)
        asyncio.run(execute(RunConfig(run_id="official", **base)))
        asyncio.run(execute(RunConfig(run_id="warm", temperature=0.7, **base)))
    official = _by_model(load_results(tmp_path / "runs" / "official", bootstrap=0))
    assert ("generation temperature", "short") not in official and ("generation temperature", "plain") not in official
    tokens = official[("max output tokens", "short")]
    assert tokens["svgarena"].startswith("512 (registry entry") and tokens["official"].startswith("4000")
    assert "fall" in tokens["effect"]
    assert ("max output tokens", "plain") not in official
    warm = _by_model(load_results(tmp_path / "runs" / "warm", bootstrap=0))
    for name in ("short", "plain"):
        entry = warm[("generation temperature", name)]
        assert entry["svgarena"] == "0.7 (--temperature)" and entry["official"].startswith("0 (")
    # no video task in these runs: nothing about frames or native video
    assert not any(setting in ("video frames", "video2sani input") for setting, _ in warm)


def test_registry_temperature_and_builtin_smollm2_max_tokens() -> None:
    from svgarena.agents._registry import BUILTIN_MODELS, parse_spec
    from svgarena.harness import RunConfig
    from svgarena.harness._protocol import protocol_differences

    smollm2 = parse_spec("smollm2", BUILTIN_MODELS["smollm2"], "built-in")  # not load_registry: a served layer wins
    assert smollm2 is not None and smollm2.max_tokens == 512
    models = {"smollm2": {"temperature": smollm2.temperature, "max_tokens": smollm2.max_tokens, "video": None,
                          "video_task": False, "source": smollm2.source},
              "hot": {"temperature": 1.0, "max_tokens": 8000, "video": None, "video_task": False, "source": "m.yaml"}}
    diffs = {(d["setting"], d.get("model")): d for d in protocol_differences(RunConfig(), routed=False, models=models)}
    assert diffs[("max output tokens", "smollm2")]["svgarena"] == "512 (registry entry, built-in)"
    assert ("generation temperature", "smollm2") not in diffs
    assert diffs[("generation temperature", "hot")]["svgarena"] == "1 (registry entry, m.yaml)"
    assert "rise" in diffs[("max output tokens", "hot")]["effect"]


def test_video_frames_and_native_video_are_recorded_for_models_that_run_video2sani() -> None:
    from svgarena.agents._registry import BUILTIN_MODELS, parse_spec
    from svgarena.harness import RunConfig
    from svgarena.harness._protocol import protocol_differences

    gemini = parse_spec("gemini-2.5-flash", BUILTIN_MODELS["gemini-2.5-flash"], "built-in")
    assert gemini.video == "file"
    settings = {"temperature": 0.0, "max_tokens": 4000, "source": "built-in"}
    models = {"gemini-2.5-flash": {**settings, "video": gemini.video, "video_task": True},
              "frames": {**settings, "video": None, "video_task": True},
              "no-video-task": {**settings, "video": "file", "video_task": False}}

    def diffs(config: RunConfig) -> dict:
        return {(d["setting"], d.get("model")): d for d in protocol_differences(config, routed=False, models=models)}

    official = diffs(RunConfig())
    native = official[("video2sani input", "gemini-2.5-flash")]
    assert "native video" in native["svgarena"] and "accepts.video: file" in native["svgarena"]
    assert native["official"].startswith("8 unlabelled JPEG q100 frames")
    assert ("video2sani input", "frames") not in official and ("video2sani input", "no-video-task") not in official
    assert not any(setting == "video frames" for setting, _ in official)  # 8 frames is the official count

    four = diffs(RunConfig(video_frames=4))
    assert four[("video frames", "frames")]["svgarena"] == "4 frames (--video-frames)"
    assert four[("video frames", "frames")]["official"].startswith("8 ")
    # a model sent the mp4 gets no frame count; one that runs no video task gets neither entry
    assert ("video frames", "gemini-2.5-flash") not in four and ("video frames", "no-video-task") not in four


@pytest.mark.timeout(240)
def test_runner_records_frames_and_native_video_for_the_models_that_run_video2sani(tmp_path: Path) -> None:
    """The runner's side: which routed models run a video task, and how each is sent the video."""
    from svgarena.harness import RunConfig, execute, load_results
    from svgarena.sandboxes import chromium_path
    from tests._scripted_server import ScriptedServer, images_in

    if not chromium_path():
        pytest.skip("no Chromium for the animation task")
    with ScriptedServer(lambda body: "no svg here") as srv:
        models = tmp_path / "models.yaml"
        models.write_text(
            "models:\n"
            f'  frames: {{route: openai/scripted, api_base: "{srv.api_base}"}}\n'
            f'  native: {{route: openai/scripted, api_base: "{srv.api_base}", accepts: {{video: file}}}}\n')
        asyncio.run(execute(RunConfig(tasks=["animation/video2sani"], models=["frames", "native"], limit=1,
                                      models_file=str(models), out=str(tmp_path / "runs"), run_id="v", workers=1,
                                      video_frames=4, animation_mode="fast")))
        sent = sorted(images_in(r) for r in srv.requests)
    assert sent == [0, 4]  # the native model got the mp4, the other 4 frames
    diffs = _by_model(load_results(tmp_path / "runs" / "v", bootstrap=0))
    assert diffs[("video frames", "frames")]["svgarena"] == "4 frames (--video-frames)"
    assert "accepts.video: file" in diffs[("video2sani input", "native")]["svgarena"]
    assert ("video frames", "native") not in diffs and ("video2sani input", "frames") not in diffs
