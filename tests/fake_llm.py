"""A local OpenAI-compatible chat server for tests (binds 127.0.0.1 only).

Usage in a test::

    def test_x(fake_llm):
        fake_llm.reply = lambda request: '{"criteria_met": true}'   # text of the assistant message
        client = ChatClient(base_url=fake_llm.base_url, max_retries=1, backoff=0)

``reply`` may return a string (the message content), a ``FakeReply`` (status, raw body, delay)
or a list of strings (one choice each). Every request body is kept in ``fake_llm.requests``.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import pytest


@dataclass
class FakeReply:
    status: int = 200
    body: str | None = None  # raw body; None = a normal chat completion built from ``content``
    content: str = ""
    delay: float = 0.0
    trickle: float = 0.0  # > 0: send the reply one byte at a time, this many seconds apart


class FakeLLMServer:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.reply: Callable[[dict[str, Any]], Any] = lambda request: "ok"
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    request = json.loads(raw)
                except ValueError:
                    request = {"_raw": raw.decode(errors="replace")}
                with server._lock:
                    server.requests.append(request)
                if not self.path.endswith("/chat/completions"):
                    self._send(404, '{"error": "not found"}')
                    return
                try:
                    result = server.reply(request)
                except Exception as exc:  # a test handler bug becomes an HTTP 500
                    self._send(500, json.dumps({"error": str(exc)}))
                    return
                if isinstance(result, list):
                    result = _choices(result)
                elif isinstance(result, str):
                    result = FakeReply(content=result)
                elif not isinstance(result, FakeReply):
                    result = FakeReply(content=json.dumps(result))
                if result.delay:
                    time.sleep(result.delay)
                if result.body is not None:
                    self._send(result.status, result.body, trickle=result.trickle)
                    return
                body = {
                    "id": "fake", "object": "chat.completion", "model": request.get("model", "fake"),
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": result.content},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }
                self._send(result.status, json.dumps(body), trickle=result.trickle)

            def _send(self, status: int, body: str, trickle: float = 0.0) -> None:
                data = body.encode()
                if trickle:
                    head = (f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n"
                            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n").encode()
                    try:
                        for byte in head + data:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(trickle)
                    except (BrokenPipeError, ConnectionResetError, OSError):
                        pass  # the client gave up (the deadline tests)
                    return
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> "FakeLLMServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _choices(texts: list[str]) -> FakeReply:
    body = {
        "id": "fake", "object": "chat.completion", "model": "fake",
        "choices": [{"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": "stop"}
                    for i, t in enumerate(texts)],
    }
    return FakeReply(body=json.dumps(body))


@pytest.fixture
def fake_llm():
    server = FakeLLMServer().start()
    try:
        yield server
    finally:
        server.stop()
