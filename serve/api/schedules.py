"""Schedules and their overrides.

A schedule is checked before it is stored: by the pydantic models at the edge, then by building
the domain object from the very documents that will be stored (so whatever is stored can be
computed), and every participant must be a user.
"""

from __future__ import annotations

import uuid
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Query, Response

from tocsin.actors.domain.definitions import schedule_from_json
from tocsin.actors.store import handoffs
from tocsin.actors.store import schedules as store
from tocsin.actors.store.database import Database
from tocsin.actors.store.policies import missing
from tocsin.actors.domain.accounts.access import Action
from tocsin.serve.api.auth import Caller, admin_somewhere_to_change, authenticate, require_viewer
from tocsin.serve.api.instants import From, To, instant
from tocsin.serve.api.oncall import LONGEST_TIMELINE
from tocsin.serve.api.schedule_models import (
    LATEST,
    CheckList,
    OverrideIn,
    OverrideList,
    OverrideOut,
    ScheduleIn,
    ScheduleList,
    ScheduleOut,
)
from tocsin.serve.api.ownership import (
    TEAM_QUERY,
    guard,
    known_team,
    permit_create,
    permit_move,
    refuse_unless_own_in,
    team_filter,
)
from tocsin.serve.errors import answering, found, invalid
from tocsin.serve.runtime import GatewayRuntime, get_database, get_runtime

# Any role reads; admins (of the schedule's team, or global) change schedules; a responder (in
# its team, or global) adds and removes the overrides that put them on call (covering for
# someone), and only those.
router = APIRouter(prefix="/api/v1/schedules", tags=["Schedules"], dependencies=[Depends(require_viewer)])

_MANAGED = guard("schedule", "schedule_id")
_RESPONDED = guard("schedule", "schedule_id", Action.RESPOND)


@router.post("", status_code=201, response_model=ScheduleOut)
async def create_schedule(
    body: ScheduleIn, caller: Caller = Depends(admin_somewhere_to_change), runtime: GatewayRuntime = Depends(get_runtime)
) -> dict[str, Any]:
    team_id = str(body.team_id) if body.team_id else None
    permit_create(caller, "schedule", team_id)
    async with runtime.database.connection() as conn:
        layers = await _checked_layers(conn, body)
        with _owner_exists(body), known_team(team_id):
            row = await store.create_schedule(conn, body.name, body.description, body.time_zone, layers,
                                              _handoffs(body), team_id)
    return schedule_out(row, runtime, caller)


@router.get("", response_model=ScheduleList)
async def list_schedules(
    team: str | None = TEAM_QUERY, caller: Caller = Depends(require_viewer),
    runtime: GatewayRuntime = Depends(get_runtime),
) -> dict[str, Any]:
    async with runtime.database.connection() as conn:
        rows = await store.list_schedules(conn, team_filter(caller, team))
    return {"schedules": [schedule_out(row, runtime, caller) for row in rows]}


@router.get("/{schedule_id}", response_model=ScheduleOut)
async def get_schedule(
    schedule_id: uuid.UUID, caller: Caller = Depends(require_viewer), runtime: GatewayRuntime = Depends(get_runtime)
) -> dict[str, Any]:
    async with runtime.database.connection() as conn:
        row = found(await store.get_schedule(conn, str(schedule_id)), _what(schedule_id))
    return schedule_out(row, runtime, caller)


@router.put("/{schedule_id}", response_model=ScheduleOut)
async def replace_schedule(
    schedule_id: uuid.UUID, body: ScheduleIn, caller: Caller = Depends(require_viewer),
    team_id: str | None = Depends(_MANAGED), runtime: GatewayRuntime = Depends(get_runtime),
) -> dict[str, Any]:
    """Replace the name, description, zone and layers; the version grows by one. `team_id`
    left out keeps the team."""
    moved_to = str(body.team_id) if body.team_id else None
    team = (moved_to,) if "team_id" in body.model_fields_set else None
    if team is not None:
        permit_move(caller, team_id, moved_to, f"schedule {schedule_id}")
    async with runtime.database.connection() as conn:
        layers = await _checked_layers(conn, body)
        with _owner_exists(body), known_team(moved_to):
            row = await store.update_schedule(conn, str(schedule_id), body.name, body.description, body.time_zone,
                                              layers, _handoffs(body), team)
    return schedule_out(found(row, _what(schedule_id)), runtime, caller)


@router.delete("/{schedule_id}", status_code=204, dependencies=[Depends(_MANAGED)])
async def delete_schedule(schedule_id: uuid.UUID, db: Database = Depends(get_database)) -> Response:
    async with db.connection() as conn:
        if not await store.delete_schedule(conn, str(schedule_id)):
            raise HTTPException(404, f"no {_what(schedule_id)}")
    return Response(status_code=204)


