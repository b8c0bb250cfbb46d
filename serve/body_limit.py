"""Request bodies past their route's limit are refused with 413 before anything reads them.

`BodyLimit` is a pure ASGI middleware in front of every route. Each request's limit is found
by the longest matching path prefix of a small table, loaded once per replica.

- A declared Content-Length over the limit is refused at once; nothing of the body is read.
- A declared length within the limit passes untouched: the server frames the body by that
  length, so it cannot grow past it, and the alert path pays for nothing but a header scan.
- A body whose length only reading tells (chunked) is read here, counting, and handed on
  whole; one byte past the limit and reading stops, and the answer is 413.

So no route, and none of its dependencies (authentication included), ever parses a body
over its limit. The rest of such a body, as the client goes on sending it, is discarded by
the server as it comes, as for any body a route leaves unread, and nothing of it is kept.
The 413 does not close the connection: a socket closed with data unread is reset, and the
reset overtakes the answer on its way out, so that a client behind a proxy (Serve's HAProxy)
would often get no 413 at all, only a dropped connection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send


@dataclass(frozen=True, slots=True)
class Limit:
    """The most bytes a route's request body may have, and its refusal in the route's own
    shape (given the limit)."""

    max_bytes: int
    refuse: Callable[[int], Response]


@dataclass(frozen=True, slots=True)
class RouteLimits:
    """Limits by path prefix; `default` for paths that match none."""

    default: Limit
    by_prefix: tuple[tuple[str, Limit], ...]

    def __post_init__(self) -> None:
        # Longest first, so that the most specific prefix wins.
        ordered = tuple(sorted(self.by_prefix, key=lambda rule: len(rule[0]), reverse=True))
        object.__setattr__(self, "by_prefix", ordered)

    def for_path(self, path: str) -> Limit:
        for prefix, limit in self.by_prefix:
            if path.startswith(prefix):
                return limit
        return self.default


class BodyLimit:
    """The middleware. `limits` is called once, on the first request: the table may depend
    on settings that a replica has only once its deployment is constructed."""

    def __init__(self, app: ASGIApp, limits: Callable[[], RouteLimits]) -> None:
        self.app = app
        self._load_limits = limits
        self._limits: RouteLimits | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._limits is None:
            self._limits = self._load_limits()
        limit = self._limits.for_path(route_path(scope))
        length = framed_length(scope)
        if length is not None:
            if length > limit.max_bytes:
                await refuse(limit, scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        body = await read_within(receive, limit.max_bytes)
        if isinstance(body, bytes):
            await self.app(scope, replay(body, receive), send)
        elif body is Unread.TOO_LARGE:
            await refuse(limit, scope, receive, send)


def route_path(scope: Scope) -> str:
    """The path as the app routes it: without the prefix the app is mounted under."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path


def framed_length(scope: Scope) -> int | None:
    """The body's length as the server frames it; None when only reading it tells
    (Transfer-Encoding, a Content-Length that is not a number, HTTP/2 without one)."""
    declared: bytes | None = None
    for name, value in scope["headers"]:
        if name == b"transfer-encoding":
            return None  # it frames the body, whatever Content-Length says
        if name == b"content-length":
            declared = value
    if declared is not None:
        return int(declared) if declared.isdigit() else None
    # HTTP/1.x: a request with neither header has no body.
    return 0 if scope.get("http_version", "1.1") in ("1.0", "1.1") else None


class Unread(Enum):
    """Why `read_within` gives no body."""

    TOO_LARGE = "the body passed the limit; the rest is left unread"
    GONE = "the client went away"


async def read_within(receive: Receive, max_bytes: int) -> bytes | Unread:
    """The whole body, or why not: it passed `max_bytes` (reading stops there), or the
    client went away first."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return Unread.GONE
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            return Unread.TOO_LARGE
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the body already read as one message, then what the server
    says next (a disconnect, in time)."""
    pending: Message | None = {"type": "http.request", "body": body, "more_body": False}

    async def replayed() -> Message:
        nonlocal pending
        if pending is None:
            return await receive()
        message, pending = pending, None
        return message

    return replayed


async def refuse(limit: Limit, scope: Scope, receive: Receive, send: Send) -> None:
    await limit.refuse(limit.max_bytes)(scope, receive, send)
