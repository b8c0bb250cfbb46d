"""A contact method's verification code: the stored hash and the message that carries the code;
and the codes sent and wrong codes typed, counted per user and per destination.

Callers hold the contact method's row lock (`lock`) for the whole transaction, so two
requests for a code, or two guesses, are applied one after the other; and `hold_counts`
for the counts they read and add to, so that requests on different contact methods of one
user, or to one destination, count one after the other.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from tocsin.actors.store.rows import one

_LOCK = """
SELECT id::text, user_id::text, kind, address, verification_code_hash, verification_sent_at,
       verification_expires_at, verification_failures
FROM contact_methods WHERE id = $1::uuid AND user_id = $2::uuid
FOR UPDATE
"""

# The code goes out like any notification: the channel actors claim it from the outbox.
_SEND = """
INSERT INTO notifications (kind, user_id, contact_method_id, channel, delay_minutes, urgency, message,
                           send_at, status, created_at, updated_at)
VALUES ('verification', $1::uuid, $2::uuid, $3, 0, 'high', $4, $5, 'pending', $5, $5)
"""


async def lock(conn: asyncpg.Connection, user_id: str, method_id: str) -> dict[str, Any] | None:
    """The user's contact method and its outstanding code, locked until the transaction ends."""
    return one(await conn.fetchrow(_LOCK, method_id, user_id))


async def send_code(
    conn: asyncpg.Connection, method: dict[str, Any], code_hash: str, message: str, now: datetime,
    expires_at: datetime,
) -> None:
    """Replace the method's code with `code_hash` and queue `message` to it. A previous code
    still waiting in the outbox is cancelled: it could no longer be used."""
    await conn.execute(
        "UPDATE contact_methods SET verification_code_hash = $2, verification_sent_at = $3,"
        " verification_expires_at = $4, verification_failures = 0 WHERE id = $1::uuid",
        method["id"], code_hash, now, expires_at,
    )
    await conn.execute(
        "UPDATE notifications SET status = 'cancelled', updated_at = $2"
        " WHERE contact_method_id = $1::uuid AND kind = 'verification' AND status = 'pending'",
        method["id"], now,
    )
    await conn.execute(_SEND, method["user_id"], method["id"], method["kind"], message, now)


async def count_failure(conn: asyncpg.Connection, method_id: str) -> int:
    """One more wrong code; the failures so far."""
    failures: int = await conn.fetchval(
        "UPDATE contact_methods SET verification_failures = verification_failures + 1"
        " WHERE id = $1::uuid RETURNING verification_failures",
        method_id,
    )
    return failures


async def hold_counts(conn: asyncpg.Connection, user_id: str, destination: str | None = None) -> None:
    """Lock the user's counts (and the destination's) until the transaction ends. Always the
    user's first, after the contact method's row: one order, so no two requests deadlock."""
    for key in (f"user:{user_id}", *((f"destination:{destination}",) if destination is not None else ())):
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"tocsin.verification.{key}")


async def sends_since(
    conn: asyncpg.Connection, user_id: str, destination: str, start: datetime
) -> tuple[list[datetime], list[datetime]]:
    """The times of the codes sent after `start`: for the user, and to the destination."""
    rows = await conn.fetch(
        "SELECT 'user' AS what, at FROM verification_events WHERE user_id = $1::uuid AND kind = 'sent' AND at > $3"
        " UNION ALL SELECT 'destination', at FROM verification_events"
        " WHERE destination = $2 AND kind = 'sent' AND at > $3",
        user_id, destination, start,
    )
    return [r["at"] for r in rows if r["what"] == "user"], [r["at"] for r in rows if r["what"] == "destination"]


async def wrong_codes_since(conn: asyncpg.Connection, user_id: str, start: datetime) -> list[datetime]:
    """The times of the wrong codes the user typed after `start`, on any contact method."""
    rows = await conn.fetch(
        "SELECT at FROM verification_events WHERE user_id = $1::uuid AND kind = 'wrong_code' AND at > $2",
        user_id, start,
    )
    return [r["at"] for r in rows]


async def record(conn: asyncpg.Connection, kind: str, user_id: str, destination: str | None, at: datetime,
                 prune_before: datetime) -> None:
    """Count a code sent ("sent") or a wrong code ("wrong_code"); rows that left every window
    go at the same time, so the table stays small."""
    # Rows another request is pruning are left to it: no waiting on each other.
    await conn.execute("DELETE FROM verification_events WHERE id IN (SELECT id FROM verification_events"
                       " WHERE at <= $1 FOR UPDATE SKIP LOCKED)", prune_before)
    await conn.execute(
        "INSERT INTO verification_events (kind, user_id, destination, at) VALUES ($1, $2::uuid, $3, $4)",
        kind, user_id, destination, at,
    )
