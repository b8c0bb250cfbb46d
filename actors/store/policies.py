"""Escalation policies: levels of targets to page, stored as one JSON document.

The `version` column grows with every update (a trigger in 002_paging.sql), as does the
paging epoch, so the shards see a change at their next page.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Literal

import asyncpg
import orjson

from tocsin.actors.store.rows import delete_one

_POLICY = "id::text, name, team_id::text, description, repeat, levels, version, created_at, updated_at"


def _decoded(row: asyncpg.Record) -> dict[str, Any]:
    return {**dict(row), "levels": orjson.loads(row["levels"])}


async def create_policy(
    conn: asyncpg.Connection, name: str, description: str, repeat: int, levels: Sequence[Mapping[str, Any]],
    team_id: str | None = None,
) -> dict[str, Any]:
    """Raises asyncpg.ForeignKeyViolationError when the team does not exist."""
    row = await conn.fetchrow(
        "INSERT INTO escalation_policies (id, name, description, repeat, levels, team_id)"
        f" VALUES ($1, $2, $3, $4, $5::jsonb, $6::uuid) RETURNING {_POLICY}",
        str(uuid.uuid4()), name, description, repeat, orjson.dumps(levels).decode(), team_id,
    )
    return _decoded(row)


async def list_policies(conn: asyncpg.Connection, teams: Collection[str] | None = None) -> list[dict[str, Any]]:
    """Every policy, or those the `teams` own."""
    rows = await conn.fetch(f"SELECT {_POLICY} FROM escalation_policies"
                            " WHERE $1::uuid[] IS NULL OR team_id = ANY($1::uuid[]) ORDER BY name, id",
                            None if teams is None else list(teams))
    return [_decoded(r) for r in rows]


async def get_policy(conn: asyncpg.Connection, policy_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {_POLICY} FROM escalation_policies WHERE id = $1::uuid", policy_id)
    return _decoded(row) if row else None


async def replace_policy(
    conn: asyncpg.Connection, policy_id: str, name: str, description: str, repeat: int,
    levels: Sequence[Mapping[str, Any]], team: tuple[str | None] | None = None,
) -> dict[str, Any] | None:
    """Replace the policy; its team too when `team` holds one (None in it: no team)."""
    row = await conn.fetchrow(
        "UPDATE escalation_policies SET name = $2, description = $3, repeat = $4, levels = $5::jsonb,"
        " team_id = CASE WHEN $6 THEN $7::uuid ELSE team_id END"
        f" WHERE id = $1::uuid RETURNING {_POLICY}",
        policy_id, name, description, repeat, orjson.dumps(levels).decode(), team is not None,
        team[0] if team is not None else None,
    )
    return _decoded(row) if row else None


async def delete_policy(conn: asyncpg.Connection, policy_id: str) -> bool:
    """Raises asyncpg.ForeignKeyViolationError while a service points at the policy."""
    # A savepoint within the caller's transaction: after a refusal it may still ask why.
    async with conn.transaction():
        return await delete_one(conn, "DELETE FROM escalation_policies WHERE id = $1::uuid", policy_id)


async def services_using(conn: asyncpg.Connection, policy_id: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT name FROM services WHERE escalation_policy_id = $1::uuid ORDER BY name, id", policy_id
    )
    return [r["name"] for r in rows]


async def missing(conn: asyncpg.Connection, table: Literal["users", "schedules"], ids: Collection[str]) -> set[str]:
    """Those of `ids` with no row in `table`."""
    if not ids:
        return set()
    rows = await conn.fetch(
        f"SELECT t.id::text FROM unnest($1::uuid[]) AS t (id)"
        f" WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE {table}.id = t.id)",
        list(ids),
    )
    return {r["id"] for r in rows}
