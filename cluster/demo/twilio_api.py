"""The demo's Twilio: a Twilio-compatible REST endpoint that Tocsin's Twilio provider sends its
texts and calls to (TOCSIN_TWILIO_API_URL's way), each put on the demo person's phone.

It answers as Twilio does what the provider asks: `POST /2010-04-01/Accounts/{sid}/Messages.json`
and `Calls.json` (HTTP basic auth with the account's sid and token, form parameters, JSON
answers and error bodies) and `GET` of the account. A call is only placed: its words are
fetched when the person picks it up on the demo phone (phone.py), as Twilio fetches them when
the callee answers."""

from __future__ import annotations

import base64
import hmac
import json
import re
import secrets
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tocsin.cluster.demo.inbox import Inbox
from tocsin.cluster.demo.loopback import Answer, Request
from tocsin.cluster.demo.people import TOCSIN_NUMBER

_SENT = re.compile(r"/2010-04-01/Accounts/(?P<sid>AC\w+)/(?P<kind>Messages|Calls)\.json")
_ACCOUNT = re.compile(r"/2010-04-01/Accounts/(?P<sid>AC\w+)\.json")


class TwilioAccount:
    """The demo's account: its sid and auth token (new at each start), its number."""

    def __init__(self, inbox: Inbox) -> None:
        self.sid = "AC" + secrets.token_hex(16)
        self.auth_token = secrets.token_hex(16)
        self.number = TOCSIN_NUMBER
        self._inbox = inbox

    def handle(self, request: Request) -> Answer:
        path = urlsplit(request.path).path
        account, sent = _ACCOUNT.fullmatch(path), _SENT.fullmatch(path)
        match = account or sent
        if match is None:
            return _error(404, 20404, f"The requested resource {path} was not found")
        if not self._authorized(match["sid"], request.headers.get("authorization", "")):
            return _error(401, 20003, "Authenticate")
        if account is not None and request.method == "GET":
            return _json(200, {"sid": self.sid, "friendly_name": "Tocsin demo", "status": "active", "type": "Full"})
        if sent is None or request.method != "POST":
            return _error(405, 20004, "Method not allowed")
        form = {name: values[-1] for name, values in parse_qs(request.body.decode(), keep_blank_values=True).items()}
        return self._text(form) if sent["kind"] == "Messages" else self._call(form)

    def _text(self, form: dict[str, str]) -> Answer:
        to, body = form.get("To", ""), form.get("Body", "")
        if not body:
            return _error(400, 21602, "Message body is required.")
        sid = "SM" + secrets.token_hex(16)
        if self._inbox.add(to, "text", f"Text from {self.number}", body, sid=sid) is None:
            return _error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        return _json(201, {**self._common(sid, to), "body": body, "num_segments": "1"})

    def _call(self, form: dict[str, str]) -> Answer:
        to, url = form.get("To", ""), form.get("Url", "")
        if not url:
            return _error(400, 21205, "Url parameter is required.")
        sid = "CA" + secrets.token_hex(16)
        if self._inbox.add(to, "call", f"Call from {self.number}", "Ringing: pick up to hear it.", sid=sid,
                           voice_url=url) is None:
            return _error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        return _json(201, self._common(sid, to))

    def _common(self, sid: str, to: str) -> dict[str, Any]:
        now = formatdate(usegmt=True)
        return {"sid": sid, "account_sid": self.sid, "to": to, "from": self.number, "status": "queued",
                "date_created": now, "date_updated": now, "direction": "outbound-api", "api_version": "2010-04-01"}

    def _authorized(self, sid: str, authorization: str) -> bool:
        expected = "Basic " + base64.b64encode(f"{self.sid}:{self.auth_token}".encode()).decode()
        return sid == self.sid and hmac.compare_digest(authorization.encode(), expected.encode())


def _json(status: int, body: dict[str, Any]) -> Answer:
    return Answer(status, json.dumps(body).encode())


def _error(status: int, code: int, message: str) -> Answer:
    return _json(status, {"code": code, "message": message, "status": status,
                          "more_info": f"https://www.twilio.com/docs/errors/{code}"})
