"""A contact method's verification code: the stored hash and the message that carries the code.

Callers hold the contact method's row lock (`lock`) for the whole transaction, so two
requests for a code, or two guesses, are applied one after the other.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from actors.store.rows import one

_LOCK = """
SELECT id::text, user_id::text, kind, verification_code_hash, verification_sent_at,
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
