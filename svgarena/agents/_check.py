"""``svgarena models check``: one small request to a model, its latency, or a clear reason why it failed."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from svgarena.agents._litellm import LiteLLMModel
from svgarena.agents._messages import bytes_data_url
from svgarena.agents._registry import ModelSpec


@dataclass
class CheckResult:
    name: str
    ok: bool
    latency_s: float = 0.0
    reply: str = ""
    reason: str = ""  # why it failed, in one sentence
    with_image: bool = False
    input_tokens: int = 0
    output_tokens: int = 0


def _probe_image() -> str:
    """A 32x32 red square as a PNG data URL: small enough to cost almost nothing, real enough to test vision."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (220, 20, 20)).save(buf, format="PNG")
    return bytes_data_url(buf.getvalue(), "image/png")


def probe_messages(images: bool) -> list[dict[str, Any]]:
    if not images:
        return [{"role": "user", "content": "Reply with the single word: ready"}]
    return [{"role": "user", "content": [
        {"type": "text", "text": "What colour is this square? Answer with one word."},
        {"type": "image_url", "image_url": {"url": _probe_image()}},
    ]}]


def served_models(api_base: str, timeout: float = 5.0) -> list[str] | None:
    """The model ids an OpenAI-compatible endpoint lists at ``/models``, or None when it does not answer that."""
    try:
        with urllib.request.urlopen(api_base.rstrip("/") + "/models", timeout=timeout) as resp:  # noqa: S310
            body = json.loads(resp.read() or b"{}")
    except (OSError, ValueError, urllib.error.HTTPError):
        return None
    data = body.get("data") if isinstance(body, dict) else None
    return [str(m.get("id")) for m in data if isinstance(m, dict)] if isinstance(data, list) else None


def explain(model: LiteLLMModel, raw: dict[str, Any], error: str) -> str:
    """The failure of a probe as the user should read it: no key, key refused, wrong endpoint, model not served."""
    kind, status = raw.get("error_type", ""), raw.get("status_code")
    where = model.endpoint() or f"{model.route.split('/', 1)[0]}'s default endpoint"
    if kind == "MissingApiKeyError":
        return f"no key: {error.split(': ', 1)[-1]}"
    if kind == "AuthenticationError" or status == 401:
        return f"key refused: the provider rejected the key in {model.api_key_env or 'the environment'} ({error})"
    if kind == "PermissionDeniedError" or status == 403:
        return f"no access: the key in {model.api_key_env or 'the environment'} may not use {model.route} ({error})"
    if kind == "NotFoundError" or status == 404:
        listed = served_models(model.endpoint()) if model.endpoint() else None
        served_name = model.route.split("/", 1)[1] if "/" in model.route else model.route
        if listed is not None and served_name not in listed:
            return (f"model not served: {where} serves {', '.join(listed) or 'no model'}, not {served_name} "
                    f"(check the route in the registry)")
        return f"wrong endpoint or model: {where} answered 404 ({error})"
    if raw.get("unreachable") or kind in ("APIConnectionError",) or status is None:
        return f"wrong endpoint: nothing answers at {where} ({error})"
    if kind in ("Timeout", "APITimeoutError", "TimeoutError"):
        return f"no answer in time from {where} ({error})"
    if status == 429:
        return f"rate limited: {error}"
    return error


async def check_model(model: LiteLLMModel, spec: ModelSpec | None = None, timeout_s: float = 60.0) -> CheckResult:
    """Send one small request (with an image when the model takes images) and report what came back."""
    images = spec.images if spec else model.images
    model.timeout_s = min(model.timeout_s, timeout_s)
    model.max_tokens = min(model.max_tokens, 16)
    reply = await model.complete(probe_messages(images))
    result = CheckResult(name=model.name, ok=reply.error is None, latency_s=reply.usage.latency_s, reply=reply.text,
                         with_image=images, input_tokens=reply.usage.input_tokens,
                         output_tokens=reply.usage.output_tokens)
    if reply.error is not None:
        result.reason = explain(model, reply.raw, reply.error)
    elif not reply.text.strip():
        result.ok, result.reason = False, "the model answered with empty content"
    return result
