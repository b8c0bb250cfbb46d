"""The live stream: GET /api/v1/stream, Server-Sent Events of every incident change the
shards commit, for dashboards.

Each message is `id: <bus id>`, `event: incident`, `data: {"incident": {…}, "entries": […]}`
(the incident as GET /api/v1/incidents lists it, and the timeline entries the change
added). A client resumes after the last id it saw, from the `Last-Event-ID` header that
EventSource sends when it reconnects, or `?last_event_id=`: it gets every later event once,
in order. When the bus no longer holds what followed that id, the client gets
`event: reset` instead and reloads; the stream then goes on from the reset's id. A comment
`: keep-alive` comes after 15 s of silence (with the id the client has reached, when events
it does not want went by). A stream ends by itself after a while, so that EventSource
reconnects with its credentials checked again, and at once, with `: closing`, when the
application is being shut down (serve/closing.py).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator

import orjson
from fastapi import APIRouter, Depends, Header, HTTPException, Query
from fastapi.responses import StreamingResponse

from actors.bus import BusEvent, BusRead, EventBus
from serve.api.auth import require_viewer
from serve.closing import closing
from serve.runtime import GatewayRuntime, get_runtime

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
    service_id: str | None = None,
    keepalive_s: float = KEEPALIVE_S,
    lifetime_s: float = STREAM_LIFETIME_S,
    closing: asyncio.Event | None = None,
) -> AsyncIterator[str]:
    """The stream after `cursor`, as SSE text, until `lifetime_s` has passed, `closing` is
    set or the bus cannot be read (the client reconnects and resumes in every case)."""
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
            message = _message_for(event, service_id)
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


def _message_for(event: BusEvent, service_id: str | None) -> str | None:
    if event.kind == "gap":  # the publisher lost events: everyone reloads
        return reset_message(event.id, "some changes could not be published")
    if service_id is not None and event.service_id != service_id:
        return None
    return sse_message(event.kind, event.data, event.id)


@router.get(
    "/api/v1/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}},
    dependencies=[Depends(require_viewer)],
)
async def stream(
    service_id: uuid.UUID | None = Query(None, description="Only this service's incidents"),
    last_event_id: str | None = Query(None, max_length=64, description="Resume after this event id"),
    last_event_id_header: str | None = Header(None, alias="Last-Event-ID", max_length=64),
    runtime: GatewayRuntime = Depends(get_runtime),
) -> StreamingResponse:
    """Incident changes as they are committed; every role may follow every incident."""
    resume_after = last_event_id_header or last_event_id  # EventSource's header is the newer one
    if not resume_after:
        try:
            resume_after = await runtime.bus.tail()  # from now on
        except Exception as exc:  # noqa: BLE001
            log.warning("live stream: cannot reach the event bus: %r", exc)
            raise HTTPException(503, "the live stream is unavailable; retry shortly",
                                headers={"Retry-After": "5"}) from exc
    return StreamingResponse(
        _until_closing(runtime.bus, resume_after.strip(), str(service_id) if service_id else None),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _until_closing(bus: EventBus, cursor: str, service_id: str | None) -> AsyncIterator[str]:
    async with closing.held() as app_closing:
        async for text in sse_messages(bus, cursor, service_id, closing=app_closing):
            yield text
