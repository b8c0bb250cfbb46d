"""The audit log's writer: a pure ASGI middleware around every API route that changes something.

For a request to a route of serve/audit_routes.py's AUDITED it reads the object the route
changes (its view, actors/store/audit_views.py) before the route runs, lets the route run,
and when the answer is a success reads the object again and appends one entry: who (the
caller `authenticate` found, kept in the request's state), how they came, from which address
(serve/forwarded.py), the object, its team, the action, before and after with secrets
masked (actors/domain/audit.py). A route that acts for someone no credential names (an
answer to a page: a push notification's button, a text or key press through Twilio, a Slack
button) declares its entry itself with `declare`; the e-mail reply desk, which is no route,
calls `append` itself.

The answer is held back until the entry is written, so a client that got its answer finds
the entry. The entry is written in its own transaction right after the change's: routes make
their changes in many ways (a statement, a transaction, a command through a shard) and one
writer for all of them keeps every route covered. When the database fails between the two,
the change stands without its entry, and the failure is logged as an error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tocsin.actors.domain.audit import SYSTEM, Actor, Entry, Subject, name_of, redacted
from tocsin.actors.store import audit as store
from tocsin.actors.store import audit_views
from tocsin.actors.store.database import UNAVAILABLE
from tocsin.serve import runtime as runtimes
from tocsin.serve.audit_routes import AUDITED, AuditedRoutes, Match

log = logging.getLogger(__name__)

_CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Where entries are written: the API, and the replies to pages (Twilio's and Slack's
# webhooks). Alert ingestion, the hot path, passes by untouched.
_PREFIXES = ("/api/v1/", "/webhooks/twilio/", "/integrations/slack/")
ACTOR_KEY = "audit_actor"  # in the request's state: the Actor, set once credentials check out
_DECLARED_KEY = "audit_declared"
_UNKNOWN = Actor(id=SYSTEM, name=SYSTEM, via="unknown")


@dataclass(frozen=True, slots=True)
class Declared:
    """An entry to write: who did `action` to the `object_type` that `keys` name (read through
    the view of that name, or `view`). A route acting for someone no credential names declares
    its own; the middleware makes one for each route of AUDITED."""

    actor: Actor
    object_type: str
    keys: tuple[str, ...] | None
    action: str
    view: str | None = None


async def append(conn: asyncpg.Connection, declared: Declared, address: str | None, at: datetime,
                 before: tuple[Any, str | None] = (None, None), answer: Any = None) -> None:
    """Write the entry `declared` describes: the object read now as its "after" (or `answer`,
    what the route answered, when given), `before` as read before the change, secrets masked."""
    assert declared.keys is not None
    after, team = await audit_views.read(conn, declared.view or declared.object_type, declared.keys)
    if answer is not None:
        after = answer
    shown_before, shown_after = redacted(before[0]), redacted(after)
    subject = Subject(declared.object_type, _object_id(after, before[0], declared.keys),
                      name_of(shown_after) or name_of(shown_before), team or before[1])
    await store.append(conn, Entry(declared.actor, address, subject, declared.action, shown_before, shown_after), at)


def declare(request: Request, entry: Declared) -> None:
    """Have the middleware append `entry` once the route's answer is a success (a route may
    declare several: a Slack interaction with two buttons pressed)."""
    declared = getattr(request.state, _DECLARED_KEY, None)
    setattr(request.state, _DECLARED_KEY, [*(declared or []), entry])


def acting(request: Request, actor: Actor) -> None:
    """Name who the request acts for (credentials checked, or a route that makes its own actor)."""
    setattr(request.state, ACTOR_KEY, actor)


class AuditTrail:
    """The middleware; see the module's docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.routes = AuditedRoutes(AUDITED)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _CHANGES or not scope["path"].startswith(_PREFIXES):
            await self.app(scope, receive, send)
            return
        match = self.routes.match(scope["method"], scope["path"])
        state = scope.setdefault("state", {})
        body: bytes | None = None
        if match is not None and match.audited.source == "body":
            body, receive = await _read_body(receive)
        before = await self._before(match, body)
        held = _HeldAnswer(send)
        await self.app(scope, receive, held.send)
        try:
            if held.succeeded:
                await self._record(scope, state, match, body, held.body, before)
        except UNAVAILABLE as exc:
            log.error("the change %s %s was made but its audit entry is lost: %r", scope["method"], scope["path"], exc)
        finally:
            await held.release()

    async def _before(self, match: Match | None, body: bytes | None) -> tuple[Any, str | None]:
        if match is None or match.audited.source == "made":
            return None, None
        keys = match.audited.keys_of(match.path_params, _json(body), None)
        if keys is None:
            return None, None
        try:
            async with runtimes.installed().database.connection() as conn:
                return await audit_views.read(conn, match.audited.reads, keys)
        except UNAVAILABLE:  # the route meets the same outage and answers for it
            return None, None

    async def _record(self, scope: Scope, state: dict[str, Any], match: Match | None, body: bytes | None,
                      answer: bytes, before: tuple[Any, str | None]) -> None:
        declared: list[Declared] = state.get(_DECLARED_KEY) or []
        answered = None
        if declared:
            before = (None, None)  # acted for someone no credential named: read after only
        elif match is not None:
            audited = match.audited
            declared = [Declared(state.get(ACTOR_KEY, _UNKNOWN), audited.object_type,
                                 audited.keys_of(match.path_params, _json(body), _json(answer)), audited.action,
                                 audited.reads)]
            answered = _json(answer) if audited.after_from_answer else None
        if not declared:
            return
        runtime = runtimes.installed()
        address = await runtime.real_address(Request(scope))
        async with runtime.database.connection() as conn, conn.transaction():
            for entry in declared:
                if entry.keys is None:
                    log.error("%s %s succeeded but names no object to audit", scope["method"], scope["path"])
                    continue
                await append(conn, entry, address, runtime.now(), before, answered)


class _HeldAnswer:
    """An answer kept until `release`, so that nothing reaches the client before its entry is
    written; `succeeded` once it is a 2xx."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self._messages: list[Message] = []
        self.status = 0

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        self._messages.append(message)

    @property
    def succeeded(self) -> bool:
        return 200 <= self.status < 300

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self._messages if m["type"] == "http.response.body")

    async def release(self) -> None:
        for message in self._messages:
            await self._send(message)


async def _read_body(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body, and a `receive` that hands it on to the route as it came."""
    chunks, messages = [], []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return b"".join(chunks), replay


def _object_id(after: Any, before: Any, keys: tuple[str, ...]) -> str | None:
    """The object's own id where its row has one (a push subscription is found by its endpoint,
    a credential, which stays out of the entry); else the last of its keys; none for what has
    no keys (the configuration as a whole)."""
    for row in (after, before):
        if isinstance(row, dict) and row.get("id") is not None:
            return str(row["id"])
    return keys[-1] or None if keys else None


def _json(raw: bytes | None) -> Any:
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