@router.post("/{schedule_id}/overrides", status_code=201, response_model=OverrideOut)
async def create_override(
    schedule_id: uuid.UUID, body: OverrideIn, caller: Caller = Depends(authenticate),
    team_id: str | None = Depends(_RESPONDED), runtime: GatewayRuntime = Depends(get_runtime),
) -> dict[str, Any]:
    """Put a user on call for the whole schedule from start to end; a later override wins.
    A responder may put only themselves on call. 409 when the schedule already holds
    TOCSIN_MAX_OVERRIDES_PER_SCHEDULE overrides near this one (see `_near`)."""
    refuse_unless_own_in(caller, team_id, body.user_id, f"an override putting user {body.user_id} on call")
    cap = runtime.settings.max_overrides_per_schedule
    since = _near(body.start, runtime.now())
    async with runtime.database.connection() as conn, conn.transaction():
        if not await store.lock_schedule(conn, str(schedule_id)):
            raise HTTPException(404, f"no {_what(schedule_id)}")
        if await store.count_overrides_ending_after(conn, str(schedule_id), since) >= cap:
            raise HTTPException(409, f"schedule {schedule_id} already holds {cap} overrides that end after"
                                f" {since.isoformat()}, the most it may: delete some first")
        with answering(asyncpg.ForeignKeyViolationError, invalid(("user_id", f"no user with id {body.user_id}"))):
            return await store.create_override(conn, str(schedule_id), str(body.user_id), body.start, body.end)


@router.get("/{schedule_id}/overrides", response_model=OverrideList)
async def list_overrides(
    schedule_id: uuid.UUID,
    from_: From = None,
    to: To = None,
    runtime: GatewayRuntime = Depends(get_runtime),
) -> dict[str, Any]:
    """The overrides that overlap [from, to) (to: no end by default); by default those that
    have not ended yet."""
    start = instant("from", from_, runtime.now())
    end = instant("to", to, LATEST)
    if end <= start:
        raise HTTPException(400, "to: must be after from")
    async with runtime.database.connection() as conn:
        found(await store.get_schedule(conn, str(schedule_id)), _what(schedule_id))
        return {"overrides": await store.list_overrides(conn, str(schedule_id), start, end)}


@router.delete("/{schedule_id}/overrides/{override_id}", status_code=204)
async def delete_override(
    schedule_id: uuid.UUID, override_id: uuid.UUID, caller: Caller = Depends(authenticate),
    team_id: str | None = Depends(_RESPONDED), db: Database = Depends(get_database),
) -> Response:
    """A responder may remove only an override that puts them on call."""
    missing = HTTPException(404, f"no override {override_id} on schedule {schedule_id}")
    async with db.connection() as conn:
        covering = await store.override_user(conn, str(schedule_id), str(override_id))
        if covering is None:
            raise missing
        refuse_unless_own_in(caller, team_id, covering, f"override {override_id}, which puts user {covering} on call,")
        if not await store.delete_override(conn, str(schedule_id), str(override_id)):
            raise missing
    return Response(status_code=204)


@router.get("/{schedule_id}/checks", response_model=CheckList)
async def list_checks(
    schedule_id: uuid.UUID, limit: int = Query(100, ge=1, le=1000), db: Database = Depends(get_database)
) -> dict[str, Any]:
    """The schedule's reachability checks, the latest shift first: whom each asked, when,
    and whether they acknowledged it."""
    async with db.connection() as conn:
        found(await store.get_schedule(conn, str(schedule_id)), _what(schedule_id))
        return {"checks": await handoffs.list_checks(conn, str(schedule_id), limit)}


def _handoffs(body: ScheduleIn) -> store.Handoffs:
    owner = str(body.owner_id) if body.owner_id is not None else None
    return store.Handoffs(owner, body.reachability_check, body.check_lead_minutes)


def _owner_exists(body: ScheduleIn) -> AbstractContextManager[None]:
    return answering(asyncpg.ForeignKeyViolationError, invalid(("owner_id", f"no user with id {body.owner_id}")))


def _near(start: datetime, now: datetime) -> datetime:
    """A new override starting at `start` counts, against the cap, the overrides that end after
    this. So no stretch of LONGEST_TIMELINE or less (all a timeline is ever computed over) meets
    more than the cap: the last override made among those it meets starts before the stretch
    ends, so the others, which end after it begins, were all counted then. Counting from now
    too keeps the overrides still to come within the cap (what a shard loads to page)."""
    return min(start, now) - LONGEST_TIMELINE


def _what(schedule_id: uuid.UUID) -> str:
    return f"schedule with id {schedule_id}"


def schedule_out(row: dict[str, Any], runtime: GatewayRuntime, caller: Caller) -> dict[str, Any]:
    """The row with its feed's URL in place of the bare token. A schedule is the admins' to
    manage: others get null, since the URL opens the feed to whoever has it, logged in or not
    (their own shifts are in their personal feed)."""
    token = row["calendar_token"]
    url = f"{runtime.settings.base_url}/api/v1/schedules/{row['id']}/oncall.ics?token={token}"
    shown = url if caller.may(Action.MANAGE, row.get("team_id")) else None
    return {**{k: v for k, v in row.items() if k != "calendar_token"}, "calendar_url": shown}


async def _checked_layers(conn: asyncpg.Connection, body: ScheduleIn) -> list[dict[str, Any]]:
    """The layers as they will be stored, once the domain accepts them and every participant exists."""
    layers = [layer.model_dump(mode="json") for layer in body.layers]
    try:
        schedule_from_json(body.time_zone, layers)
    except (ValueError, KeyError, TypeError) as exc:
        raise invalid(("layers", str(exc))) from None
    unknown = await missing(conn, "users", {p for layer in layers for p in layer["rotation"]["participants"]})
    problems = [
        (f"layers.{i}.rotation.participants.{j}", f"no user with id {person}")
        for i, layer in enumerate(layers)
        for j, person in enumerate(layer["rotation"]["participants"])
        if person in unknown
    ]
    if problems:
        raise invalid(*problems)
    return layers
