"""Maintenance windows: alerts are still recorded and open incidents, but page nobody."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tocsin.actors.store import maintenance as store
from tocsin.actors.store import services as services_store
from tocsin.serve.api.auth import admin_somewhere_to_change
from tocsin.serve.api.ownership import guard
from tocsin.serve.errors import answering, deleted, found
from tocsin.serve.runtime import GatewayRuntime, get_runtime

router = APIRouter(prefix="/api/v1/services/{service_id}/maintenance", tags=["Services"],
                   dependencies=[Depends(admin_somewhere_to_change), Depends(guard("service", "service_id"))])


class WindowIn(BaseModel):
    """Either `minutes` from now, or a scheduled `starts_at` and `ends_at` (with offsets)."""

    model_config = ConfigDict(extra="forbid")
    minutes: int | None = Field(None, ge=1, le=60 * 24 * 30)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    reason: str = Field("", max_length=1024)

    @model_validator(mode="after")
    def _one_way(self) -> WindowIn:
        scheduled = self.starts_at is not None or self.ends_at is not None
        if (self.minutes is None) == (not scheduled):
            raise ValueError("give either minutes, or starts_at and ends_at")
        if scheduled:
            if self.starts_at is None or self.ends_at is None:
                raise ValueError("a scheduled window needs both starts_at and ends_at")
            if self.starts_at.utcoffset() is None or self.ends_at.utcoffset() is None:
                raise ValueError("starts_at and ends_at need a UTC offset")
            if self.ends_at <= self.starts_at:
                raise ValueError("ends_at must be after starts_at")
        return self


class WindowOut(BaseModel):
    id: str
    service_id: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    active: bool
    created_at: datetime


class WindowList(BaseModel):
    windows: list[WindowOut]


@router.post("", status_code=201, response_model=WindowOut)
async def start_window(service_id: uuid.UUID, body: WindowIn, runtime: GatewayRuntime = Depends(get_runtime)
                       ) -> dict[str, Any]:
    now = runtime.now()
    starts, ends = (now, now + timedelta(minutes=body.minutes)) if body.minutes else (body.starts_at, body.ends_at)
    assert starts is not None and ends is not None
    async with runtime.database.connection() as conn:
        with answering(asyncpg.ForeignKeyViolationError, HTTPException(404, f"no service with id {service_id}")):
            row = await store.create_window(conn, str(service_id), starts, ends, body.reason)
    return _shown(row, now)


@router.get("", response_model=WindowList)
async def list_windows(service_id: uuid.UUID, runtime: GatewayRuntime = Depends(get_runtime)) -> dict[str, Any]:
    """The windows under way or to come."""
    now = runtime.now()
    async with runtime.database.connection() as conn:
        found(await services_store.get_service(conn, str(service_id)), f"service with id {service_id}")
        rows = await store.open_windows(conn, str(service_id), now)
    return {"windows": [_shown(r, now) for r in rows]}


@router.delete("/{window_id}", status_code=204)
async def end_window(service_id: uuid.UUID, window_id: uuid.UUID, runtime: GatewayRuntime = Depends(get_runtime)
                     ) -> Response:
    """End a window now (or cancel one still to come)."""
    async with runtime.database.connection() as conn:
        done = await store.end_window(conn, str(service_id), str(window_id), runtime.now())
    return deleted(done, f"maintenance window {window_id} under way or to come on service {service_id}")


def _shown(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {**row, "active": row["starts_at"] <= now < row["ends_at"]}
