"""The notification outbox as its senders see it: claim what is due, record how it went.

Rows are claimed with FOR UPDATE SKIP LOCKED, so any number of senders share the work
without sending a row twice; a claim is a lease, and a row whose sender died while it was
"sending" is claimable again once the lease has run out (at least once, never dropped).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

_CLAIM = """
WITH due AS (
    SELECT id FROM notifications
    WHERE channel = $1 AND send_at <= $2
      AND (status = 'pending' OR (status = 'sending' AND claimed_until < $2))
    ORDER BY send_at, id
    LIMIT $3
    FOR UPDATE SKIP LOCKED
)
UPDATE notifications AS n
SET status = 'sending', attempts = n.attempts + 1, claimed_until = $2 + make_interval(secs => $4),
    updated_at = $2
FROM due WHERE n.id = due.id
RETURNING n.id, n.incident_id, n.service_id::text, n.page, n.level, n.pass, n.user_id::text,
          n.contact_method_id::text, n.channel, n.urgency, n.message, n.send_at, n.attempts
"""


async def claim_due(
    conn: asyncpg.Connection, channel: str, now: datetime, limit: int = 100, lease_s: float = 60.0
) -> list[dict[str, Any]]:
    """Claim up to `limit` rows of `channel` due by `now`, for `lease_s` seconds."""
    rows = await conn.fetch(_CLAIM, channel, now, limit, lease_s)
    return sorted((dict(r) for r in rows), key=lambda r: (r["send_at"], r["id"]))


async def mark_sent(conn: asyncpg.Connection, ids: Sequence[int], now: datetime) -> None:
    await conn.execute(
        "UPDATE notifications SET status = 'sent', sent_at = $2, updated_at = $2, claimed_until = NULL"
        " WHERE id = ANY($1::bigint[]) AND status = 'sending'",
        list(ids), now,
    )
