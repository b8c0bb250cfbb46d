"""iCalendar feeds of on-call shifts, for a schedule and for a person.

Calendar apps send no headers, so these routes take no bearer token: the `token` in the
feed's URL is the credential (401 without it, 403 when it is wrong). A feed covers the past
week and the next 60 days; each shift is one event whose UID stays the same from one fetch
to the next.
"""

from __future__ import annotations

import asyncio
import hmac
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from icalendar import Calendar, Event

from tocsin.actors.domain.schedule import Shift
from tocsin.actors.store import schedules as store
from tocsin.actors.store.schedules import StoredSchedule
from tocsin.serve.api.oncall import People, loaded, reach, shifts_around, source
from tocsin.serve.errors import found
from tocsin.serve.runtime import GatewayRuntime, get_runtime

PAST = timedelta(days=7)
AHEAD = timedelta(days=60)
MEDIA_TYPE = "text/calendar; charset=utf-8"

router = APIRouter(prefix="/api/v1", tags=["Calendars"])

_FEED: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/calendar": {}}, "description": "An iCalendar (RFC 5545) feed"},
}
_TOKEN = Query(None, description="The token from the feed's calendar_url")


@router.get("/schedules/{schedule_id}/oncall.ics", response_class=Response, responses=_FEED)
async def schedule_feed(
    schedule_id: uuid.UUID, token: str | None = _TOKEN, runtime: GatewayRuntime = Depends(get_runtime)
) -> Response:
    """Who is on call on this schedule: one event per shift, "On call: <name>"."""
    presented, (start, end) = _presented(token), _span(runtime.now())
    async with runtime.database.connection() as conn:
        stored = loaded(await store.load_schedule(conn, str(schedule_id), *reach(start, end)), schedule_id)
        _check(presented, stored.row["calendar_token"])
        shifts = await asyncio.to_thread(shifts_around, stored, start, end)  # see serve/api/oncall.py
        people = await store.people(conn, {shift.user_id for shift in shifts})
    events = [_event(stored, shift, _name(shift.user_id, people)) for shift in shifts]
    return _feed(stored.name, stored.id, events)


@router.get("/users/{user_id}/oncall.ics", response_class=Response, responses=_FEED)
async def user_feed(
    user_id: uuid.UUID, token: str | None = _TOKEN, runtime: GatewayRuntime = Depends(get_runtime)
) -> Response:
    """When this person is on call, on any schedule: one event per shift, "On call: <schedule>"."""
    presented, (start, end) = _presented(token), _span(runtime.now())
    async with runtime.database.connection() as conn:
        user = found(await store.calendar_owner(conn, str(user_id)), f"user with id {user_id}")
        _check(presented, user["calendar_token"])
        schedules = await store.load_schedules(conn, *reach(start, end))
    mine = await asyncio.to_thread(_shifts_of, user["id"], schedules, start, end)  # see serve/api/oncall.py
    events = [_event(stored, shift, stored.name) for stored, shift in mine]
    return _feed(f"On call: {user['name']}", user["id"], events)


def _shifts_of(
    user_id: str, schedules: list[StoredSchedule], start: datetime, end: datetime
) -> list[tuple[StoredSchedule, Shift]]:
    """The person's shifts on every schedule, by start."""
    mine = [(stored, shift) for stored in schedules for shift in shifts_around(stored, start, end)
            if shift.user_id == user_id]
    return sorted(mine, key=lambda pair: pair[1].start)


def _span(now: datetime) -> tuple[datetime, datetime]:
    """Whole UTC days from a week ago to 60 days ahead: a shift cut at an edge keeps its
    bounds, and so its UID, for the rest of the day."""
    midnight = now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight - PAST, midnight + AHEAD + timedelta(days=1)


def _presented(token: str | None) -> str:
    if not token:
        raise HTTPException(401, "this feed needs the token from its calendar_url: ?token=…")
    return token


def _check(presented: str, expected: str) -> None:
    if not hmac.compare_digest(presented.encode(), expected.encode()):
        raise HTTPException(403, "this token does not open this feed")


def _name(user_id: str, people: People) -> str:
    return str(people[user_id]["name"]) if user_id in people else user_id


def _event(stored: StoredSchedule, shift: Shift, who: str) -> Event:
    origin = source(stored, shift)
    return Event.new(
        uid=f"{stored.id}.{shift.user_id}.{shift.start:%Y%m%dT%H%M%SZ}@tocsin",
        summary=f"On call: {who}",
        start=shift.start,
        end=shift.end,
        description=f"{stored.name}: {_describe(origin)}",
    )


def _describe(origin: dict[str, object]) -> str:
    return f"layer {origin['name']}" if origin["type"] == "layer" else "override"


def _feed(name: str, uid: str, events: list[Event]) -> Response:
    calendar = Calendar.new(
        name=name, uid=uid, prodid="-//Tocsin//On call//EN", refresh_interval=timedelta(hours=1),
        subcomponents=events,
    )
    return Response(calendar.to_ical(), media_type=MEDIA_TYPE)
