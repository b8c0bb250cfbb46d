"""Who is on call: a schedule's shifts over a window, at an instant, and everywhere at once.

Everything is computed from the stored schedule and its overrides by the pure functions of
tocsin.actors.domain.schedule; nothing here is cached.

Timelines are computed in a worker thread (asyncio.to_thread), not on the replica's event
loop. The thread still holds the GIL while it computes, but the interpreter hands it over
every switch interval (5 ms), so the loop goes on answering other requests meanwhile instead
of stalling for the whole computation. What bounds the work is the input: a window of 93
days at most (plus REACH either side), 20 layers, and no more than the cap of overrides in
any such window (serve/api/schedules.py), computed in one sorted sweep. A process pool would
add pickling and a process per replica to save a bounded, short computation.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends

from tocsin.actors.domain.schedule import OVERRIDE, Shift, final_shifts, on_call
from tocsin.actors.store import schedules as store
from tocsin.actors.store.schedules import StoredSchedule
from tocsin.serve.api.auth import require_viewer
from tocsin.serve.api.instants import At, From, To, instant, window
from tocsin.serve.api.schedule_models import OnCallEverywhere, OnCallOut, ShiftList
from tocsin.serve.errors import found
from tocsin.serve.runtime import GatewayRuntime, get_runtime

REACH = timedelta(days=31)
"""How far either side of a window a shift's true bounds are looked for."""
SHIFTS_DEFAULT = timedelta(days=14)
SHIFTS_LONGEST = timedelta(days=93)
LONGEST_TIMELINE = SHIFTS_LONGEST + 2 * REACH
"""The longest stretch any route computes a timeline over."""
_INSTANT = timedelta(microseconds=1)

router = APIRouter(prefix="/api/v1", tags=["On call"], dependencies=[Depends(require_viewer)])

People = dict[str, dict[str, Any]]


@router.get("/schedules/{schedule_id}/shifts", response_model=ShiftList)
async def schedule_shifts(
    schedule_id: uuid.UUID,
    from_: From = None,
    to: To = None,
    runtime: GatewayRuntime = Depends(get_runtime),
) -> dict[str, Any]:
    """The final timeline over [from, to), cut to the window: overrides and layers merged,
    gaps where nobody is on call. `to` is 14 days after `from` by default, 93 at the most."""
    start, end = window(from_, to, runtime.now(), SHIFTS_DEFAULT, SHIFTS_LONGEST)
    async with runtime.database.connection() as conn:
        stored = loaded(await store.load_schedule(conn, str(schedule_id), start, end), schedule_id)
        timeline = await asyncio.to_thread(final_shifts, stored.schedule, start, end)
        people = await store.people(conn, {shift.user_id for shift in timeline})
    shifts = [shift_out(stored, shift, people) for shift in timeline]
    return {"schedule_id": stored.id, "from": start, "to": end, "shifts": shifts}


@router.get("/schedules/{schedule_id}/oncall", response_model=OnCallOut)
async def schedule_on_call(
    schedule_id: uuid.UUID,
    at: At = None,
    runtime: GatewayRuntime = Depends(get_runtime),
) -> dict[str, Any]:
    moment = instant("at", at, runtime.now())
    around = reach(moment, moment + _INSTANT)
    async with runtime.database.connection() as conn:
        stored = loaded(await store.load_schedule(conn, str(schedule_id), *around), schedule_id)
        covering = await asyncio.to_thread(shifts_around, stored, moment, moment + _INSTANT)
        people = await store.people(conn, {shift.user_id for shift in covering})
    return {
        "schedule_id": stored.id,
        "at": moment,
        "users": [person(shift.user_id, people) for shift in covering],
        "shift": shift_out(stored, covering[0], people) if covering else None,
    }


@router.get("/oncall", response_model=OnCallEverywhere)
async def on_call_everywhere(
    at: At = None,
    runtime: GatewayRuntime = Depends(get_runtime),
) -> dict[str, Any]:
    """Who is on call at `at` on every schedule."""
    moment = instant("at", at, runtime.now())
    return {"at": moment, "oncall": await everyone_on_call(runtime, moment)}


async def everyone_on_call(runtime: GatewayRuntime, moment: datetime) -> list[dict[str, Any]]:
    """Per schedule, by name: its id and name, and the people on call on it at `moment`."""
    async with runtime.database.connection() as conn:
        schedules = await store.load_schedules(conn, moment, moment + _INSTANT)
        current = await asyncio.to_thread(lambda: {s.id: on_call(s.schedule, moment) for s in schedules})
        people = await store.people(conn, {user for users in current.values() for user in users})
    return [
        {"schedule_id": s.id, "schedule_name": s.name, "users": [person(user, people) for user in current[s.id]]}
        for s in schedules
    ]


def loaded(stored: StoredSchedule | None, schedule_id: uuid.UUID) -> StoredSchedule:
    return found(stored, f"schedule with id {schedule_id}")


def reach(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The window to load a schedule's overrides for, to call `shifts_around` on [start, end)."""
    return start - REACH, end + REACH


def shifts_around(stored: StoredSchedule, start: datetime, end: datetime) -> list[Shift]:
    """The final shifts that overlap [start, end), with their bounds as they are (not cut to
    the window) as far as REACH either side of it."""
    timeline = final_shifts(stored.schedule, start - REACH, end + REACH)
    return [shift for shift in timeline if shift.start < end and shift.end > start]


def person(user_id: str, people: People) -> dict[str, Any]:
    return people.get(user_id, {"id": user_id, "name": None, "email": None})


def shift_out(stored: StoredSchedule, shift: Shift, people: People) -> dict[str, Any]:
    return {
        "user_id": shift.user_id,
        "user_name": person(shift.user_id, people)["name"],
        "start": shift.start,
        "end": shift.end,
        "source": source(stored, shift),
    }


def source(stored: StoredSchedule, shift: Shift) -> dict[str, Any]:
    """Where a shift comes from: a layer, or the override in force when it starts."""
    if shift.source != OVERRIDE:
        index = int(shift.source)
        return {"type": "layer", "index": index, "name": stored.row["layers"][index]["name"]}
    override_id = stored.override_ids[shift.override] if shift.override is not None else None
    return {"type": "override", "override_id": override_id}
