"""Error classes for the exceptions LiteLLM really raises offline: a missing key is permanent and fatal.

Every call goes to a closed port on 127.0.0.1 with the provider keys unset, so nothing leaves this machine.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from svgarena.agents._litellm import error_reply, import_litellm
from svgarena.agents._retry import ErrorClass, classify, is_fatal
from svgarena.agents._types import Reply

_KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY")


def _closed_base() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


async def _raised(route: str, api_base: str) -> BaseException:
    litellm = import_litellm()
    try:
        await litellm.acompletion(model=route, messages=[{"role": "user", "content": "hi"}], api_base=api_base,
                                  timeout=5, num_retries=0, max_retries=0)
    except Exception as exc:  # noqa: BLE001
        return exc
    raise AssertionError(f"{route} answered with no key")


@pytest.mark.parametrize("route", ["openai/gpt-4o", "anthropic/claude-sonnet-4-20250514", "gemini/gemini-2.5-flash"])
def test_a_missing_key_is_permanent_and_fatal_whatever_litellm_wraps_it_in(route: str, monkeypatch) -> None:
    for var in _KEYS:
        monkeypatch.delenv(var, raising=False)
    reply = error_reply(asyncio.run(_raised(route, _closed_base())))
    assert classify(reply) is ErrorClass.PERMANENT, reply.error
    assert is_fatal(reply), reply.error


def test_wrapped_unknown_model_and_bad_request_are_permanent_but_real_5xx_stay_transient() -> None:
    def reply(message: str, status: int, kind: str = "InternalServerError") -> Reply:
        return Reply(error=f"{kind}: {message}", raw={"error_type": kind, "status_code": status})

    unknown = reply("litellm.InternalServerError: The model `gpt-9` does not exist or you do not have access", 500)
    assert classify(unknown) is ErrorClass.PERMANENT and is_fatal(unknown)
    bad = reply("litellm.BadRequestError: OpenAIException - invalid_request_error: max_tokens too large", 500)
    assert classify(bad) is ErrorClass.PERMANENT and not is_fatal(bad)
    overloaded = reply("litellm.InternalServerError: upstream overloaded, try again", 503)
    assert classify(overloaded) is ErrorClass.TRANSIENT and not is_fatal(overloaded)
    refused = reply("Connection refused", 500, "APIConnectionError")
    assert classify(refused) is ErrorClass.TRANSIENT and not is_fatal(refused)
