"""The part every HTTP fake shares: a threaded HTTP server on a free loopback port, served
from a daemon thread, and stopped within a bounded time."""

from __future__ import annotations

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

STOP_TIMEOUT_S = 5.0


class LoopbackHttpServer:
    def __init__(self, handler: type[BaseHTTPRequestHandler], name: str, tls: ssl.SSLContext | None = None) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True  # a handler left waiting never holds up the exit
        if tls is not None:  # for clients that insist on https://
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(STOP_TIMEOUT_S)


class QuietJsonHandler(BaseHTTPRequestHandler):
    """A handler that logs nothing and answers JSON: what the fake REST APIs share."""

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are the test's business, not the terminal's."""

    def send_json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
