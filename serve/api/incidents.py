"""Incidents: list, read with timeline, acknowledge and resolve.

Reads go straight to Postgres; acknowledge and resolve go through the shard that owns the
incident's service, like every other change to it.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query

from actors.domain.events import Command, IncidentCommand, Status
from actors.store import incidents as store
from serve.api.auth import require_admin
from serve.api.models import IncidentDetail, IncidentList, IncidentOut
from serve.runtime import GatewayRuntime, get_runtime

router = APIRouter(prefix="/api/v1/incidents", tags=["Incidents"])

_TIMELINE_LIMIT = 1000


@router.get("", response_model=IncidentList, dependencies=[Depends(require_admin)])
async def list_incidents(
    status: str | None = Query(None, description="triggered, acknowledged or resolved; several comma-separated"),
    service_id: uuid.UUID | None = None,
    cursor: str | None = Query(None, description="next_cursor of the previous page"),
    limit: int = Query(25, ge=1, le=100),
    runtime: GatewayRuntime = Depends(get_runtime),
) -> dict[str, Any]:
    statuses = _statuses(status)
    before = _cursor(cursor)
    async with (await runtime.pool()).acquire() as conn:
        rows = await store.list_incidents(
            conn, statuses=statuses, service_id=str(service_id) if service_id else None,
            before_id=before, limit=limit + 1,
        )
    more = len(rows) > limit
    rows = rows[:limit]
    return {"incidents": rows, "next_cursor": str(rows[-1]["id"]) if more else None}


@router.get("/{incident_id}", response_model=IncidentDetail, dependencies=[Depends(require_admin)])
async def get_incident(incident_id: int, runtime: GatewayRuntime = Depends(get_runtime)) -> dict[str, Any]:
    async with (await runtime.pool()).acquire() as conn:
        row = await store.get_incident(conn, incident_id)
        if row is None:
            raise HTTPException(404, f"no incident with id {incident_id}")
        entries = await store.timeline(conn, incident_id, _TIMELINE_LIMIT)
    return {**row, "details": orjson.loads(row["details"]), "timeline": entries}


@router.post("/{incident_id}/acknowledge", response_model=IncidentOut)
async def acknowledge(
    incident_id: int, actor: str = Depends(require_admin), runtime: GatewayRuntime = Depends(get_runtime)
) -> dict[str, Any]:
    """Acknowledge: stops escalation. Acknowledging again changes nothing."""
    return await _command(incident_id, Command.ACKNOWLEDGE, actor, runtime)


@router.post("/{incident_id}/resolve", response_model=IncidentOut)
async def resolve(
    incident_id: int, actor: str = Depends(require_admin), runtime: GatewayRuntime = Depends(get_runtime)
) -> dict[str, Any]:
    """Resolve: closes the incident and frees its dedup key. Resolving again changes nothing."""
    return await _command(incident_id, Command.RESOLVE, actor, runtime)


async def _command(incident_id: int, action: Command, actor: str, runtime: GatewayRuntime) -> dict[str, Any]:
    pool = await runtime.pool()
    async with pool.acquire() as conn:
        service_id = await store.service_of(conn, incident_id)
    if service_id is None:
        raise HTTPException(404, f"no incident with id {incident_id}")
    command = IncidentCommand(
        command_id=str(uuid.uuid4()), service_id=service_id, incident_id=incident_id,
        action=action, actor=f"api:{actor}", received_at=runtime.now(),
    )
    await runtime.shards.submit(command)
    async with pool.acquire() as conn:
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


def _cursor(raw: str | None) -> int | None:
    if raw is None:
        return None
    if not raw.isdigit():
        raise HTTPException(400, "cursor must be the next_cursor value of a previous page")
    return int(raw)
