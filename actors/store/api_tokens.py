"""Personal API tokens, found by the digest of the token (the token itself is shown once, at
creation, and never stored). A token acts with its owner's role as it is now, narrowed to
one team and a role there when it was made so (`team_id`, `team_role`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from tocsin.actors.store.rows import one
from tocsin.actors.store.teams import MEMBERSHIPS

_TOKEN = "id::text, name, prefix, created_at, last_used_at, expires_at, team_id::text, team_role"


async def create(
    conn: asyncpg.Connection, user_id: str, name: str, prefix: str, token_hash: str, now: datetime,
    expires_at: datetime | None = None, team_id: str | None = None, team_role: str | None = None,
) -> dict[str, Any]:
    """Raises asyncpg.ForeignKeyViolationError when `team_id` is no team's."""
    row = await conn.fetchrow(
        "INSERT INTO api_tokens (id, user_id, name, prefix, token_hash, created_at, expires_at, team_id, team_role)"
        f" VALUES ($1, $2::uuid, $3, $4, $5, $6, $7, $8::uuid, $9) RETURNING {_TOKEN}",
        str(uuid.uuid4()), user_id, name, prefix, token_hash, now, expires_at, team_id, team_role,
    )
    return dict(row)


async def find(conn: asyncpg.Connection, token_hash: str) -> dict[str, Any] | None:
    """The token, unless revoked, with its expiry, its team limit and its owner's id, name,
    role and team roles."""
    return one(await conn.fetchrow(
        "SELECT t.id::text AS token_id, t.last_used_at, t.expires_at, t.team_id::text AS limit_team,"
        f" t.team_role AS limit_role, u.id::text AS user_id, u.name, u.role, {MEMBERSHIPS}"
        " FROM api_tokens t JOIN users u ON u.id = t.user_id"
        " WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
        token_hash,
    ))


async def touch(conn: asyncpg.Connection, token_id: str, now: datetime) -> None:
    await conn.execute("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1::uuid", token_id, now)


async def list_live(conn: asyncpg.Connection, user_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {_TOKEN} FROM api_tokens WHERE user_id = $1::uuid AND revoked_at IS NULL"
        " ORDER BY created_at, id",
        user_id,
    )
    return [dict(r) for r in rows]


async def revoke(conn: asyncpg.Connection, user_id: str, token_id: str, now: datetime) -> bool:
    """Whether the user had such a live token. The row stays, revoked, for the record."""
    status: str = await conn.execute(
        "UPDATE api_tokens SET revoked_at = $3 WHERE id = $1::uuid AND user_id = $2::uuid AND revoked_at IS NULL",
        token_id, user_id, now,
    )
    return status == "UPDATE 1"
