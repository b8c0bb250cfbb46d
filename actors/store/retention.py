"""Pruning what is kept only for a while: raw alerts (the bulk of a storm's data), the
outcomes of asynchronous source requests, the ids of Twilio requests and push actions acted
on, and the tokens of page e-mails' reply addresses. Incidents and their log are kept."""

from __future__ import annotations

from datetime import datetime

import asyncpg

# Any constant works; it only has to be the same for every process that prunes.
LOCK_KEY = 0x70C5_1B


async def prune(conn: asyncpg.Connection, before: datetime, batch: int = 10_000) -> int:
    """Delete raw alerts, source requests, Twilio request ids, push actions and e-mail reply tokens from before `before`, a
    batch per statement so no transaction grows with the backlog; the number of rows deleted.
    Only one process prunes at a time (an advisory lock); the others return 0 at once."""
    if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY):
        return 0
    try:
        deleted = 0
        for table, key, since in (("alerts", "event_id", "received_at"), ("source_requests", "id", "received_at"),
                                  ("twilio_requests", "id", "received_at"), ("push_actions", "id", "received_at"),
                                  ("email_replies", "token_hash", "created_at")):
            while True:
                status: str = await conn.execute(
                    f"DELETE FROM {table} WHERE {key} IN"
                    f" (SELECT {key} FROM {table} WHERE {since} < $1 LIMIT $2)",
                    before, batch,
                )
                count = int(status.split()[-1])
                deleted += count
                if count < batch:
                    break
        return deleted
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
