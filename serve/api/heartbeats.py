"""Heartbeat monitors of a service: a job pings its URL at least every `interval_seconds`;
silence for longer than that plus `grace_seconds` opens an incident on the service."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from tocsin.actors.store import heartbeats as store
from tocsin.actors.store import services as service_store
from tocsin.actors.store.database import Database
from tocsin.serve.api.ownership import guard
from tocsin.serve.api.models import Name, changes_of
from tocsin.serve.errors import answering, deleted, found
from tocsin.serve.ingest.heartbeat import PING_PATH
from tocsin.serve.runtime import GatewayRuntime, get_database, get_runtime

# Admins only (of the service's team, or global), reads included: a ping URL carries the key,
# and pinging silences the monitor.
_OF_SERVICE = Depends(guard("service", "service_id", reads=True))
_HEARTBEAT = Depends(guard("heartbeat", "heartbeat_id", reads=True))
router = APIRouter(prefix="/api/v1", tags=["Heartbeats"])

IntervalSeconds = Annotated[int, Field(ge=10, le=86_400, description="the longest expected gap between pings, "
                                                                     "in seconds (10 s to 1 day)")]
GraceSeconds = Annotated[int, Field(ge=0, le=86_400, description="how much later than the interval a ping may "
                                                                 "still come before an incident opens, in seconds")]


class HeartbeatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    interval_seconds: IntervalSeconds
    grace_seconds: GraceSeconds = 60


class HeartbeatPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    interval_seconds: IntervalSeconds | None = None
    grace_seconds: GraceSeconds | None = None


class HeartbeatOut(BaseModel):
    id: str
    service_id: str
    name: str
    key: str
    ping_url: str = Field(description="POST or GET here, with no token, at least every interval")
    interval_seconds: int
    grace_seconds: int
    state: Literal["inactive", "healthy", "unhealthy"] = Field(
        description="inactive until the first ping; unhealthy from a missed deadline until the next ping")
    last_ping_at: datetime | None
    expires_at: datetime | None = Field(description="the deadline: last ping + interval + grace")
    created_at: datetime


class HeartbeatList(BaseModel):
    heartbeats: list[HeartbeatOut]


@router.post("/services/{service_id}/heartbeats", status_code=201, response_model=HeartbeatOut, dependencies=[_OF_SERVICE])
async def create_heartbeat(
    service_id: uuid.UUID, body: HeartbeatIn, runtime: GatewayRuntime = Depends(get_runtime)
) -> dict[str, Any]:
    async with runtime.database.connection() as conn:
        with answering(asyncpg.ForeignKeyViolationError, HTTPException(404, f"no service with id {service_id}")):
            row = await store.create(conn, str(service_id), **body.model_dump())
    return _with_url(row, runtime)


@router.get("/services/{service_id}/heartbeats", response_model=HeartbeatList, dependencies=[_OF_SERVICE])
async def list_heartbeats(service_id: uuid.UUID, runtime: GatewayRuntime = Depends(get_runtime)) -> dict[str, Any]:
    async with runtime.database.connection() as conn:
        found(await service_store.get_service(conn, str(service_id)), f"service with id {service_id}")
        rows = await store.list_for_service(conn, str(service_id))
    return {"heartbeats": [_with_url(r, runtime) for r in rows]}


@router.get("/heartbeats/{heartbeat_id}", response_model=HeartbeatOut, dependencies=[_HEARTBEAT])
async def get_heartbeat(heartbeat_id: uuid.UUID, runtime: GatewayRuntime = Depends(get_runtime)) -> dict[str, Any]:
    async with runtime.database.connection() as conn:
        row = found(await store.get(conn, str(heartbeat_id)), f"heartbeat with id {heartbeat_id}")
    return _with_url(row, runtime)


@router.patch("/heartbeats/{heartbeat_id}", response_model=HeartbeatOut, dependencies=[_HEARTBEAT])
async def update_heartbeat(
    heartbeat_id: uuid.UUID, body: HeartbeatPatch, runtime: GatewayRuntime = Depends(get_runtime)
) -> dict[str, Any]:
    """A healthy heartbeat's deadline follows a new interval or grace at once, counted from
    its last ping."""
    async with runtime.database.connection() as conn:
        row = found(await store.update(conn, str(heartbeat_id), changes_of(body)), f"heartbeat with id {heartbeat_id}")
    return _with_url(row, runtime)


@router.delete("/heartbeats/{heartbeat_id}", status_code=204, dependencies=[_HEARTBEAT])
async def delete_heartbeat(heartbeat_id: uuid.UUID, db: Database = Depends(get_database)) -> Response:
    """Stop watching; an incident it opened stays open until someone resolves it."""
    async with db.connection() as conn:
        return deleted(await store.delete(conn, str(heartbeat_id)), f"heartbeat with id {heartbeat_id}")


def _with_url(row: dict[str, Any], runtime: GatewayRuntime) -> dict[str, Any]:
    return {**row, "ping_url": runtime.settings.base_url + PING_PATH.format(key=row["key"])}
