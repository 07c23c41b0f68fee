"""Where a run's protocol differs from the official InternSVG scripts, recorded with every run.

Each entry names the setting, what this run did, what the official code does (file and line in
hmwang2002/InternSVG) and the effect on the numbers. Entries that are always there are svgarena's
deliberate choices; the others appear only when an option moved the run off the official setting.
The README's "Deliberate differences" table is the same list.
"""

from __future__ import annotations

from typing import Any

from svgarena.harness._config import RunConfig

OFFICIAL_JUDGE = "gpt-4o-mini"  # metrics/inference/un_clean_result.py:53


def _entry(setting: str, svgarena: Any, official: Any, effect: str) -> dict[str, Any]:
    return {"setting": setting, "svgarena": svgarena, "official": official, "effect": effect}


def protocol_differences(config: RunConfig, *, tokenizer: str | None = None, max_retries: int | None = None,
                         half: bool = False, routed: bool = True) -> list[dict[str, Any]]:
    """The protocol settings of this run that differ from the official ones (JSON-ready)."""
    from svgarena.agents._retry import RetryPolicy
    from svgarena.sandboxes._worker import MAX_DEPTH

    out = []
    if routed:
        tries = (max_retries if max_retries is not None else RetryPolicy().max_retries) + 1
        out.append(_entry(
            "API retries", f"up to {tries} tries for transient errors (backoff, Retry-After); permanent errors never retried",
            "2 tries, 2 s apart, any error (utils/api.py chat, retry=2; inference*.py --retry default 2)",
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
        out.append(_entry("video2sani input", config.video_input, "8 unlabelled JPEG q100 frames (utils/video_api.py)",
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
    return out
