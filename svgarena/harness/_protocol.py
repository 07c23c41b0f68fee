"""Where a run's protocol differs from the official InternSVG scripts, recorded with every run.

Each entry names the setting, what this run did, what the official code does (file and line in
hmwang2002/InternSVG) and the effect on the numbers. Entries that are always there are svgarena's
deliberate choices; the others appear only when an option or a model's registry entry moved the run
off the official setting (those about one model name it under ``model``). The README's
"Deliberate differences" tables are the same list.
"""

from __future__ import annotations

from typing import Any

from svgarena.harness._config import RunConfig

OFFICIAL_JUDGE = "gpt-4o-mini"  # metrics/inference/un_clean_result.py:53
OFFICIAL_TEMPERATURE = 0.0  # scripts/inference/*/demo.sh; metrics/inference/inference*.py --temperature default
OFFICIAL_MAX_TOKENS = 4000  # scripts/inference/*/demo.sh; metrics/inference/inference*.py --max_tokens default
OFFICIAL_VIDEO_FRAMES = 8  # metrics/inference/video_api.py sample_frames_from_video(num_samples=8)


def _entry(setting: str, svgarena: Any, official: Any, effect: str) -> dict[str, Any]:
    return {"setting": setting, "svgarena": svgarena, "official": official, "effect": effect}


