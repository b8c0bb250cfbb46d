"""Maintenance windows of services."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

_COLUMNS = "id::text, service_id::text, starts_at, ends_at, reason, created_at"


async def create_window(
    conn: asyncpg.Connection, service_id: str, starts_at: datetime, ends_at: datetime, reason: str
) -> dict[str, Any]:
    """Raises asyncpg.ForeignKeyViolationError when the service does not exist."""
    row = await conn.fetchrow(
        "INSERT INTO maintenance_windows (id, service_id, starts_at, ends_at, reason)"
        f" VALUES ($1, $2::uuid, $3, $4, $5) RETURNING {_COLUMNS}",
        str(uuid.uuid4()), service_id, starts_at, ends_at, reason,
    )
    return dict(row)


async def open_windows(conn: asyncpg.Connection, service_id: str, now: datetime) -> list[dict[str, Any]]:
    """The windows not ended by `now`: under way or to come, earliest first."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM maintenance_windows WHERE service_id = $1::uuid AND ends_at > $2"
        " ORDER BY starts_at, id",
        service_id, now,
    )
    return [dict(r) for r in rows]


async def end_window(conn: asyncpg.Connection, service_id: str, window_id: str, now: datetime) -> bool:
    """Ends a window under way now, and drops one still to come; False when there is none."""
    changed: int = await conn.fetchval(
        "WITH ended AS (UPDATE maintenance_windows SET ends_at = $3"
        "  WHERE id = $1::uuid AND service_id = $2::uuid AND starts_at < $3 AND ends_at > $3 RETURNING id),"
        " dropped AS (DELETE FROM maintenance_windows"
        "  WHERE id = $1::uuid AND service_id = $2::uuid AND starts_at >= $3 RETURNING id)"
        " SELECT (SELECT count(*) FROM ended) + (SELECT count(*) FROM dropped)",
        window_id, service_id, now,
    )
    return changed > 0
