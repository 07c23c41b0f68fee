"""LiteLLMModel against a real OpenAI-compatible HTTP server on 127.0.0.1 (stdlib, in a thread)."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from svgarena.agents import LiteLLMModel, build_messages, get_model  # noqa: E402
from svgarena.tasks import Sample, get_task  # noqa: E402

SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 128 128"><circle cx="64" cy="64" r="40"/></svg>'
KEY = "sk-test-PLANTED-4f9c2e71b0d8a3"
KEY_ENV = "SVGARENA_TEST_API_KEY"


@dataclass
class FakeServer:
    """Answers POST /v1/chat/completions with a canned reply, or with ``status`` when it is set."""

    port: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    status: int = 200

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


def _handler(state: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.requests.append(json.loads(body))
            state.headers.append({k.lower(): v for k, v in self.headers.items()})
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, {"error": {"message": f"no route {self.path}"}})
            elif state.status != 200:
                # A careless server echoing the caller's key back in its error message.
                auth = self.headers.get("Authorization", "")
                self._send(state.status, {"error": {"message": f"bad request from {auth}", "type": "invalid_request_error"}})
            else:
                self._send(200, {
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "created": 1700000000,
                    "model": "test-model",
                    "choices": [{
                        "index": 0,
                        "message": {"role": "assistant", "content": f"Here you go:\n```svg\n{SVG}\n```"},
                        "finish_reason": "stop",
                    }],
                    "usage": {"prompt_tokens": 321, "completion_tokens": 45, "total_tokens": 366},
                })

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@pytest.fixture()
def server() -> Iterator[FakeServer]:
    state = FakeServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture()
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_ENV, KEY)
    return KEY


def _img2svg(tmp_path: Path) -> tuple[Sample, list[dict[str, Any]]]:
    task = get_task("icon/img2svg")
    path = tmp_path / "5.png"
    Image.new("RGB", (48, 48), (10, 120, 200)).save(path, format="JPEG")  # a JPEG behind a .png name
    sample = Sample(id="5", task=task.id, prompt="Convert this image into SVG code.", target=SVG, image=path)
    return sample, build_messages(sample, task)


def _model(server: FakeServer) -> LiteLLMModel:
    model = get_model("openai/test-model", api_base=server.base, api_key_env=KEY_ENV, timeout_s=20.0)
    assert isinstance(model, LiteLLMModel)
    return model


@pytest.mark.timeout(60)
def test_request_and_reply(server: FakeServer, api_key: str, tmp_path: Path) -> None:
    sample, messages = _img2svg(tmp_path)
    reply = asyncio.run(_model(server).respond(sample, messages))

    assert reply.error is None
    assert SVG in reply.text
    assert reply.usage.input_tokens == 321 and reply.usage.output_tokens == 45
    assert reply.usage.cost_usd == 0.0  # an unknown model has no price: zero, not an error
    assert reply.usage.latency_s > 0
    assert reply.raw.get("finish_reason") == "stop"

    (body,) = server.requests
    assert body["model"] == "test-model"
    assert body["temperature"] == 0
    assert body["max_tokens"] == 4000
    (message,) = body["messages"]
    assert message["role"] == "user"
    parts = message["content"]
    assert parts[0] == {"type": "text", "text": "Convert this image into SVG code."}
    url = parts[1]["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,")
    assert server.headers[0].get("authorization") == f"Bearer {api_key}"


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("status", "error_type"), [(400, "BadRequestError"), (503, "ServiceUnavailableError")])
def test_http_error_becomes_reply_error_without_the_key(
    server: FakeServer, api_key: str, tmp_path: Path, status: int, error_type: str
) -> None:
    server.status = status
    sample, messages = _img2svg(tmp_path)
    model = _model(server)
    reply = asyncio.run(model.respond(sample, messages))

    assert reply.text == ""
    assert reply.error is not None
    assert reply.error.split(":", 1)[0] == error_type
    assert "bad request from Bearer ***" in reply.error  # the server's message is kept ...
    assert api_key not in reply.error  # ... with the key scrubbed
    assert api_key not in repr(reply)
    assert api_key not in repr(model) and api_key not in repr(vars(model))
    assert reply.raw.get("status_code") == status
    assert len(server.requests) == 1  # no hidden retries inside LiteLLM


@pytest.mark.timeout(60)
def test_missing_key_variable_is_a_clear_error(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    reply = asyncio.run(_model(server).complete([{"role": "user", "content": "hi"}]))
    assert reply.error is not None and KEY_ENV in reply.error
    assert server.requests == []


@pytest.mark.timeout(60)
def test_unreachable_server_is_an_error_not_an_exception(monkeypatch: pytest.MonkeyPatch, api_key: str) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    model = LiteLLMModel("openai/test-model", api_base=f"http://127.0.0.1:{port}/v1", api_key_env=KEY_ENV, timeout_s=5)
    reply = asyncio.run(model.complete([{"role": "user", "content": "hi"}]))
    assert reply.error is not None and reply.text == ""
    assert api_key not in reply.error


def test_supports_every_task() -> None:
    model = LiteLLMModel("openai/test-model")
    assert model.supports(get_task("icon/understanding")) is None
    assert model.supports(get_task("animation/video2sani")) is None
