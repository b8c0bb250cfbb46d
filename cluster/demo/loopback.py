"""A small HTTP server on a loopback port, in threads of this process: what each of the demo's
providers answers on. A handler is a function of the request that returns the answer."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger(__name__)
MAX_BODY = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str  # with its query
    headers: dict[str, str]  # names in lower case
    body: bytes


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes = b""
    content_type: str = "application/json"


Handler = Callable[[Request], Answer]


class LoopbackServer:
    """Serves `handler` on 127.0.0.1 at a port of its own until `stop`."""

    def __init__(self, name: str, handler: Handler) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _request_handler(name, handler))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name=f"demo-{name}", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def _request_handler(name: str, handler: Handler) -> type[BaseHTTPRequestHandler]:
    class RequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._answer(Answer(413, b'{"message": "too large"}'))
                return
            request = Request(method, self.path, {k.lower(): v for k, v in self.headers.items()},
                              self.rfile.read(length))
            try:
                answer = handler(request)
            except Exception:  # noqa: BLE001 - one bad request must not stop the demo's provider
                log.exception("demo %s could not answer %s %s", name, method, self.path)
                answer = Answer(500, b'{"message": "the demo provider failed; see the log"}')
            self._answer(answer)

        def _answer(self, answer: Answer) -> None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the inbox says what was received."""

    return RequestHandler
