"""The outbox as the API shows it: notifications by status, their attempts, retrying the dead."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

_COLUMNS = (
    "n.id, n.kind, n.incident_id, n.service_id::text, n.page, n.level + 1 AS level, n.user_id::text,"
    " u.name AS user_name, n.contact_method_id::text, n.channel, n.status, n.send_at, n.attempts,"
    " n.provider, n.provider_message_id, n.delivery_status, n.sent_at, n.last_error, n.bundled_into,"
    " n.created_at, n.updated_at"
)


async def list_notifications(
    conn: asyncpg.Connection, *, status: str | None, channel: str | None, before_id: int | None, limit: int
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM notifications n LEFT JOIN users u ON u.id = n.user_id"
        " WHERE ($1::text IS NULL OR n.status = $1) AND ($2::text IS NULL OR n.channel = $2)"
        " AND ($3::bigint IS NULL OR n.id < $3) ORDER BY n.id DESC LIMIT $4",
        status, channel, before_id, limit,
    )
    return [dict(r) for r in rows]


async def get_notification(conn: asyncpg.Connection, notification_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM notifications n LEFT JOIN users u ON u.id = n.user_id WHERE n.id = $1",
        notification_id,
    )
    if row is None:
        return None
    attempts = await conn.fetch(
        "SELECT provider, at, outcome, provider_message_id, error, latency_ms, delivery_status, delivery_status_at"
        " FROM notification_attempts"
        " WHERE notification_id = $1 ORDER BY id", notification_id,
    )
    return {**dict(row), "delivery_attempts": [dict(a) for a in attempts]}


async def retry_dead(conn: asyncpg.Connection, notification_id: int, now: datetime) -> str | None:
    """Back to pending, due now, with a fresh count of rounds: the status it had, or None
    when there is no such notification. Only a dead one changes."""
    status: str | None = await conn.fetchval(
        "WITH before AS (SELECT status FROM notifications WHERE id = $1 FOR UPDATE),"
        " retried AS (UPDATE notifications SET status = 'pending', send_at = $2, attempts = 0,"
        "   claimed_until = NULL, updated_at = $2 WHERE id = $1 AND status = 'dead')"
        " SELECT status FROM before",
        notification_id, now,
    )
    return status


async def counts_by_channel(conn: asyncpg.Connection) -> dict[str, dict[str, int]]:
    rows = await conn.fetch(
        "SELECT channel, status, count(*) FROM notifications"
        " WHERE status IN ('pending', 'sending', 'dead') GROUP BY channel, status"
    )
    found: dict[str, dict[str, int]] = {}
    for r in rows:
        found.setdefault(r["channel"], {})[r["status"]] = r["count"]
    return found


async def channel_of(conn: asyncpg.Connection, notification_id: int) -> str | None:
    channel: str | None = await conn.fetchval("SELECT channel FROM notifications WHERE id = $1", notification_id)
    return channel
