"""Incidents: list, read with timeline and notifications, and act on them: acknowledge,
resolve, escalate, snooze, reassign.

Reads go straight to Postgres; every action goes through the shard that owns the
incident's service, like every other change to it. An incident is its service's team's: its
responders (and global responders) act on it; with TOCSIN_INCIDENT_VISIBILITY=team, those who
may not see it (serve/api/ownership.py) find it neither listed nor at its id.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query

from tocsin.actors.domain.events import Command, Status
from tocsin.actors.domain.incident import Outcome
from tocsin.actors.store import incidents as store
from tocsin.actors.store import paging as paging_store
from tocsin.actors.store.database import Database
from tocsin.actors.domain.accounts.access import Action
from tocsin.serve.api.auth import Caller, require_viewer
from tocsin.serve.api.commands import send_command
from tocsin.serve.api.channels import as_seen_by
from tocsin.serve.api.incident_models import EscalateIn, NotificationList, ReassignIn, SnoozeIn
from tocsin.serve.api.models import IncidentDetail, IncidentList, IncidentOut
from tocsin.serve.api.ownership import TEAM_QUERY, incident_guard, incident_teams
from tocsin.serve.params import Cursor, Int64Id
from tocsin.serve.runtime import GatewayRuntime, get_database, get_runtime

router = APIRouter(prefix="/api/v1/incidents", tags=["Incidents"])

_TIMELINE_LIMIT = 1000

_SEEN = Depends(incident_guard(Action.READ))
_RESPONDED = Depends(incident_guard(Action.RESPOND))


@router.get("", response_model=IncidentList)
async def list_incidents(
    status: str | None = Query(None, max_length=64,
                               description="triggered, acknowledged or resolved; several comma-separated"),
    service_id: uuid.UUID | None = None,
    suppressed: bool | None = Query(None, description="true: only incidents routing rules suppressed; false: only"
                                                      " the others"),
    cursor: Cursor | None = Query(None, description="next_cursor of the previous page"),
    limit: int = Query(25, ge=1, le=100),
    team: str | None = TEAM_QUERY,
    caller: Caller = Depends(require_viewer),
    runtime: GatewayRuntime = Depends(get_runtime),
) -> dict[str, Any]:
    statuses = _statuses(status)
    async with runtime.database.connection() as conn:
        rows = await store.list_incidents(
            conn, statuses=statuses, service_id=str(service_id) if service_id else None,
            before_id=cursor, limit=limit + 1, suppressed=suppressed, teams=incident_teams(caller, team, runtime),
        )
    more = len(rows) > limit
    rows = rows[:limit]
    return {"incidents": rows, "next_cursor": str(rows[-1]["id"]) if more else None}


@router.get("/{incident_id}", response_model=IncidentDetail, dependencies=[_SEEN])
async def get_incident(incident_id: Int64Id, db: Database = Depends(get_database)) -> dict[str, Any]:
    async with db.connection() as conn:
        row = await store.get_incident(conn, incident_id)
        if row is None:
            raise HTTPException(404, f"no incident with id {incident_id}")
        entries = await store.timeline(conn, incident_id, _TIMELINE_LIMIT)
    return {**row, "details": orjson.loads(row["details"]), "timeline": entries}


@router.post("/{incident_id}/acknowledge", response_model=IncidentOut, dependencies=[_RESPONDED])
async def acknowledge(
    incident_id: Int64Id, caller: Caller = Depends(require_viewer), runtime: GatewayRuntime = Depends(get_runtime)
) -> dict[str, Any]:
    """Acknowledge: stops escalation. Acknowledging again changes nothing."""
    return await _command(incident_id, Command.ACKNOWLEDGE, caller.name, runtime)


@router.post("/{incident_id}/resolve", response_model=IncidentOut, dependencies=[_RESPONDED])
async def resolve(
    incident_id: Int64Id, caller: Caller = Depends(require_viewer), runtime: GatewayRuntime = Depends(get_runtime)
) -> dict[str, Any]:
    """Resolve: closes the incident and frees its dedup key. Resolving again changes nothing."""
    return await _command(incident_id, Command.RESOLVE, caller.name, runtime)


@router.post("/{incident_id}/escalate", response_model=IncidentOut, dependencies=[_RESPONDED])
async def escalate(
    incident_id: Int64Id, body: EscalateIn | None = None, caller: Caller = Depends(require_viewer),
    runtime: GatewayRuntime = Depends(get_runtime),
) -> dict[str, Any]:
    """Page the next escalation level now (or `escalation_level`), even when acknowledged."""
    level = body.escalation_level if body else None
    return await _command(incident_id, Command.ESCALATE, caller.name, runtime,
                          to_level=None if level is None else level - 1)


@router.post("/{incident_id}/snooze", response_model=IncidentOut, dependencies=[_RESPONDED])
async def snooze(
    incident_id: Int64Id, body: SnoozeIn, caller: Caller = Depends(require_viewer),
    runtime: GatewayRuntime = Depends(get_runtime),
) -> dict[str, Any]:
    """Acknowledge now; when the snooze runs out the incident is triggered and paged again."""
    return await _command(incident_id, Command.SNOOZE, caller.name, runtime, minutes=body.minutes)


@router.post("/{incident_id}/reassign", response_model=IncidentOut, dependencies=[_RESPONDED])
async def reassign(
    incident_id: Int64Id, body: ReassignIn, caller: Caller = Depends(require_viewer),
    runtime: GatewayRuntime = Depends(get_runtime),
) -> dict[str, Any]:
    """Hand the incident to one person (paged now) or to an escalation policy (walked from level 1)."""
    user_id = str(body.user_id) if body.user_id else None
    policy_id = str(body.escalation_policy_id) if body.escalation_policy_id else None
    async with runtime.database.connection() as conn:
        if user_id and not await paging_store.people(conn, [user_id]):
            raise HTTPException(404, f"no user with id {user_id}")
        if policy_id and not await paging_store.policies(conn, [policy_id]):
            raise HTTPException(404, f"no escalation policy with id {policy_id}")
    return await _command(incident_id, Command.REASSIGN, caller.name, runtime, user_id=user_id, policy_id=policy_id)


@router.get("/{incident_id}/notifications", response_model=NotificationList, dependencies=[_SEEN])
async def list_notifications(
    incident_id: Int64Id, caller: Caller = Depends(require_viewer), db: Database = Depends(get_database),
) -> dict[str, Any]:
    """Every notification the incident's pages wrote to the outbox, and what became of it;
    errors whole for admins only."""
    async with db.connection() as conn:
        if await store.service_of(conn, incident_id) is None:
            raise HTTPException(404, f"no incident with id {incident_id}")
        rows = await store.notifications(conn, incident_id)
    return {"notifications": [as_seen_by(caller, row) for row in rows]}


# The walk commands change nothing on a resolved incident: saying so beats a silent 200.
_WALK_COMMANDS = (Command.ESCALATE, Command.SNOOZE, Command.REASSIGN)


async def _command(
    incident_id: int, action: Command, actor: str, runtime: GatewayRuntime, **arguments: Any
) -> dict[str, Any]:
    _, reply = await send_command(runtime, incident_id, action, f"api:{actor}", **arguments)
    if reply.outcome == Outcome.REFUSED.value:
        raise HTTPException(409, f"cannot {action.value} incident {incident_id}: {reply.note}")
    if reply.outcome == Outcome.INVALID.value:
        raise HTTPException(422, f"cannot {action.value} incident {incident_id}: {reply.note}")
    if reply.outcome == Outcome.UNCHANGED.value and action in _WALK_COMMANDS:
        raise HTTPException(409, f"cannot {action.value} incident {incident_id}: it is resolved")
    async with runtime.database.connection() as conn:
        row = await store.get_incident(conn, incident_id)
    assert row is not None
    return row


def _statuses(raw: str | None) -> list[str] | None:
    if not raw:
        return None
    values = [v.strip() for v in raw.split(",") if v.strip()]
    allowed = {s.value for s in Status}
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise HTTPException(400, f"unknown status {', '.join(unknown)}; use {', '.join(sorted(allowed))}")
    return values
