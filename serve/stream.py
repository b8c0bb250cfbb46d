"""The live stream: GET /api/v1/stream, Server-Sent Events of every incident change the
shards commit, for dashboards.

Each message is `id: <bus id>`, `event: incident`, `data: {"incident": {…}, "entries": […]}`
(the incident as GET /api/v1/incidents lists it, and the timeline entries the change
added). A change that only adds occurrences comes up to a second late, folded with the
incident's later ones (tocsin.actors.publisher): in a storm, one message per incident a
second, with every entry since. A client resumes after the last id it saw, from the `Last-Event-ID` header that
EventSource sends when it reconnects, or `?last_event_id=`: it gets every later event once,
in order. When the bus no longer holds what followed that id, the client gets
`event: reset` instead and reloads; the stream then goes on from the reset's id. A comment
`: keep-alive` comes after 15 s of silence (with the id the client has reached, when events
it does not want went by). A stream ends by itself after a while, so that EventSource
reconnects with its credentials checked again, and at once, with `: closing`, when the
application is being shut down (serve/closing.py).

`?service_id=` keeps one service's incidents, `?team=mine|<team id>` those of the services
the teams own (as they are when the stream starts; a stream ends by itself, and the next one
counts them again). With TOCSIN_INCIDENT_VISIBILITY=team, a caller who is no global admin
gets only the incidents of their teams' services, whatever they ask.

Each caller (a user, whatever session or token they use; the admin token counts as one
caller) holds at most TOCSIN_STREAMS_PER_CALLER streams open at once on a gateway replica;
past that a new one is refused with 429 before anything is streamed. A stream's place is
given back when its response ends, however it ends (the client going away included).
Callers are counted, not client addresses: every stream needs credentials, and behind a
proxy or a NAT many people share one address.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from collections import Counter
from collections.abc import AsyncIterator, Collection

import orjson
from fastapi import APIRouter, Depends, Header, HTTPException, Query
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from tocsin.actors.bus_types import BusEvent, BusRead, EventBus
from tocsin.actors.store import teams as team_store
from tocsin.serve.api.auth import Caller, require_viewer
from tocsin.serve.api.ownership import TEAM_QUERY, incident_teams
from tocsin.serve.closing import closing
from tocsin.serve.params import control_character
from tocsin.serve.runtime import GatewayRuntime, get_runtime

log = logging.getLogger(__name__)

router = APIRouter(tags=["Live"])

KEEPALIVE_S = 15.0
STREAM_LIFETIME_S = 600.0
RETRY_MS = 3000  # how long EventSource waits before it reconnects
READ_LIMIT = 100


def sse_message(event: str, data: str, event_id: str | None = None) -> str:
    """One SSE message; each line of `data` becomes a data field."""
    lines = [f"id: {event_id}"] if event_id is not None else []
    lines.append(f"event: {event}")
    lines += [f"data: {line}" for line in data.split("\n")]
    return "\n".join(lines) + "\n\n"


def sse_comment(text: str, event_id: str | None = None) -> str:
    """A comment, which EventSource ignores; with an id, it moves the client's last event
    id on without dispatching anything."""
    return f": {text}\n" + (f"id: {event_id}\n" if event_id is not None else "") + "\n"


def reset_message(cursor: str, reason: str) -> str:
    return sse_message("reset", orjson.dumps({"reason": reason}).decode(), cursor)


async def sse_messages(
    bus: EventBus,
    cursor: str,
    services: Collection[str] | None = None,
    keepalive_s: float = KEEPALIVE_S,
    lifetime_s: float = STREAM_LIFETIME_S,
    closing: asyncio.Event | None = None,
) -> AsyncIterator[str]:
    """The stream after `cursor`, as SSE text, of the incidents of `services` (None: of
    all), until `lifetime_s` has passed, `closing` is set or the bus cannot be read (the
    client reconnects and resumes in every case)."""
    loop = asyncio.get_running_loop()
    ends_at = loop.time() + lifetime_s
    yield f"retry: {RETRY_MS}\n" + sse_comment("connected")
    told = cursor  # the last id the client has been given
    quiet_since = loop.time()
    while loop.time() < ends_at:
        wait = min(max(0.0, quiet_since + keepalive_s - loop.time()), max(0.0, ends_at - loop.time()))
        try:
            found = await _read_unless_closing(bus, cursor, wait, closing)
        except Exception as exc:  # noqa: BLE001 - the client reconnects and resumes
            log.warning("live stream: cannot read the event bus: %r", exc)
            return
        if found is None:
            yield sse_comment("closing", cursor if cursor != told else None)
            return
        messages: list[str] = []
        if found.reset:
            messages.append(reset_message(found.cursor, "the events after your last id are no longer held"))
            told = found.cursor
        for event in found.events:
            message = _message_for(event, services)
            if message is not None:
                messages.append(message)
                told = event.id
        cursor = found.cursor
        if not messages and loop.time() - quiet_since >= keepalive_s:
            messages.append(sse_comment("keep-alive", cursor if cursor != told else None))
            told = cursor
        if messages:
            quiet_since = loop.time()
            yield "".join(messages)


async def _read_unless_closing(
    bus: EventBus, cursor: str, wait_s: float, closing: asyncio.Event | None
) -> BusRead | None:
    """The bus's answer, or None when `closing` is set first."""
    if closing is None:
        return await bus.read(cursor, wait_s, READ_LIMIT)
    read = asyncio.ensure_future(bus.read(cursor, wait_s, READ_LIMIT))
    stop = asyncio.ensure_future(closing.wait())
    try:
        await asyncio.wait({read, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:  # also when the client went away and this is cancelled
        stop.cancel()
        if not read.done():
            read.cancel()
    if closing.is_set():
        if read.done() and not read.cancelled():
            read.exception()  # retrieved: the stream ends anyway
        return None
    return read.result()


def _message_for(event: BusEvent, services: Collection[str] | None) -> str | None:
    if event.kind == "gap":  # the publisher lost events: everyone reloads
        return reset_message(event.id, "some changes could not be published")
    if services is not None and event.service_id not in services:
        return None
    return sse_message(event.kind, event.data, event.id)


class StreamPlaces:
    """The live streams each caller has open on this replica."""

    def __init__(self) -> None:
        self._open: Counter[str] = Counter()

    def open_for(self, caller: str) -> int:
        return self._open[caller]

    def take(self, caller: str, limit: int) -> bool:
        if self._open[caller] >= limit:
            return False
        self._open[caller] += 1
        return True

    def give_back(self, caller: str) -> None:
        self._open[caller] -= 1
        if self._open[caller] <= 0:
            del self._open[caller]


places = StreamPlaces()


class _HeldStream(StreamingResponse):
    """A stream that gives its caller's place back when the response ends, however it ends;
    and, should it never be sent at all, when it is collected."""

    def __init__(self, content: AsyncIterator[str], caller: str, **kwargs: object) -> None:
        super().__init__(content, **kwargs)  # type: ignore[arg-type]
        self._give_back = weakref.finalize(self, places.give_back, caller)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._give_back()  # once: a finalizer runs at most once


def _caller_key(caller: Caller) -> str:
    return caller.user_id or caller.via


@router.get(
    "/api/v1/stream",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"},
        429: {"description": "The caller already holds as many live streams as one caller may"},
    },
)
async def stream(
    service_id: uuid.UUID | None = Query(None, description="Only this service's incidents"),
    team: str | None = TEAM_QUERY,
    last_event_id: str | None = Query(None, max_length=64, description="Resume after this event id"),
    last_event_id_header: str | None = Header(None, alias="Last-Event-ID", max_length=64),
    caller: Caller = Depends(require_viewer),
    runtime: GatewayRuntime = Depends(get_runtime),
) -> StreamingResponse:
    """Incident changes as they are committed; every role may follow every incident it may see."""
    resume_after = last_event_id_header or last_event_id  # EventSource's header is the newer one
    character = control_character(resume_after or "")
    if character:  # no bus id ever had one: a broken request (an unknown id is answered with a reset)
        raise HTTPException(400, f"last_event_id: holds the control character {character}")
    services = await _services(caller, service_id, team, runtime)
    key, limit = _caller_key(caller), runtime.settings.streams_per_caller
    if not places.take(key, limit):
        raise HTTPException(429, f"{caller.name} already has {limit} live streams open, the most one caller may"
                            " hold at once; close one first", headers={"Retry-After": "5"})
    try:
        response = _HeldStream(
            _until_closing(runtime.bus, await _start(runtime.bus, resume_after), services),
            key, media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    except BaseException:
        places.give_back(key)
        raise
    return response


async def _start(bus: EventBus, resume_after: str | None) -> str:
    """Where the stream starts: after the client's last id, else from now on."""
    if resume_after:
        return resume_after.strip()
    try:
        return await bus.tail()
    except Exception as exc:  # noqa: BLE001
        log.warning("live stream: cannot reach the event bus: %r", exc)
        raise HTTPException(503, "the live stream is unavailable; retry shortly",
                            headers={"Retry-After": "5"}) from exc


async def _services(caller: Caller, service_id: uuid.UUID | None, team: str | None,
                    runtime: GatewayRuntime) -> frozenset[str] | None:
    """The services whose incidents the stream carries; None: every service's."""
    teams = incident_teams(caller, team, runtime)
    services = None
    if teams is not None:
        async with runtime.database.connection() as conn:
            services = frozenset(await team_store.services_of(conn, teams))
    if service_id is None:
        return services
    return frozenset({str(service_id)}) & (services if services is not None else {str(service_id)})


async def _until_closing(bus: EventBus, cursor: str, services: frozenset[str] | None) -> AsyncIterator[str]:
    async with closing.held() as app_closing:
        async for text in sse_messages(bus, cursor, services, closing=app_closing):
            yield text
