"""Heartbeats: their definitions for the API, pings, and the monitor's claim of missed deadlines.

The deadline is the `expires_at` column. The monitor claims healthy rows past it with FOR
UPDATE SKIP LOCKED and keeps them locked until their incidents are durable, so monitors
share the work without raising one expiry twice; a ping locks its row too, so it waits
for a monitor at work on it and then sees what the monitor recorded.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from tocsin.actors.domain.heartbeat import Heartbeat, deadline
from tocsin.actors.store.rows import delete_one
from tocsin.actors.store.services import new_routing_key

_COLUMNS = ("id::text, service_id::text, name, key, interval_s AS interval_seconds, grace_s AS grace_seconds,"
            " state, last_ping_at, expires_at, created_at")
_SELECT = f"SELECT {_COLUMNS} FROM heartbeats"
_EDITABLE = ("name", "interval_seconds", "grace_seconds")

_CLAIM = f"""
SELECT {_COLUMNS} FROM heartbeats
WHERE state = 'healthy' AND expires_at <= $1
ORDER BY expires_at, id
LIMIT $2
FOR UPDATE SKIP LOCKED
"""


def heartbeat(row: asyncpg.Record | dict[str, Any]) -> Heartbeat:
    return Heartbeat(row["id"], row["service_id"], row["name"], row["interval_seconds"], row["grace_seconds"],
                     row["state"], row["last_ping_at"], row["expires_at"])


async def create(
    conn: asyncpg.Connection, service_id: str, name: str, interval_seconds: int, grace_seconds: int
) -> dict[str, Any]:
    """Raises asyncpg.ForeignKeyViolationError when the service does not exist."""
    row = await conn.fetchrow(
        "INSERT INTO heartbeats (id, service_id, name, key, interval_s, grace_s)"
        f" VALUES ($1, $2::uuid, $3, $4, $5, $6) RETURNING {_COLUMNS}",
        str(uuid.uuid4()), service_id, name, new_routing_key(), interval_seconds, grace_seconds,
    )
    return dict(row)


async def list_for_service(conn: asyncpg.Connection, service_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(_SELECT + " WHERE service_id = $1::uuid ORDER BY created_at, id", service_id)
    return [dict(r) for r in rows]


async def get(conn: asyncpg.Connection, heartbeat_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(_SELECT + " WHERE id = $1::uuid", heartbeat_id)
    return dict(row) if row is not None else None


async def update(conn: asyncpg.Connection, heartbeat_id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
    """Change the name, interval or grace. A healthy heartbeat's deadline follows the new
    interval and grace from its last ping (and may have passed already); an unhealthy one
    stays unhealthy until it pings."""
    async with conn.transaction():
        row = await conn.fetchrow(_SELECT + " WHERE id = $1::uuid FOR UPDATE", heartbeat_id)
        if row is None:
            return None
        merged = {**dict(row), **{k: v for k, v in changes.items() if k in _EDITABLE}}
        expires_at = merged["expires_at"]
        if merged["state"] == "healthy":
            expires_at = deadline(merged["last_ping_at"], merged["interval_seconds"], merged["grace_seconds"])
        updated = await conn.fetchrow(
            "UPDATE heartbeats SET name = $2, interval_s = $3, grace_s = $4, expires_at = $5"
            f" WHERE id = $1::uuid RETURNING {_COLUMNS}",
            heartbeat_id, merged["name"], merged["interval_seconds"], merged["grace_seconds"], expires_at,
        )
        return dict(updated)


async def delete(conn: asyncpg.Connection, heartbeat_id: str) -> bool:
    return await delete_one(conn, "DELETE FROM heartbeats WHERE id = $1::uuid", heartbeat_id)


async def lock_by_key(conn: asyncpg.Connection, key: str) -> Heartbeat | None:
    """The heartbeat this ping key belongs to, locked until the transaction ends."""
    row = await conn.fetchrow(_SELECT + " WHERE key = $1 FOR UPDATE", key)
    return heartbeat(row) if row is not None else None


async def pinged(conn: asyncpg.Connection, heartbeat_id: str, at: datetime, expires_at: datetime) -> None:
    await conn.execute(
        "UPDATE heartbeats SET state = 'healthy', last_ping_at = $2, expires_at = $3 WHERE id = $1::uuid",
        heartbeat_id, at, expires_at,
    )


async def claim_due(conn: asyncpg.Connection, now: datetime, limit: int) -> list[Heartbeat]:
    """Healthy heartbeats whose deadline passed by `now`, locked for the transaction."""
    return [heartbeat(r) for r in await conn.fetch(_CLAIM, now, limit)]


async def mark_unhealthy(conn: asyncpg.Connection, ids: Sequence[str]) -> None:
    if ids:
        await conn.execute("UPDATE heartbeats SET state = 'unhealthy' WHERE id = ANY($1::uuid[])", list(ids))


async def next_due(conn: asyncpg.Connection) -> datetime | None:
    """The earliest deadline of a healthy heartbeat."""
    at: datetime | None = await conn.fetchval("SELECT min(expires_at) FROM heartbeats WHERE state = 'healthy'")
    return at
