"""What became of each asynchronous source request (Opsgenie's request ids): written once
the request is processed, read back when the source asks for its status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from tocsin.actors.store.rows import one


@dataclass(frozen=True, slots=True)
class SourceRequest:
    """One processed request: its id, the integration that sent it, and the outcome."""

    id: str
    integration_id: str
    action: str
    alias: str | None
    received_at: datetime
    processed_at: datetime
    success: bool
    status: str
    incident_id: int | None


async def record(conn: asyncpg.Connection, request: SourceRequest) -> None:
    await conn.execute(
        "INSERT INTO source_requests (id, integration_id, action, alias, received_at, processed_at, success,"
        " status, incident_id) VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6, $7, $8, $9)",
        request.id, request.integration_id, request.action, request.alias, request.received_at,
        request.processed_at, request.success, request.status, request.incident_id,
    )


async def find(conn: asyncpg.Connection, request_id: str, integration_id: str) -> dict[str, Any] | None:
    """The request with this id, when the integration asking is the one that sent it."""
    return one(await conn.fetchrow(
        "SELECT id::text, integration_id::text, action, alias, received_at, processed_at, success, status,"
        " incident_id FROM source_requests WHERE id = $1::uuid AND integration_id = $2::uuid",
        request_id, integration_id,
    ))
