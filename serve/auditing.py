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

A change and its entry commit together or not at all, for every route whose change the
gateway makes through its own database (all of configuration, a notification's retry): the
middleware takes one connection, opens a transaction, reads "before" in it and lends the
connection to the request (`Database.lending`), so that the route's `connection()` blocks
work in that transaction (theirs become savepoints). On a success the entry is written in it
and it commits; on any other answer, or an exception, it rolls back (but for what a refused
request must still leave: a wrong verification code is counted, `Database.keep_on_refusal`,
and a password attempt is counted on a connection of its own, `connection(apart=True)`). When writing the entry
or committing fails, the client is answered 503, the change not made, never the route's
success. (A connection lost while COMMIT is on its way leaves the outcome unknown to the
gateway, as to any client of Postgres: it answers 503 too, and a retry finds where it stands.)
What tells others of a change, a key cache forgetting a key or a channel nudged, waits for
the commit (`Database.after_commit`), or another reader could load the state of before.

An action on an incident (acknowledge, note, ...) is a command a shard commits in its own
transaction (`through_shard`), as are the answers to pages: their entry is written in its own
transaction right after the command succeeded. When the database fails between the two, that
action stands without its entry, and the failure is logged as an error.

The answer is held back until the entry is written (and committed), so a client that got its
answer finds the entry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from asyncpg.transaction import Transaction
import orjson
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tocsin.actors.domain.audit import SYSTEM, Actor, Entry, Subject, name_of, redacted
from tocsin.actors.store import audit as store
from tocsin.actors.store import audit_views
from tocsin.actors.store.database import UNAVAILABLE
from tocsin.serve import runtime as runtimes
from tocsin.serve.errors import unavailable
from tocsin.serve.audit_routes import AUDITED, AuditedRoutes, Match

log = logging.getLogger(__name__)

_CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Where entries are written: the API, and the replies to pages (Twilio's and Slack's
# webhooks). Alert ingestion, the hot path, passes by untouched.
_PREFIXES = ("/api/v1/", "/webhooks/twilio/", "/integrations/slack/")
ACTOR_KEY = "audit_actor"  # in the request's state: the Actor, set once credentials check out
_DECLARED_KEY = "audit_declared"
_UNKNOWN = Actor(id=SYSTEM, name=SYSTEM, via="unknown")
NOT_MADE = "the database failed before the change and its audit entry were committed: nothing was changed; retry"


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
        body: bytes | None = None
        if match is not None and match.audited.source == "body":
            body, receive = await _read_body(receive)
        scope.setdefault("state", {})  # where routes leave the actor and declared entries
        request = _Request(scope, receive, match, body)
        if match is None or match.audited.through_shard:
            await self._after_success(request, send)
        else:
            await self._in_one_transaction(request, send)

    async def _after_success(self, request: _Request, send: Send) -> None:
        """The route commits its change; its entry follows in a transaction of its own."""
        before = await self._before(request)
        held = _HeldAnswer(send)
        await self.app(request.scope, request.receive, held.send)
        try:
            if held.succeeded:
                async with runtimes.installed().database.connection() as conn, conn.transaction():
                    await self._record(conn, request, held.body, before)
        except UNAVAILABLE as exc:
            log.error("the change %s %s was made but its audit entry is lost: %r", request.method, request.path, exc)
        finally:
            await held.release()

    async def _in_one_transaction(self, request: _Request, send: Send) -> None:
        """The route's change, its entry and "before" in one transaction, on one connection."""
        database = runtimes.installed().database
        held = _HeldAnswer(send)
        routed = False
        try:
            async with database.connection() as conn:
                transaction = conn.transaction()
                await transaction.start()
                committed = False
                with database.lending(conn) as lent:
                    try:
                        before = await self._before(request, conn)
                        routed = True
                        await self.app(request.scope, request.receive, held.send)
                        if held.succeeded:
                            await self._record(conn, request, held.body, before)
                        if held.succeeded or lent.keep_on_refusal:
                            await transaction.commit()
                            committed = True
                    finally:
                        if not committed:  # a failure, or a refusal
                            await _roll_back(transaction)
        except UNAVAILABLE as exc:
            if not routed:  # no connection to begin with: the route meets the outage itself, and
                # answers for it as it would (a body it refuses is still a 422, not a 503)
                await self._after_success(request, send)
                return
            log.warning("%s %s not made: the database failed before it and its entry committed: %r",
                        request.method, request.path, exc)
            await unavailable(NOT_MADE)(request.scope, request.receive, send)
            return
        for callback in lent.after_commit if committed else ():
            callback()
        await held.release()

    async def _before(self, request: _Request, conn: asyncpg.Connection | None = None) -> tuple[Any, str | None]:
        match = request.match
        if match is None or match.audited.source == "made":
            return None, None
        keys = match.audited.keys_of(match.path_params, _json(request.body), None)
        if keys is None:
            return None, None
        if conn is not None:
            return await audit_views.read(conn, match.audited.reads, keys)
        try:
            async with runtimes.installed().database.connection() as own:
                return await audit_views.read(own, match.audited.reads, keys)
        except UNAVAILABLE:  # the route meets the same outage and answers for it
            return None, None

    async def _record(self, conn: asyncpg.Connection, request: _Request, answer: bytes,
                      before: tuple[Any, str | None]) -> None:
        state, match = request.scope["state"], request.match
        declared: list[Declared] = state.get(_DECLARED_KEY) or []
        answered = None
        if declared:
            before = (None, None)  # acted for someone no credential named: read after only
        elif match is not None:
            audited = match.audited
            declared = [Declared(state.get(ACTOR_KEY, _UNKNOWN), audited.object_type,
                                 audited.keys_of(match.path_params, _json(request.body), _json(answer)),
                                 audited.action, audited.reads)]
            answered = _json(answer) if audited.after_from_answer else None
        if not declared:
            return
        runtime = runtimes.installed()
        address = await runtime.real_address(Request(request.scope))
        for entry in declared:
            if entry.keys is None:
                log.error("%s %s succeeded but names no object to audit", request.method, request.path)
                continue
            await append(conn, entry, address, runtime.now(), before, answered)


@dataclass(frozen=True, slots=True)
class _Request:
    """A request the middleware audits: its scope, its `receive` (which replays a body read
    ahead), the AUDITED route it matched and the body when its keys are there."""

    scope: Scope
    receive: Receive
    match: Match | None
    body: bytes | None

    @property
    def method(self) -> str:
        return str(self.scope["method"])

    @property
    def path(self) -> str:
        return str(self.scope["path"])


async def _roll_back(transaction: Transaction) -> None:
    try:
        await transaction.rollback()
    except UNAVAILABLE as exc:  # the connection is gone, and the transaction with it
        log.debug("a rollback failed: %r", exc)


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
