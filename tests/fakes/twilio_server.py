"""A fake Twilio: a real HTTP server on loopback that the real `twilio` client talks to, and
the phone on the other end.

The server side answers the REST API the way Twilio does (`POST /2010-04-01/Accounts/{sid}/
Messages.json` and `Calls.json`, `GET` of the account itself, HTTP basic auth, Twilio's JSON shapes and error bodies) and
records what it was asked to send. `GET` of the same lists what it took, newest first, as
Twilio pages a list (`To` and `From` filters, `PageSize`, `Page` and `PageToken`, the
`next_page_uri` to follow). It can be told to fail (`fail(500)`, or for a while:
`fail(503, for_s=30)`) or to hang (`hang(seconds)`); a request it hangs on is still taken
when the hang ends, whether or not its client is still waiting, as Twilio takes a request
whose client went away.

The phone side plays Twilio calling Tocsin back, signed with X-Twilio-Signature as Twilio
signs: `reply` texts Tocsin, `answer` picks up a call (fetches its TwiML), `press` presses
keys during it, `deliver` reports a delivery status.

    with FakeTwilio() as twilio:            # or the session's `fake_twilio` fixture
        settings = Settings(**twilio.settings())
        ...
        [sms] = twilio.wait_for(1)
        twilio.inbound_url = f"{tocsin.base_url}/webhooks/twilio/sms"
        twilio.reply(sms.to, "1a")
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import json
import re
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
from twilio.request_validator import RequestValidator

_E164 = re.compile(r"\+[1-9]\d{6,14}")
_PATH = re.compile(r"/2010-04-01/Accounts/(?P<sid>AC\w+)/(?P<kind>Messages|Calls)\.json")
_ACCOUNT = re.compile(r"/2010-04-01/Accounts/(?P<sid>AC\w+)\.json")
_HANG_LIMIT_S = 30.0  # a hang never outlives a test
_PAGE_SIZE = 50  # Twilio's default; at most 1000


@dataclass
class Sms:
    sid: str
    to: str
    from_: str
    body: str
    status_callback: str | None
    received_at: float = field(default_factory=time.time)  # when it was taken (epoch seconds)


@dataclass
class Call:
    sid: str
    to: str
    from_: str
    url: str
    status_callback: str | None
    status_callback_events: list[str]
    gather_action: str | None = None  # where the next key press goes, once answered
    said: list[str] = field(default_factory=list)  # every <Say> heard, in order
    received_at: float = field(default_factory=time.time)  # when it was placed (epoch seconds)


class FakeTwilio:
    """Server and phone. Start with `start()` or `with`; `stop()` also ends any hang."""

    def __init__(self, account_sid: str | None = None, auth_token: str | None = None,
                 from_number: str = "+15005550006") -> None:
        self.account_sid = account_sid or "AC" + uuid.uuid4().hex
        self.auth_token = auth_token or uuid.uuid4().hex
        self.from_number = from_number
        self.inbound_url: str | None = None  # where texts to `from_number` go (the number's SMS webhook)
        self.messages: list[Sms] = []
        self.calls: list[Call] = []
        self.received: list[Sms | Call] = []  # messages and calls, in the order they came
        self.requests = 0  # every API request, answered or not
        self.in_flight = 0  # API requests received and not yet answered
        self._lock = threading.Condition()
        self._failure: tuple[int, int, str] | None = None
        self._failure_until = float("inf")  # time.monotonic() when a failure heals by itself
        self._hang_s = 0.0
        self._stopped = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._validator = RequestValidator(self.auth_token)

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> FakeTwilio:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="fake-twilio", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def settings(self) -> dict[str, Any]:
        """Keyword arguments of `Settings` that point Tocsin at this fake."""
        return {"twilio_account_sid": self.account_sid, "twilio_auth_token": self.auth_token,
                "twilio_from_number": self.from_number, "twilio_api_url": self.url}

    def env(self) -> dict[str, str]:
        """The same, as the TOCSIN_* variables `tocsin up` reads."""
        return {f"TOCSIN_{name.upper()}": str(value) for name, value in self.settings().items()}

    # -- behaviour -----------------------------------------------------------------

    def fail(self, status: int | None = 500, code: int = 20500, message: str = "Internal Server Error",
             for_s: float | None = None) -> None:
        """Answer every API request with this error from now on, or for `for_s` seconds;
        `fail(None)` heals."""
        self._failure_until = float("inf") if for_s is None else time.monotonic() + for_s
        self._failure = None if status is None else (status, code, message)

    def hang(self, seconds: float) -> None:
        """Hold every API request this long before answering; `hang(0)` stops."""
        self._hang_s = min(seconds, _HANG_LIMIT_S)

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self.calls.clear()
            self.received.clear()

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[Sms | Call]:
        """The first `count` messages and calls received (in order), waiting up to `timeout_s`."""
        self._wait(lambda: len(self.received) >= count, f"{count} messages or calls", timeout_s)
        return self.received[:count]

    def wait_for_text(self, to: str, timeout_s: float = 10.0) -> Sms:
        """The first text to `to`, waiting up to `timeout_s` for it."""
        self._wait(lambda: any(sms.to == to for sms in self.messages), f"a text to {to}", timeout_s)
        return next(sms for sms in self.messages if sms.to == to)

    def _wait(self, done: Callable[[], bool], what: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while not done():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"expected {what} within {timeout_s}s; received {self.received}")
                self._lock.wait(left)

    def texts_to(self, number: str) -> list[str]:
        with self._lock:
            return [sms.body for sms in self.messages if sms.to == number]

    def call(self, sid: str) -> Call:
        with self._lock:
            found = [call for call in self.calls if call.sid == sid]
        assert found, f"no call {sid}"
        return found[0]

    # -- the phone: Twilio calling Tocsin ------------------------------------------------

    def sign(self, url: str, params: dict[str, str]) -> str:
        """The X-Twilio-Signature Twilio sends with a request of `params` to `url`."""
        return str(self._validator.compute_signature(url, params))

    def signed_post(self, url: str, params: dict[str, str], signature: str | None = None) -> httpx.Response:
        """POST form `params` to `url` as Twilio does; `signature` overrides the right one."""
        signature = self.sign(url, params) if signature is None else signature
        return httpx.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=30)

    def reply(self, from_number: str, body: str) -> httpx.Response:
        """A text from `from_number` to Tocsin's number, delivered to `inbound_url`."""
        assert self.inbound_url, "set inbound_url to Tocsin's /webhooks/twilio/sms first"
        sid = _sid("SM")
        return self.signed_post(self.inbound_url, {
            "MessageSid": sid, "SmsSid": sid, "AccountSid": self.account_sid, "From": from_number,
            "To": self.from_number, "Body": body, "NumMedia": "0",
        })

    def answer(self, call_sid: str) -> str:
        """Pick up: fetch the call's TwiML as Twilio does, hear its <Say>s; the TwiML."""
        call = self.call(call_sid)
        return self._follow(call, call.url, {"CallStatus": "in-progress"})

    def press(self, call_sid: str, digits: str) -> str:
        """Press keys at the call's current <Gather>; the TwiML that answers them."""
        call = self.call(call_sid)
        if call.gather_action is None:
            self.answer(call_sid)
        assert call.gather_action, f"call {call_sid} is not waiting for keys"
        return self._follow(call, call.gather_action, {"CallStatus": "in-progress", "Digits": digits})

    def deliver(self, sid: str, status: str) -> httpx.Response:
        """Report a message's or call's status to the status callback it was sent with."""
        with self._lock:
            sms = next((m for m in self.messages if m.sid == sid), None)
            call = next((c for c in self.calls if c.sid == sid), None)
        if sms is not None:
            assert sms.status_callback, f"message {sid} was sent without a status callback"
            return self.signed_post(sms.status_callback, {
                "MessageSid": sid, "SmsSid": sid, "AccountSid": self.account_sid, "From": sms.from_,
                "To": sms.to, "MessageStatus": status, "SmsStatus": status,
            })
        assert call is not None, f"no message or call {sid}"
        assert call.status_callback, f"call {sid} was placed without a status callback"
        return self.signed_post(call.status_callback, {
            "CallSid": sid, "AccountSid": self.account_sid, "From": call.from_, "To": call.to,
            "CallStatus": status, "Direction": "outbound-api",
        })

    def _follow(self, call: Call, url: str, extra: dict[str, str]) -> str:
        params = {"CallSid": call.sid, "AccountSid": self.account_sid, "From": call.from_, "To": call.to,
                  "Direction": "outbound-api", **extra}
        response = self.signed_post(url, params)
        assert response.status_code == 200, f"{url}: {response.status_code} {response.text}"
        twiml = response.text
        root = ET.fromstring(twiml)
        call.said.extend(say.text or "" for say in root.iter("Say"))
        gather = root.find(".//Gather")
        call.gather_action = urljoin(url, gather.get("action") or url) if gather is not None else None
        return twiml

    # -- the REST API ---------------------------------------------------------------

    def _serve(self, method: str, path: str, authorization: str | None,
               form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests += 1
            self.in_flight += 1
        try:
            return self._respond(method, path, authorization, form)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _respond(self, method: str, path: str, authorization: str | None,
                 form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        if self._hang_s:
            self._stopped.wait(self._hang_s)
        failure = self._failure
        if failure is not None and time.monotonic() < self._failure_until:
            status, code, message = failure
            return status, _error(status, code, message)
        account = _ACCOUNT.fullmatch(path)
        if account is not None and method == "GET":
            if not self._authorized(account["sid"], authorization):
                return 401, _error(401, 20003, "Authenticate")
            return 200, self._account_json()
        match = _PATH.fullmatch(path)
        if match is None:
            return 404, _error(404, 20404, f"The requested resource {path} was not found")
        if not self._authorized(match["sid"], authorization):
            return 401, _error(401, 20003, "Authenticate")
        if method == "GET":
            return 200, self._list(path, match["kind"], form)
        return self._take(match["kind"], form)

    def _take(self, kind: str, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        values = {name: items[-1] for name, items in form.items()}
        to, from_ = values.get("To", ""), values.get("From", "")
        if not _E164.fullmatch(to):
            return 400, _error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if from_ != self.from_number:
            return 400, _error(400, 21606, f"The From phone number {from_} is not a valid number for this account")
        if kind == "Messages":
            if not values.get("Body"):
                return 400, _error(400, 21602, "Message body is required.")
            sms = Sms(_sid("SM"), to, from_, values["Body"], values.get("StatusCallback"))
            self._record(sms, self.messages)
            return 201, self._message_json(sms, "queued")
        if not values.get("Url") and not values.get("Twiml"):
            return 400, _error(400, 21205, "Url parameter is required.")
        call = Call(_sid("CA"), to, from_, values.get("Url", ""), values.get("StatusCallback"),
                    form.get("StatusCallbackEvent", []))
        self._record(call, self.calls)
        return 201, self._call_json(call)

    def _list(self, path: str, kind: str, query: dict[str, list[str]]) -> dict[str, Any]:
        """One page of what was taken, newest first, in Twilio's list shape."""
        values = {name: items[-1] for name, items in query.items()}
        with self._lock:
            taken: list[Sms | Call] = list(self.messages if kind == "Messages" else self.calls)
        matching = [item for item in reversed(taken)
                    if values.get("To", item.to) == item.to and values.get("From", item.from_) == item.from_]
        size = min(max(int(values.get("PageSize", _PAGE_SIZE)), 1), 1000)
        page = max(int(values.get("Page", 0)), 0)
        start = page * size
        token = values.get("PageToken", "")
        after = [n for n, item in enumerate(matching) if "PA" + item.sid == token]
        if after:  # the page after the one ending with that item
            start = after[0] + 1
        items = matching[start:start + size]
        filters = {name: values[name] for name in ("To", "From") if name in values}

        def uri(number: int, **more: str) -> str:
            return f"{path}?{urlencode({**filters, 'PageSize': size, 'Page': number, **more})}"

        more = start + size < len(matching)
        return {
            kind.lower(): [self._message_json(item, "sent") if isinstance(item, Sms) else self._call_json(item)
                           for item in items],
            "first_page_uri": uri(0), "uri": uri(page), "page": page, "page_size": size,
            "previous_page_uri": uri(page - 1) if page > 0 else None,
            "next_page_uri": uri(page + 1, PageToken="PA" + items[-1].sid) if more and items else None,
            "start": start, "end": start + max(len(items) - 1, 0),
        }

    def _authorized(self, sid: str, authorization: str | None) -> bool:
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return sid == self.account_sid and hmac.compare_digest((authorization or "").encode(), expected.encode())

    def _record(self, item: Sms | Call, into: list[Any]) -> None:
        with self._lock:
            into.append(item)
            self.received.append(item)
            self._lock.notify_all()

    def _account_json(self) -> dict[str, Any]:
        """The account, as fetching it shows it."""
        return {"sid": self.account_sid, "friendly_name": "Fake Twilio account", "status": "active",
                "type": "Full", "owner_account_sid": self.account_sid, "auth_token": "**********",
                "date_created": formatdate(usegmt=True), "date_updated": formatdate(usegmt=True),
                "uri": f"/2010-04-01/Accounts/{self.account_sid}.json", "subresource_uris": {}}

    def _message_json(self, sms: Sms, status: str) -> dict[str, Any]:
        """As Twilio shows a text: "queued" when just taken, "sent" when listed later."""
        created = formatdate(sms.received_at, usegmt=True)
        return {
            "sid": sms.sid, "account_sid": self.account_sid, "api_version": "2010-04-01", "body": sms.body,
            "date_created": created, "date_updated": created, "date_sent": created if status == "sent" else None,
            "direction": "outbound-api",
            "error_code": None, "error_message": None, "from": sms.from_, "to": sms.to,
            "messaging_service_sid": None, "num_media": "0", "num_segments": "1", "price": None,
            "price_unit": "USD", "status": status, "subresource_uris": {},
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sms.sid}.json",
        }

    def _call_json(self, call: Call) -> dict[str, Any]:
        created = formatdate(call.received_at, usegmt=True)
        return {
            "sid": call.sid, "account_sid": self.account_sid, "api_version": "2010-04-01",
            "date_created": created, "date_updated": created, "direction": "outbound-api", "from": call.from_,
            "from_formatted": call.from_, "to": call.to, "to_formatted": call.to, "status": "queued",
            "start_time": None, "end_time": None, "duration": None, "price": None, "price_unit": "USD",
            "parent_call_sid": None, "phone_number_sid": None, "answered_by": None, "forwarded_from": None,
            "caller_name": None, "group_sid": None, "queue_time": "0", "trunk_sid": None, "subresource_uris": {},
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Calls/{call.sid}.json",
        }


def _sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


def _error(status: int, code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status}


def _handler(fake: FakeTwilio) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
            status, body = fake._serve("POST", self.path.split("?")[0], self.headers.get("Authorization"), form)
            self._answer(status, body)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query, keep_blank_values=True)
            status, body = fake._serve("GET", url.path, self.headers.get("Authorization"), query)
            self._answer(status, body)

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            payload = json.dumps(body).encode()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (a hang)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests assert on what was received, not on access logs."""

    return Handler
