"""A real OpenAI-compatible chat server on 127.0.0.1:0 whose replies a test scripts from each request."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def images_in(body: dict[str, Any]) -> int:
    """How many image parts the request's messages carry."""
    n = 0
    for msg in body.get("messages", []):
        content = msg.get("content")
        if isinstance(content, list):
            n += sum(1 for part in content if isinstance(part, dict) and part.get("type") == "image_url")
    return n


def first_text(body: dict[str, Any]) -> str:
    """The text of the first user message (the task prompt)."""
    for msg in body.get("messages", []):
        if msg.get("role") == "user":
            content = msg.get("content")
            if isinstance(content, str):
                return content
            return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def tool_call(name: str, arguments: Any, call_id: str = "call_1") -> dict[str, Any]:
    """One native tool call in the OpenAI response format (``arguments``: a dict, sent as JSON, or raw text)."""
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}


class ScriptedServer:
    """``reply(body)`` answers each chat request; every request body is kept in ``requests``.

    ``reply`` returns the reply text, or a dict ``{"content": ..., "tool_calls": [tool_call(...), ...]}``
    for a reply that makes native tool calls (sent with ``finish_reason: tool_calls``, content null by default).
    """

    def __init__(self, reply: Callable[[dict[str, Any]], str | dict[str, Any]]) -> None:
        self.reply = reply
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                # What a real OpenAI-compatible server answers to the preflight: the models it serves.
                if self.path.rstrip("/") not in ("/v1/models", "/models"):
                    self.send_response(404)
                    self.end_headers()
                    return
                payload = json.dumps({"object": "list", "data": [{"id": "scripted", "object": "model"}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with outer._lock:
                    outer.requests.append(body)
                text = outer.reply(body)
                message: dict[str, Any] = {"role": "assistant", "content": text}
                finish = "stop"
                if isinstance(text, dict):
                    message = {"role": "assistant", "content": text.get("content")}
                    if text.get("tool_calls"):
                        message["tool_calls"], finish = text["tool_calls"], "tool_calls"
                payload = json.dumps({
                    "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": body.get("model", "m"),
                    "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30},
                }).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> "ScriptedServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
