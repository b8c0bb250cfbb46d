"""Acting from chat: Slack users linked to Tocsin users, and the Slack messages of pages that
no longer show their incident as it is (migration 019).

A page posted through Slack's Web API is a `sent` notification whose provider message id is
"<channel>:<ts>". What it shows is the status in `slack_messages_shown`, or, with no row
there, the status it was sent in: triggered (pages go out only while their incident is).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import asyncpg

_STALE = """
SELECT n.id AS notification_id, n.provider_message_id, n.urgency, i.id AS incident_id, i.status, i.summary,
       coalesce(s.name, 'a deleted service') AS service,
       (SELECT l.actor FROM incident_log l WHERE l.incident_id = i.id AND l.kind = i.status
        ORDER BY l.id DESC LIMIT 1) AS by
FROM notifications n
JOIN incidents i ON i.id = n.incident_id
LEFT JOIN services s ON s.id = i.service_id
LEFT JOIN slack_messages_shown shown ON shown.notification_id = n.id
WHERE n.channel = 'slack' AND n.status = 'sent' AND n.provider = 'slack' AND n.provider_message_id IS NOT NULL
  AND coalesce(shown.status, 'triggered') <> i.status
  AND {which}
ORDER BY n.id
LIMIT $2
"""


async def stale_slack_messages(conn: asyncpg.Connection, incident_ids: Sequence[int], limit: int) -> list[dict[str, Any]]:
    """The Slack messages of these incidents' pages that show another status than theirs."""
    rows = await conn.fetch(_STALE.format(which="n.incident_id = ANY($1::bigint[])"), list(incident_ids), limit)
    return [dict(r) for r in rows]


async def stale_slack_messages_since(conn: asyncpg.Connection, since: datetime, limit: int) -> list[dict[str, Any]]:
    """Those of incidents changed since `since`: what a reader that lost track looks through."""
    rows = await conn.fetch(_STALE.format(which="i.updated_at >= $1"), since, limit)
    return [dict(r) for r in rows]


async def mark_shown(conn: asyncpg.Connection, shown: Iterable[tuple[int, str]], now: datetime) -> None:
    """Each (notification id, status): its message now shows that status."""
    await conn.executemany(
        "INSERT INTO slack_messages_shown (notification_id, status, updated_at) VALUES ($1, $2, $3)"
        " ON CONFLICT (notification_id) DO UPDATE SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at",
        [(notification_id, status, now) for notification_id, status in shown],
    )


async def user_of_slack_id(conn: asyncpg.Connection, slack_user_id: str) -> dict[str, Any] | None:
    """The Tocsin user linked to this Slack user: id, name, role."""
    row = await conn.fetchrow("SELECT id::text, name, role FROM users WHERE slack_user_id = $1", slack_user_id)
    return dict(row) if row else None


async def link_slack_user(conn: asyncpg.Connection, user_id: str, slack_user_id: str | None) -> bool:
    """Link the user to a Slack user (None: unlink); False when there is no such user. Raises
    asyncpg.UniqueViolationError when another user is linked to that Slack user."""
    status: str = await conn.execute(
        "UPDATE users SET slack_user_id = $2, updated_at = now() WHERE id = $1::uuid", user_id, slack_user_id)
    return status != "UPDATE 0"
