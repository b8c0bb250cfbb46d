"""A browser's push service and the browser behind it, on loopback: what Tocsin's Web Push
provider talks to in tests, checked as FCM, Mozilla's and Apple's push services check it, and
decrypted as the browser does.

    with FakePushService() as service:
        browser = service.subscribe()            # a subscription, with the browser's own keys
        browser.json()                            # {"endpoint", "keys": {"p256dh", "auth"}}, as toJSON() gives
        service.answer(browser, 410)              # that subscription is gone: 410 (or 404)
        service.deliveries  ->  [ Delivery(endpoint, headers, payload (decrypted JSON), at), ... ]
        service.refused     ->  [ (endpoint, status, why), ... ]

Each POST to an endpoint must carry `Authorization: vapid t=<JWT>, k=<public key>` (RFC 8292):
an ES256 JWT signed by that key, for the endpoint's origin (`aud`), not expired, with a
`sub`; `Content-Encoding: aes128gcm` with a body that decrypts (RFC 8291) with the
subscription's private key and auth secret; and a TTL header. What fails is answered 401, 400
or 404 as a push service does, and recorded in `refused`; what passes is 201, with a
Location naming the message. An unknown endpoint is 404; one told so answers 404 or 410.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any

import http_ece
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.fakes.loopback_http import LoopbackHttpServer


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """One subscription: its endpoint, and the browser's key pair and auth secret."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes

    @property
    def p256dh(self) -> str:
        point = self.private_key.public_key().public_bytes(serialization.Encoding.X962,
                                                           serialization.PublicFormat.UncompressedPoint)
        return b64url(point)

    def json(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "expirationTime": None, "keys": {"p256dh": self.p256dh,
                                                                             "auth": b64url(self.auth)}}

    def decrypt(self, body: bytes) -> bytes:
        return bytes(http_ece.decrypt(body, private_key=self.private_key, auth_secret=self.auth, version="aes128gcm"))


@dataclass(frozen=True)
class Delivery:
    endpoint: str
    headers: dict[str, str]  # names lower-cased
    payload: Any  # the decrypted JSON
    vapid_key: str  # the `k=` the push was signed with
    claims: dict[str, Any]
    at: float = field(default_factory=time.time)  # wall clock, epoch seconds, when it was taken


class FakePushService:
    def __init__(self) -> None:
        self.url = ""
        self.deliveries: list[Delivery] = []
        self.refused: list[tuple[str, int, str]] = []
        self._browsers: dict[str, Browser] = {}
        self._answers: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server: LoopbackHttpServer | None = None

    def start(self) -> FakePushService:
        self._server = LoopbackHttpServer(_handler_for(self), "push-service")
        self.url = self._server.url
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> FakePushService:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def subscribe(self) -> Browser:
        """A new subscription, as PushManager.subscribe makes one."""
        browser = Browser(f"{self.url}/push/{uuid.uuid4().hex}", ec.generate_private_key(ec.SECP256R1()),
                          os.urandom(16))
        with self._lock:
            self._browsers[browser.endpoint] = browser
        return browser

    def answer(self, browser: Browser, status: int) -> None:
        """Answer pushes to this subscription with `status` (404, 410: it is gone)."""
        with self._lock:
            self._answers[browser.endpoint] = status

    def delivered_to(self, browser: Browser) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if d.endpoint == browser.endpoint]

    def wait_for(self, browser: Browser, count: int = 1, timeout_s: float = 20.0) -> list[Delivery]:
        """The first `count` pushes this subscription took, waiting up to `timeout_s` for them."""
        return self._wait(lambda: len(self.delivered_to(browser)) >= count, timeout_s,
                          f"{count} pushes to {browser.endpoint}", lambda: self.delivered_to(browser)[:count])

    def wait_for_refusal(self, browser: Browser, timeout_s: float = 20.0) -> tuple[str, int, str]:
        """The first push to this subscription that was refused, waiting up to `timeout_s`."""
        def mine() -> list[tuple[str, int, str]]:
            with self._lock:
                return [r for r in self.refused if r[0] == browser.endpoint]
        return self._wait(lambda: bool(mine()), timeout_s, f"a refused push to {browser.endpoint}",
                          lambda: mine()[0])

    def _wait(self, done: Any, timeout_s: float, what: str, result: Any) -> Any:
        deadline = time.monotonic() + timeout_s
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError(f"expected {what} within {timeout_s}s; refused: {self.refused}")
            time.sleep(0.05)
        return result()

    # -- inside the server's threads -----------------------------------------------------

    def _take(self, endpoint: str, headers: dict[str, str], body: bytes) -> tuple[int, str]:
        with self._lock:
            browser = self._browsers.get(endpoint)
            told = self._answers.get(endpoint)
        if browser is None:
            return self._refuse(endpoint, 404, "no such subscription")
        if told is not None:
            return self._refuse(endpoint, told, "told to answer so")
        try:
            key, claims = _vapid(headers.get("authorization", ""), self.url)
        except ValueError as exc:
            return self._refuse(endpoint, 401, str(exc))
        if headers.get("content-encoding") != "aes128gcm":
            return self._refuse(endpoint, 400, f"content-encoding {headers.get('content-encoding')!r}")
        if not headers.get("ttl", "").isdigit():
            return self._refuse(endpoint, 400, "no TTL")
        try:
            payload = json.loads(browser.decrypt(body))
        except Exception as exc:  # noqa: BLE001 - whatever fails to decrypt is refused
            return self._refuse(endpoint, 400, f"cannot decrypt: {type(exc).__name__}: {exc}")
        with self._lock:
            self.deliveries.append(Delivery(endpoint, headers, payload, key, claims))
        return 201, f"{self.url}/m/{uuid.uuid4().hex}"

    def _refuse(self, endpoint: str, status: int, why: str) -> tuple[int, str]:
        with self._lock:
            self.refused.append((endpoint, status, why))
        return status, ""


def _vapid(authorization: str, origin: str) -> tuple[str, dict[str, Any]]:
    """The key and claims of a valid `vapid t=…, k=…` header; ValueError saying why not."""
    scheme, _, rest = authorization.partition(" ")
    if scheme.lower() != "vapid":
        raise ValueError(f"Authorization scheme {scheme!r}, not vapid")
    parts = dict(part.strip().split("=", 1) for part in rest.split(",") if "=" in part)
    if "t" not in parts or "k" not in parts:
        raise ValueError("vapid needs t= and k=")
    raw = b64url_decode(parts["k"])
    try:
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
        claims: dict[str, Any] = jwt.decode(parts["t"], public, algorithms=["ES256"], audience=origin,
                                            options={"require": ["aud", "exp", "sub"]})
    except (ValueError, jwt.PyJWTError) as exc:
        raise ValueError(f"VAPID JWT refused: {type(exc).__name__}: {exc}") from None
    if claims["exp"] > time.time() + 24 * 3600:
        raise ValueError("VAPID JWT expires more than 24 hours ahead")
    if not str(claims["sub"]).startswith(("mailto:", "https:", "http:")):
        raise ValueError(f"VAPID sub {claims['sub']!r} is no mailto: or https: URL")
    return parts["k"], claims


def _handler_for(service: FakePushService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, location = service._take(service.url + self.path, headers, body)
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: deliveries are recorded, not printed."""

    return Handler
