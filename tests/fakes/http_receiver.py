"""A local HTTP server that records every request and answers as told: a Slack incoming
webhook, Slack's Web API, or a customer's webhook endpoint.

    with HttpReceiver() as receiver:
        receiver.url                                   # "http://127.0.0.1:<port>"
        receiver.respond(200, {"ok": True, "ts": "1.2"}, path="/api/chat.postMessage")
        receiver.respond(500)                          # every other path answers 500
        receiver.hang()                                # every path: read the request, never answer
        receiver.requests  ->  [ Received(method, path, query, headers, body, at), ... ]

Answers are chosen by exact path, else the default one (200 "ok" until told otherwise).
A hanging request is released when the receiver stops, or after `hang_limit_s`, so the
server always stops by itself.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any

from tests.fakes.loopback_http import LoopbackHttpServer


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: str  # what followed "?", if anything
    headers: dict[str, str]  # names lower-cased
    body: bytes
    at: float = field(default_factory=time.time)  # when it was received: wall clock, epoch seconds

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/plain"})
    hang: bool = False


class HttpReceiver:
    def __init__(self, *, hang_limit_s: float = 30.0, tls: ssl.SSLContext | None = None) -> None:
        """`tls`: served over https with this context's certificate."""
        self.requests: list[Received] = []
        self.url = ""
        self._hang_limit_s = hang_limit_s
        self._default = Answer()
        self._by_path: dict[str, Answer] = {}
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server: LoopbackHttpServer | None = None
        self._tls = tls

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> HttpReceiver:
        self._server = LoopbackHttpServer(_handler_for(self), "http-receiver", self._tls)
        self.url = self._server.url
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> HttpReceiver:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # -- behaviour -----------------------------------------------------------------------

    def respond(self, status: int = 200, body: bytes | str | dict[str, Any] | list[Any] = b"ok", *,
                path: str | None = None, headers: dict[str, str] | None = None) -> None:
        """Answer `path` (or every path without an answer of its own) with this status and
        body; a dict or list body is sent as JSON. `headers` add to or replace Content-Type."""
        if isinstance(body, (dict, list)):
            data, content_type = json.dumps(body).encode(), "application/json"
        else:
            data, content_type = (body.encode() if isinstance(body, str) else body), "text/plain"
        self._set(Answer(status, data, {"Content-Type": content_type, **(headers or {})}), path)

    def hang(self, path: str | None = None) -> None:
        """Take the request and never answer it (until the receiver stops)."""
        self._set(Answer(hang=True), path)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._default = Answer()
            self._by_path.clear()

    def _set(self, answer: Answer, path: str | None) -> None:
        with self._lock:
            if path is None:
                self._default = answer
            else:
                self._by_path[path] = answer

    # -- inside the server's threads -----------------------------------------------------

    def _take(self, request: Received) -> Answer:
        with self._lock:
            self.requests.append(request)
            return self._by_path.get(request.path, self._default)

    def _wait_released(self) -> None:
        self._release.wait(self._hang_limit_s)


def _handler_for(receiver: HttpReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # The headers and the body go out in two writes: with Nagle's algorithm on, the body
        # waits for the client's delayed ACK, some 40 ms on every kept-alive request.
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path, _, query = self.path.partition("?")
            headers = {name.lower(): value for name, value in self.headers.items()}
            answer = receiver._take(Received(self.command, path, query, headers, body))
            if answer.hang:
                receiver._wait_released()
                self.close_connection = True
                return
            self.send_response(answer.status)
            self.send_header("Content-Length", str(len(answer.body)))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(answer.body)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the requests are recorded, not printed."""

    return Handler
