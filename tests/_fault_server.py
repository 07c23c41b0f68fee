"""A fault-injecting OpenAI-compatible chat server on 127.0.0.1, for tests and benchmarks.

It answers ``POST /v1/chat/completions`` like a real provider, but each request may instead get a
scripted fault: a 429 with ``Retry-After``, a 5xx, a hang past the client's timeout, a body cut
off mid-JSON, empty content, or content with no SVG. Faults are scripted per prompt (a substring
of the request's text maps to a list of steps, consumed one per request; afterwards it answers
normally), or drawn at random with a seeded generator, so a test knows exactly what each sample
met. ``GET /v1/models`` and ``GET /health`` answer too (for ``models check`` and readiness).

Run it alone (used by benchmarks/): ``python -m tests._fault_server --delay 0.2`` prints
``port N`` and serves until killed.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 128 128"><rect x="8" y="8" width="112" height="112"/></svg>'

# Step names a script may use; "429:3" is a 429 with Retry-After 3 (seconds), "429" has none.
STEPS = ("ok", "429", "500", "502", "503", "hang", "truncated", "empty", "nosvg", "400", "401", "404", "echo-auth")


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default backlog of 5 drops bursts of new connections (and retransmits cost 1 s)
    daemon_threads = True
    block_on_close = False


def prompt_text(body: dict[str, Any]) -> str:
    """All text of a chat request's messages, joined (the key that scripts match against)."""
    out: list[str] = []
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            out.append(content)
        elif isinstance(content, list):
            out += [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
    return "\n".join(out)


class FaultServer:
    """A threaded HTTP/1.1 server; use as a context manager. Thread-safe counters for assertions.

    ``reply(body) -> str`` makes the content of a normal answer (default: an SVG in a code fence).
    ``script`` maps a prompt substring to steps; ``storm`` gives per-request fault probabilities
    (e.g. ``{"429:1": 0.3, "500": 0.1}``) drawn from ``random.Random(seed)``. ``delay`` is added
    before every reply; ``hang_s`` is how long a "hang" stalls before answering anyway.
    ``models`` are the names ``/v1/models`` lists (requests for other models get a 404).
    """

    def __init__(self, reply: Callable[[dict[str, Any]], str] | None = None, *, delay: float = 0.0,
                 script: dict[str, list[str]] | None = None, storm: dict[str, float] | None = None,
                 seed: int = 0, hang_s: float = 30.0, models: list[str] | None = None,
                 usage: tuple[int, int] = (100, 50)) -> None:
        self.reply = reply or (lambda body: f"Here it is:\n```svg\n{SVG}\n```")
        self.delay = delay
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.storm = dict(storm or {})
        self.rng = random.Random(seed)
        self.hang_s = hang_s
        self.models = models
        self.usage = usage
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.steps: Counter[str] = Counter()  # how often each step was served
        self.by_prompt: defaultdict[str, list[str]] = defaultdict(list)  # script key -> steps served
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.httpd = _Server(("127.0.0.1", 0), self._handler())
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def chat_requests(self) -> int:
        with self._lock:
            return len(self.requests)

    def __enter__(self) -> "FaultServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def _next_step(self, body: dict[str, Any]) -> str:
        text = prompt_text(body)
        with self._lock:
            for key, steps in self.script.items():
                if key in text:
                    step = steps.pop(0) if steps else "ok"
                    self.by_prompt[key].append(step)
                    return step
            if self.storm:
                roll = self.rng.random()
                for step, p in self.storm.items():
                    if roll < p:
                        return step
                    roll -= p
        return "ok"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like real providers
            disable_nagle_algorithm = True  # headers and body are two writes: without this each reply waits ~40 ms

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                if self.path.rstrip("/") == "/health":
                    self._json(200, {"status": "ok"})
                elif self.path.rstrip("/") == "/v1/models":
                    names = server.models or ["test-model"]
                    self._json(200, {"object": "list", "data": [{"id": n, "object": "model"} for n in names]})
                else:
                    self._json(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    self._json(400, {"error": {"message": "body is not JSON", "type": "invalid_request_error"}})
                    return
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._json(404, {"error": {"message": f"no route {self.path}"}})
                    return
                with server._lock:
                    server.requests.append(body)
                    server.headers.append({k.lower(): v for k, v in self.headers.items()})
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    step = server._next_step(body)
                    with server._lock:
                        server.steps[step] += 1
                    if server.delay:
                        time.sleep(server.delay)
                    self._serve(step, body)
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _serve(self, step: str, body: dict[str, Any]) -> None:
                model = str(body.get("model", "test-model"))
                if server.models is not None and model not in server.models:
                    self._json(404, {"error": {"message": f"The model `{model}` does not exist.",
                                               "type": "invalid_request_error", "code": "model_not_found"}})
                    return
                name, _, arg = step.partition(":")
                if name == "429":
                    headers = {"Retry-After": arg} if arg else {}
                    self._json(429, {"error": {"message": "Rate limit reached, slow down.", "type": "rate_limit_error"}},
                               headers)
                elif name in ("500", "502", "503"):
                    self._json(int(name), {"error": {"message": f"upstream failure {name}", "type": "server_error"}})
                elif name in ("400", "401", "404"):
                    auth = self.headers.get("Authorization", "")
                    # A careless provider that echoes the caller's credentials in its error message.
                    self._json(int(name), {"error": {"message": f"request refused ({name}) for {auth}",
                                                     "type": "invalid_request_error"}})
                elif name == "hang":
                    server._stop.wait(server.hang_s)
                    self._completion(model, server.reply(body))
                elif name == "truncated":
                    data = self._completion_bytes(model, server.reply(body))
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                elif name == "empty":
                    self._completion(model, "")
                elif name == "nosvg":
                    self._completion(model, "I would rather describe the picture in words.")
                elif name == "echo-auth":  # a provider that puts the caller's credentials into its answer
                    self._completion(model, f"B. (you sent {self.headers.get('Authorization', '')})")
                else:
                    self._completion(model, server.reply(body))

            def _completion_bytes(self, model: str, text: str) -> bytes:
                prompt, completion = server.usage
                return json.dumps({
                    "id": "chatcmpl-fault", "object": "chat.completion", "created": int(time.time()),
                    "model": model,
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                              "total_tokens": prompt + completion},
                }).encode()

            def _completion(self, model: str, text: str) -> None:
                data = self._completion_bytes(model, text)
                self._send(200, data, {})

            def _json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                self._send(status, json.dumps(payload).encode(), headers or {})

            def _send(self, status: int, data: bytes, headers: dict[str, str]) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (its timeout)
                    self.close_connection = True

        return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.0, help="seconds added before every reply")
    args = parser.parse_args(argv)
    server = FaultServer(delay=args.delay)
    with server:
        print(f"port {server.port}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main(sys.argv[1:])