def _model_differences(config: RunConfig, models: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Per answering model: generation settings and video input off the official inference (entries carry ``model``)."""
    out = []
    for name, m in sorted(models.items()):
        found = []
        if float(m.get("temperature", OFFICIAL_TEMPERATURE)) != OFFICIAL_TEMPERATURE:
            how = "--temperature" if config.temperature is not None else f"registry entry, {m.get('source', 'route')}"
            found.append(_entry(
                "generation temperature", f"{m['temperature']:g} ({how})",
                f"{OFFICIAL_TEMPERATURE:g} (scripts/inference/*/demo.sh TEMPERATURE=0.0; inference*.py --temperature "
                "default 0.0)", "sampled, not greedy, replies: scores vary from run to run and are not the paper's"))
        if int(m.get("max_tokens", OFFICIAL_MAX_TOKENS)) != OFFICIAL_MAX_TOKENS:
            fewer = int(m["max_tokens"]) < OFFICIAL_MAX_TOKENS
            found.append(_entry(
                "max output tokens", f"{m['max_tokens']} (registry entry, {m.get('source', 'route')})",
                f"{OFFICIAL_MAX_TOKENS} (demo.sh MAX_TOKENS=4000; inference*.py --max_tokens default 4000)",
                "long answers are cut off sooner (an unclosed <svg> is no_svg, scored black): success rate and "
                "scores can only fall" if fewer else
                "answers the official run would cut off at 4000 tokens complete here: success rate and scores can "
                "only rise"))
        if m.get("video_task") and m.get("video"):
            found.append(_entry(
                "video2sani input", f"the mp4 itself as a native video part (accepts.video: {m['video']})",
                f"{OFFICIAL_VIDEO_FRAMES} unlabelled JPEG q100 frames (inference_animation.py calls "
                "metrics/inference/video_api.py chat, which samples frames; its chat_video mp4 path is unused)",
                "the model sees the whole animation, not 8 stills: video2sani scores not comparable"))
        elif m.get("video_task") and config.video_frames != OFFICIAL_VIDEO_FRAMES:
            found.append(_entry(
                "video frames", f"{config.video_frames} frames (--video-frames)",
                f"{OFFICIAL_VIDEO_FRAMES} (video_api.py sample_frames_from_video num_samples=8)",
                "the model sees more or fewer stills of the animation: video2sani scores not comparable"))
        out.extend({**e, "model": name} for e in found)
    return out


def protocol_differences(config: RunConfig, *, tokenizer: str | None = None, max_retries: int | None = None,
                         half: bool = False, routed: bool = True,
                         models: dict[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The protocol settings of this run that differ from the official ones (JSON-ready).

    ``models`` describes each routed model that answers tasks: ``{name: {temperature, max_tokens, video,
    video_task, source}}`` (``video``: its native video format or None; ``video_task``: it runs a task with a
    video input). Entries about one model carry its name under ``model``.
    """
    from svgarena.agents._retry import RetryPolicy
    from svgarena.sandboxes._worker import MAX_DEPTH

    out = []
    if routed:
        tries = (max_retries if max_retries is not None else RetryPolicy().max_retries) + 1
        out.append(_entry(
            "API retries", f"up to {tries} tries for transient errors (backoff, Retry-After); permanent errors never retried",
            "1 try as shipped: scripts/inference/*/demo.sh set RETRY=1 (the un and animation scripts pass --retry 1; "
            "the gen and edit scripts do not pass it, so those run with inference*.py's --retry default 2, 2 s apart); "
            "any error is retried (utils/api.py chat)",
            "fewer model_error samples on a flaky API: success rate and SArena-view scores can only rise; "
            "the same replies otherwise"))
    out.append(_entry(
        "render limits", f"a render over {config.render_timeout_s:g} s is render_timeout; nesting over {MAX_DEPTH} "
        "elements is render_error; CPU and memory capped by the jail",
        "no limit (utils/raster_svg.py cairosvg.svg2png, in-process)",
        "a pathological SVG the official renderer would eventually rasterise is a failure (black substitute) here"))
    out.append(_entry(
        "external references", "hrefs leaving the document are never fetched (removed or blocked)",
        "cairosvg follows url/href references (utils/raster_svg.py)",
        "an answer that embeds a remote or local file renders without it"))
    out.append(_entry(
        "neural metric precision", "fp16 autocast (--half)" if half else "fp32",
        "fp16 autocast for DINO-video on CUDA (metrics/video/DINO_video.py:21,49-50); clip.load('ViT-B/32') "
        "keeps fp16 weights on CUDA for FID-C (metrics/FID.py:25); fp32 elsewhere",
        "fp32 DINO-video / FID-C differ from the fp16 figures in the 3rd-4th significant digit"
        if not half else "fp16 also for metrics the reference runs in fp32 (DINO, LPIPS, CLIP, ViCLIP, FID)"))
    if config.choice_rule != "official" and not config.choice_judge:
        out.append(_entry("understanding answer rule", config.choice_rule, "official: text[0] of the stripped reply "
                          "(evaluate_un.py:15-18)", "accuracy not comparable with the paper's"))
    if config.choice_judge and config.choice_judge.split("/")[-1] != OFFICIAL_JUDGE:
        out.append(_entry("choice judge", config.choice_judge, f"{OFFICIAL_JUDGE} (un_clean_result.py:53)",
                          "a different judge may clean replies differently"))
    if config.extract_rule != "official":
        out.append(_entry("SVG extraction", config.extract_rule, "official: first <svg>...</svg>",
                          "success rate and scores follow VLMEvalKit's reader, not InternSVG's"))
    if config.video_input != "official":
        out.append(_entry("video2sani input", config.video_input, "8 unlabelled JPEG q100 frames "
                          "(metrics/inference/video_api.py sample_frames_from_video)",
                          "the model sees a different input: video2sani scores not comparable"))
    if config.renderer != "cairosvg":
        out.append(_entry("static renderer", config.renderer, "cairosvg (utils/raster_svg.py)",
                          "renders, hence every image metric, can differ"))
    if config.animation_mode != "sarena-exact":
        out.append(_entry("animation rendering", config.animation_mode, "150 frames, H.264 at 448 and 128",
                          "metric frames captured directly, not decoded from H.264: video metrics shift slightly"))
    if tokenizer is not None and tokenizer != "internvl3-8b":
        out.append(_entry("token-length tokenizer", tokenizer, "InternVL3-8B's (metrics/token_length.py:16)",
                          "token lengths are counts of another tokenizer (see the README for how far)"))
    if config.solver != "direct":
        out.append(_entry("solver", config.solver, "one call per sample", "not the paper's one-shot protocol"))
    out.extend(_model_differences(config, models or {}))
    return out
