"""Login sessions, found by the digest of the cookie's value (the value itself is never
stored), with the user they belong to as the users table has them now: a changed role
takes effect at the next request."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from tocsin.actors.store.rows import delete_one, one
from tocsin.actors.store.teams import MEMBERSHIPS


async def create(
    conn: asyncpg.Connection, id_hash: str, user_id: str, csrf_token: str, now: datetime, expires_at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, expires_at)"
        " VALUES ($1, $2::uuid, $3, $4, $4, $5)",
        id_hash, user_id, csrf_token, now, expires_at,
    )


async def find(conn: asyncpg.Connection, id_hash: str) -> dict[str, Any] | None:
    """The session with its user's id, name, e-mail, role and team roles (`teams`, JSON text);
    None when there is none."""
    return one(await conn.fetchrow(
        "SELECT s.csrf_token, s.last_seen_at, s.expires_at,"
        f" u.id::text AS user_id, u.name, u.email, u.role, {MEMBERSHIPS}"
        " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1",
        id_hash,
    ))


async def touch(conn: asyncpg.Connection, id_hash: str, now: datetime) -> None:
    await conn.execute("UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1", id_hash, now)


async def delete(conn: asyncpg.Connection, id_hash: str) -> bool:
    return await delete_one(conn, "DELETE FROM sessions WHERE id_hash = $1", id_hash)


async def end_for_user(conn: asyncpg.Connection, user_id: str, keep_id_hash: str | None = None) -> None:
    """End the user's sessions but `keep_id_hash` (after a password change, say)."""
    await conn.execute(
        "DELETE FROM sessions WHERE user_id = $1::uuid AND id_hash IS DISTINCT FROM $2", user_id, keep_id_hash
    )


async def prune(conn: asyncpg.Connection, now: datetime, idle_since: datetime) -> None:
    """Drop sessions that have ended: past their absolute expiry, or idle since before `idle_since`."""
    await conn.execute("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2", now, idle_since)
