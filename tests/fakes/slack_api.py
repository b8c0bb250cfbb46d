"""A fake Slack: the Web API methods Tocsin calls, as slack_sdk calls them, and Slack's side of
interactions and slash commands, signed as Slack signs them.

    with FakeSlack() as slack:
        slack.api_url                  # "http://127.0.0.1:<port>/api": TOCSIN_SLACK_API_URL
        slack.env()                    # the TOCSIN_SLACK_* settings that point Tocsin here
        slack.messages[(channel, ts)]  # each posted message as it stands now (updated in place)
        slack.calls                    # every call: Call(method, body), in order
        slack.press(url, message, user, action_id)   # a button pressed, POSTed to Tocsin
        slack.command(url, user, "oncall")           # "/tocsin oncall" typed, POSTed to Tocsin

auth.test, chat.postMessage, chat.update and chat.postEphemeral answer as Slack does: `{"ok": true, …}`,
or `{"ok": false, "error": …}` for an unknown token (invalid_auth), an unknown channel
(channel_not_found) or a message that does not exist (message_not_found). Requests are
signed with the documented v0 scheme (HMAC-SHA256 over "v0:<timestamp>:<body>"), computed
here with slack_sdk's own SignatureVerifier.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from tests.fakes.loopback_http import LoopbackHttpServer

TOKEN = "xoxb-fake-bot-token"
SIGNING_SECRET = "fake-slack-signing-secret-0123456789"


@dataclass(frozen=True)
class Call:
    method: str
    body: dict[str, Any]


class FakeSlack:
    def __init__(self, token: str = TOKEN, signing_secret: str = SIGNING_SECRET) -> None:
        self.token = token
        self.signing_secret = signing_secret
        self.calls: list[Call] = []
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.ephemeral: list[dict[str, Any]] = []
        self.api_url = ""
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self._server: LoopbackHttpServer | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> FakeSlack:
        self._server = LoopbackHttpServer(_handler_for(self), "fake-slack")
        self.api_url = f"{self._server.url}/api"
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def env(self) -> dict[str, str]:
        return {"TOCSIN_SLACK_BOT_TOKEN": self.token, "TOCSIN_SLACK_API_URL": self.api_url,
                "TOCSIN_SLACK_SIGNING_SECRET": self.signing_secret}

    # -- what the test looks at ------------------------------------------------------------

    def posted_to(self, channel: str) -> list[tuple[str, dict[str, Any]]]:
        """The messages in `channel`, oldest first, with their ts."""
        with self._lock:
            return [(ts, message) for (where, ts), message in self.messages.items() if where == channel]

    def calls_of(self, method: str) -> list[Call]:
        with self._lock:
            return [call for call in self.calls if call.method == method]

    # -- Slack calling Tocsin --------------------------------------------------------------

    def sign(self, body: str, timestamp: int) -> str:
        signature = SignatureVerifier(self.signing_secret).generate_signature(timestamp=str(timestamp), body=body)
        assert signature is not None
        return signature

    def signed_post(self, url: str, form: dict[str, str], *, timestamp: int | None = None,
                    signature: str | None = None) -> httpx.Response:
        """POST the form as Slack does, signed now (or at `timestamp`, or with `signature`)."""
        body = urlencode(form)
        at = int(time.time()) if timestamp is None else timestamp
        headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": str(at),
                   "X-Slack-Signature": signature or self.sign(body, at)}
        return httpx.post(url, content=body, headers=headers, timeout=30)

    def press(self, url: str, channel: str, ts: str, user: str, action_id: str, **signing: Any) -> httpx.Response:
        """The button `action_id` of the message (channel, ts) pressed by `user`."""
        with self._lock:
            message = self.messages[(channel, ts)]
        [button] = [element for block in message.get("blocks", []) if block["type"] == "actions"
                    for element in block["elements"] if element["action_id"] == action_id]
        payload = {
            "type": "block_actions", "user": {"id": user, "username": user.lower(), "team_id": "T0FAKE"},
            "team": {"id": "T0FAKE", "domain": "fake"}, "api_app_id": "A0FAKE", "trigger_id": "1.2.3",
            "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": False},
            "channel": {"id": channel, "name": "oncall"}, "message": message,
            "response_url": f"{self.api_url}/response/{channel}/{ts}",
            "actions": [{**button, "block_id": "b", "action_ts": f"{time.time():.6f}"}],
        }
        return self.signed_post(url, {"payload": json.dumps(payload)}, **signing)

    def command(self, url: str, user: str, text: str, **signing: Any) -> httpx.Response:
        form = {"token": "deprecated", "team_id": "T0FAKE", "channel_id": "C0FAKECHAN", "user_id": user,
                "user_name": user.lower(), "command": "/tocsin", "text": text, "api_app_id": "A0FAKE",
                "response_url": f"{self.api_url}/response/commands", "trigger_id": "1.2.3"}
        return self.signed_post(url, form, **signing)

    # -- inside the server's threads -------------------------------------------------------

    def _answer(self, method: str, token: str | None, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.calls.append(Call(method, body))
            if token != self.token:
                return {"ok": False, "error": "invalid_auth"}
            if method == "auth.test":
                return {"ok": True, "url": "https://fake.slack.com/", "team": "Fake", "user": "tocsin",
                        "team_id": "T0FAKE", "user_id": "U0TOCSIN", "bot_id": "B0TOCSIN"}
            channel = str(body.get("channel", ""))
            if not channel:
                return {"ok": False, "error": "channel_not_found"}
            if method == "chat.postMessage":
                ts = f"{1767225600 + next(self._ts)}.000100"
                self.messages[(channel, ts)] = {"text": body.get("text"), "blocks": body.get("blocks", []), "ts": ts}
                return {"ok": True, "channel": channel, "ts": ts, "message": self.messages[(channel, ts)]}
            if method == "chat.update":
                key = (channel, str(body.get("ts")))
                if key not in self.messages:
                    return {"ok": False, "error": "message_not_found"}
                self.messages[key] = {"text": body.get("text"), "blocks": body.get("blocks", []), "ts": key[1]}
                return {"ok": True, "channel": channel, "ts": key[1], "text": body.get("text")}
            if method == "chat.postEphemeral":
                self.ephemeral.append(body)
                return {"ok": True, "message_ts": f"{time.time():.6f}"}
            return {"ok": False, "error": "unknown_method"}


def _handler_for(fake: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            method = self.path.split("?")[0].removeprefix("/api/")
            auth = self.headers.get("Authorization", "")
            token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                body = {}
            answer = json.dumps(fake._answer(method, token, body if isinstance(body, dict) else {})).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:  # quiet
            return

    return Handler
