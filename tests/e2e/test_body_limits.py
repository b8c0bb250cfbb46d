"""Every route stops reading a request body at its limit and answers 413 before anything
parses it, authentication included: ingestion (512 KB), the REST API (1 MB), logging in and
Twilio's webhooks (64 KB). Bodies within the limit are served as before.

The over-limit requests are made on a socket of their own, so that the test controls what is
sent: a chunked body that never ends, or a declared length with no body behind it. A server
that read to the end first would never answer either; Tocsin answers while the rest is
still unsent.
"""

from __future__ import annotations

import json
import select
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.client import HTTPResponse
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.client import trigger
from tests.e2e.accounts import client_at

KB = 1024
CHUNK = 16 * KB
NEVER_MORE_THAN = 256 * 1024 * KB  # what a chunked body would be offered at most: far past any limit
WAIT_S = 20


@dataclass(frozen=True)
class Route:
    path: str
    limit: int
    headers: tuple[tuple[str, str], ...] = ()


def routes(admin_token: str) -> list[Route]:
    """One route of each kind, each with credentials that would fail if they were checked:
    the 413 must come first."""
    return [
        Route("/v2/enqueue", 512 * KB),
        Route("/integrations/generic/" + "0" * 32, 512 * KB),
        Route("/v2/alerts", 512 * KB, (("Authorization", "GenieKey unknown"),)),
        Route("/api/v1/services", 1024 * KB),
        Route("/api/v1/services", 1024 * KB, (("Authorization", f"Bearer {admin_token}"),)),
        Route("/api/v1/session", 64 * KB),
        Route("/webhooks/twilio/sms", 64 * KB, (("X-Twilio-Signature", "not-checked-yet"),)),
    ]


ROUTE_IDS = ["pagerduty", "generic", "opsgenie", "api", "api-as-admin", "login", "twilio"]


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    sent: int  # bytes of the body (with its chunk framing) written before the answer came


@pytest.fixture
def route(request: pytest.FixtureRequest, admin_token: str) -> Route:
    return routes(admin_token)[request.param]


def _connect(base_url: str) -> socket.socket:
    url = httpx.URL(base_url)
    return socket.create_connection((url.host, url.port or 80), timeout=WAIT_S)


