"""The body limit middleware in front of a fake ASGI app: over-limit bodies are refused
with 413 before the app runs and without reading past the limit; bodies within it reach the
app whole; and each of Tocsin's routes has the limit of its kind."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from fastapi.routing import RouteContext, iter_route_contexts

from tocsin.actors.settings import Settings
from tocsin.serve.app import create_api
from tocsin.serve.body_limit import BodyLimit, Limit, RouteLimits
from tocsin.serve.ingest.common import too_large
from tocsin.serve.route_limits import route_limits

SMALL, LARGE = 100, 1000


def tocsin_shape(max_bytes: int) -> Any:
    return too_large(max_bytes).response()


LIMITS = RouteLimits(default=Limit(LARGE, tocsin_shape), by_prefix=(("/login", Limit(SMALL, tocsin_shape)),))


class FakeApp:
    """Reads the whole body, answers 200 with its length, and keeps what it read."""

    def __init__(self) -> None:
        self.calls = 0
        self.body = b""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.calls += 1
        self.body = b""
        while True:
            message = await receive()
            self.body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(len(self.body)).encode()})


class Client:
    """Sends the body in chunks and counts what the middleware took of it."""

    def __init__(self, chunks: list[bytes] | None = None, endless: bytes | None = None,
                 then: dict[str, Any] | None = None) -> None:
        self.chunks, self.endless = list(chunks or []), endless
        self.then = then or {"type": "http.disconnect"}
        self.taken = 0
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        self.taken += 1
        if self.endless is not None:
            return {"type": "http.request", "body": self.endless, "more_body": True}
        if self.chunks:
            chunk = self.chunks.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(self.chunks)}
        return self.then

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def answer(self) -> Any:
        return json.loads(b"".join(m.get("body", b"") for m in self.sent[1:]))


def http(path: str = "/api", *headers: tuple[bytes, bytes], version: str = "1.1", root: str = "") -> dict[str, Any]:
    return {"type": "http", "http_version": version, "method": "POST", "path": root + path, "root_path": root,
            "headers": list(headers), "query_string": b""}


def length(n: int) -> tuple[bytes, bytes]:
    return b"content-length", str(n).encode()


CHUNKED = (b"transfer-encoding", b"chunked")


async def call(scope: dict[str, Any], client: Client, limits: RouteLimits = LIMITS) -> FakeApp:
    app = FakeApp()
    await BodyLimit(app, lambda: limits)(scope, client.receive, client.send)
    return app


async def test_a_declared_length_over_the_limit_is_refused_unread() -> None:
    client = Client(endless=b"x" * 10)
    app = await call(http("/login", length(SMALL + 1)), client)
    assert app.calls == 0 and client.taken == 0
    assert client.status == 413
    assert f"at most {SMALL} bytes" in client.answer["message"]


async def test_a_chunked_body_stops_being_read_just_past_the_limit() -> None:
    client = Client(endless=b"x" * 10)  # would never end
    app = await call(http("/login", CHUNKED), client)
    assert app.calls == 0
    assert client.taken == SMALL // 10 + 1  # the chunk that passed the limit was the last one read
    assert client.status == 413
    assert client.answer["error"] == "payload too large" and str(SMALL) in client.answer["message"]


async def test_a_chunked_body_within_the_limit_reaches_the_app_whole() -> None:
    client = Client(chunks=[b"a" * 40, b"b" * 40, b"c" * 20])  # exactly the limit
    app = await call(http("/login", CHUNKED), client)
    assert app.body == b"a" * 40 + b"b" * 40 + b"c" * 20
    assert client.status == 200


async def test_after_the_replayed_body_the_app_hears_what_the_server_says_next() -> None:
    heard: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        heard.extend([await receive(), await receive()])

    client = Client(chunks=[b"a", b"b"])
    await BodyLimit(app, lambda: LIMITS)(http("/api", CHUNKED), client.receive, client.send)
    assert heard == [{"type": "http.request", "body": b"ab", "more_body": False}, {"type": "http.disconnect"}]


async def test_a_declared_length_within_the_limit_passes_untouched() -> None:
    client = Client(chunks=[b"x" * SMALL])
    app = await call(http("/login", length(SMALL)), client)
    assert app.body == b"x" * SMALL and client.taken == 1  # read by the app alone
    assert client.status == 200


async def test_transfer_encoding_wins_over_a_content_length() -> None:
    client = Client(endless=b"x" * 10)
    app = await call(http("/login", length(5), CHUNKED), client)
    assert app.calls == 0 and client.status == 413


@pytest.mark.parametrize("declared", [b"", b"12abc", b"-1", b"\xd9\xa1"])
async def test_a_length_that_is_not_ascii_digits_is_counted_instead(declared: bytes) -> None:
    client = Client(endless=b"x" * 10)
    app = await call(http("/login", (b"content-length", declared)), client)
    assert app.calls == 0 and client.status == 413


async def test_http2_without_a_length_is_counted() -> None:
    client = Client(endless=b"x" * 10)
    app = await call(http("/login", version="2"), client)
    assert app.calls == 0 and client.status == 413


async def test_an_http1_request_without_body_headers_has_no_body_to_read() -> None:
    client = Client(chunks=[b""])
    app = await call(http("/login"), client)
    assert app.calls == 1 and client.taken == 1  # the app's own read, nothing before it


async def test_a_client_gone_before_the_end_of_its_body_gets_nothing() -> None:
    client = Client()

    async def gone_after_the_first_chunk() -> dict[str, Any]:
        client.taken += 1
        if client.taken == 1:
            return {"type": "http.request", "body": b"a", "more_body": True}
        return {"type": "http.disconnect"}

    app = FakeApp()
    await BodyLimit(app, lambda: LIMITS)(http("/api", CHUNKED), gone_after_the_first_chunk, client.send)
    assert app.calls == 0 and client.sent == []


async def test_the_longest_prefix_decides_and_the_mount_point_is_not_part_of_the_path() -> None:
    limits = RouteLimits(default=Limit(LARGE, tocsin_shape),
                         by_prefix=(("/a", Limit(SMALL, tocsin_shape)), ("/a/b", Limit(50, tocsin_shape))))
    assert limits.for_path("/a/b/c").max_bytes == 50
    assert limits.for_path("/a/c").max_bytes == SMALL
    assert limits.for_path("/z").max_bytes == LARGE
    client = Client(endless=b"x" * 10)
    await call(http("/login", CHUNKED, root="/tocsin"), client)
    assert client.status == 413 and client.taken == SMALL // 10 + 1


async def test_the_limits_are_loaded_once() -> None:
    loaded: list[int] = []

    def load() -> RouteLimits:
        loaded.append(1)
        return LIMITS

    middleware = BodyLimit(FakeApp(), load)
    for _ in range(3):
        client = Client(chunks=[b"x"])
        await middleware(http("/api", length(1)), client.receive, client.send)
    assert loaded == [1]


async def test_other_scopes_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    def never() -> RouteLimits:
        raise AssertionError("no limits are needed for a lifespan scope")

    await BodyLimit(app, never)({"type": "lifespan"}, Client().receive, Client().send)
    assert seen == ["lifespan"]


# -- Tocsin's routes ----------------------------------------------------------------------

SETTINGS = Settings(max_body_bytes=500_000, max_api_body_bytes=1_000_000, max_login_body_bytes=60_000,
                    max_webhook_body_bytes=70_000)
INGESTION_MODULES = {"tocsin.serve.ingest.pagerduty", "tocsin.serve.ingest.opsgenie", "tocsin.serve.ingest.alert_receiver",
                     "tocsin.serve.ingest.generic"}


def expected_limit(route: RouteContext) -> int:
    module = route.endpoint.__module__
    if module in INGESTION_MODULES:
        return SETTINGS.max_body_bytes
    if module in ("tocsin.serve.api.session", "tocsin.serve.api.sso") or route.path == "/api/v1/setup":
        return SETTINGS.max_login_body_bytes
    if module.startswith("tocsin.serve.webhooks.") or module == "tocsin.serve.api.push":
        return SETTINGS.max_webhook_body_bytes
    return SETTINGS.max_api_body_bytes


def test_every_route_has_the_limit_of_its_kind() -> None:
    limits = route_limits(SETTINGS)
    routes = [route for route in iter_route_contexts(create_api().routes) if route.endpoint and route.path]
    assert {expected_limit(route) for route in routes} == {500_000, 1_000_000, 60_000, 70_000}
    wrong = {route.path: limits.for_path(route.path).max_bytes for route in routes
             if limits.for_path(route.path).max_bytes != expected_limit(route)}
    assert wrong == {}


async def test_ingestion_refuses_in_each_sources_own_shape() -> None:
    limits = route_limits(SETTINGS)
    pagerduty = json.loads(limits.for_path("/v2/enqueue").refuse(500_000).body)
    assert pagerduty["status"] == "error" and "500000 bytes" in pagerduty["message"]
    opsgenie = json.loads(limits.for_path("/v2/alerts").refuse(500_000).body)
    assert isinstance(opsgenie["took"], float) and uuid.UUID(opsgenie["requestId"])
    assert "500000 bytes" in opsgenie["message"]
    generic = json.loads(limits.for_path("/integrations/generic/k").refuse(500_000).body)
    assert generic["error"] == "payload too large" and generic["errors"]