def _head(base_url: str, route: Route, framing: str) -> bytes:
    host = httpx.URL(base_url).netloc.decode()
    lines = [f"POST {route.path} HTTP/1.1", f"Host: {host}", "Content-Type: application/json", framing,
             *(f"{name}: {value}" for name, value in route.headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _read_answer(sock: socket.socket, sent: int) -> Answer:
    response = HTTPResponse(sock)
    response.begin()
    body = json.loads(response.read())
    return Answer(response.status, body, sent)


def post_endless(base_url: str, route: Route) -> Answer:
    """POST a chunked body that is never finished, as a client that listens while it sends:
    chunk after chunk until the server answers (or NEVER_MORE_THAN bytes have gone)."""
    chunk = b"%x\r\n" % CHUNK + b"x" * CHUNK + b"\r\n"
    sent, pending = 0, b""
    with _connect(base_url) as sock:
        sock.sendall(_head(base_url, route, "Transfer-Encoding: chunked"))
        while sent < NEVER_MORE_THAN:
            readable, writable, _ = select.select([sock], [sock], [], WAIT_S)
            if readable:
                break
            assert writable, f"in {WAIT_S} s the server neither answered nor read more"
            try:
                written = sock.send(pending or chunk)
            except (BrokenPipeError, ConnectionResetError):
                break  # the server closed the connection; its answer is there to read
            pending = (pending or chunk)[written:]
            sent += written
        assert sent < NEVER_MORE_THAN, "the server read the whole body without answering"
        return _read_answer(sock, sent)


def post_declared(base_url: str, route: Route, length: int) -> Answer:
    """POST headers declaring `length` bytes, and no body at all."""
    with _connect(base_url) as sock:
        sock.sendall(_head(base_url, route, f"Content-Length: {length}"))
        return _read_answer(sock, 0)


def says_the_limit(answer: Answer, limit: int) -> None:
    assert answer.status == 413, answer
    assert f"at most {limit} bytes" in answer.body["message"], answer.body


@pytest.mark.parametrize("route", range(len(ROUTE_IDS)), ids=ROUTE_IDS, indirect=True)
def test_a_chunked_body_past_the_limit_is_refused_before_it_ends(tocsin: Any, route: Route) -> None:
    answer = post_endless(tocsin.base_url, route)
    says_the_limit(answer, route.limit)
    assert answer.sent >= route.limit


@pytest.mark.parametrize("route", range(len(ROUTE_IDS)), ids=ROUTE_IDS, indirect=True)
def test_a_declared_length_past_the_limit_is_refused_without_waiting_for_the_body(tocsin: Any,
                                                                                 route: Route) -> None:
    says_the_limit(post_declared(tocsin.base_url, route, route.limit + 1), route.limit)


def test_each_ingestion_source_is_refused_in_its_own_shape(tocsin: Any, admin_token: str) -> None:
    pagerduty, generic, opsgenie = (post_endless(tocsin.base_url, route) for route in routes(admin_token)[:3])
    assert pagerduty.body["status"] == "error" and pagerduty.body["errors"]
    assert generic.body["error"] == "payload too large"
    assert isinstance(opsgenie.body["took"], float) and opsgenie.body["requestId"]


def test_a_failed_login_too_large_to_read_is_not_counted(tocsin: Any, db: Any) -> None:
    before = db("fetchval", "SELECT count(*) FROM login_failures")
    says_the_limit(post_endless(tocsin.base_url, Route("/api/v1/session", 64 * KB)), 64 * KB)
    assert db("fetchval", "SELECT count(*) FROM login_failures") == before


# -- within the limit ---------------------------------------------------------------------


def chunks_of(data: bytes) -> Iterator[bytes]:
    """`data` as a generator, which httpx sends chunked."""
    for start in range(0, len(data), CHUNK):
        yield data[start:start + CHUNK]


def test_an_event_just_under_the_limit_is_taken_declared_or_chunked(anonymous: httpx.Client, new_service: Any
                                                                    ) -> None:
    service = new_service()
    for dedup_key in ("declared", "chunked"):
        event = trigger(service.key, dedup_key, custom_details={"blob": ""})
        padding = 512 * KB - len(json.dumps(event)) - 1
        event["payload"]["custom_details"]["blob"] = "x" * padding
        body = json.dumps(event).encode()
        assert len(body) == 512 * KB - 1
        content = body if dedup_key == "declared" else chunks_of(body)
        response = anonymous.post("/v2/enqueue", content=content, headers={"Content-Type": "application/json"})
        assert response.status_code == 202, response.text
        assert response.json()["dedup_key"] == dedup_key


def test_an_api_body_under_its_limit_reaches_the_route(api: httpx.Client) -> None:
    body = json.dumps({"name": "big", "description": "d" * (900 * KB)}).encode()
    for content in (body, chunks_of(body)):
        response = api.post("/api/v1/services", content=content, headers={"Content-Type": "application/json"})
        assert response.status_code == 422, response.text  # the route's own check: description ≤ 4096
        assert "description" in response.json()["message"]


def test_a_login_under_its_limit_is_checked_as_a_login(tocsin: Any) -> None:
    body = json.dumps({"email": "nobody@example.com", "password": "p" * 100}).encode()
    with client_at(tocsin.base_url) as client:  # an address of its own: no other test's failures count
        response = client.post("/api/v1/session", content=chunks_of(body), headers={"Content-Type": "application/json"})
    assert response.status_code == 401, response.text


def test_a_twilio_webhook_under_its_limit_is_checked_as_a_webhook(tocsin: Any, fake_twilio: Any) -> None:
    url = f"{tocsin.base_url}/webhooks/twilio/sms"
    params = {"From": "+15005550100", "Body": "hello " * 1000, "MessageSid": "SM" + uuid.uuid4().hex}
    form = urlencode(params).encode()
    response = httpx.post(url, content=chunks_of(form), timeout=30, headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": fake_twilio.sign(url, params)})
    assert response.status_code == 200, response.text
    assert "<Response><Message>" in response.text
