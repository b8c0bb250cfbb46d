"""Teams, their members with a role each, and which team owns a given object.

Who may do what with them is actors/domain/accounts/access.py; this module only stores.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any, Literal

import asyncpg
import orjson

from tocsin.actors.store.rows import delete_one, one

_TEAM = ("t.id::text, t.name, t.created_at,"
         " (SELECT count(*) FROM team_members m WHERE m.team_id = t.id)::int AS member_count")

# A column for a query over users `u`: the user's team roles as JSON text, {team id: role}.
MEMBERSHIPS = ("(SELECT coalesce(jsonb_object_agg(m.team_id::text, m.role), '{}'::jsonb)::text"
               " FROM team_members m WHERE m.user_id = u.id) AS teams")

Owned = Literal["service", "schedule", "escalation policy", "router integration", "heartbeat",
                "maintenance window", "rule", "team"]

# How to find each kind's team: the row's own team_id, or its service's.
_OWNER_QUERY: dict[Owned, str] = {
    "service": "SELECT team_id::text FROM services WHERE id = $1::uuid",
    "schedule": "SELECT team_id::text FROM schedules WHERE id = $1::uuid",
    "escalation policy": "SELECT team_id::text FROM escalation_policies WHERE id = $1::uuid",
    "router integration": "SELECT team_id::text FROM integrations WHERE id = $1::uuid AND type = 'router'",
    "heartbeat": "SELECT s.team_id::text FROM heartbeats h JOIN services s ON s.id = h.service_id"
                 " WHERE h.id = $1::uuid",
    "maintenance window": "SELECT s.team_id::text FROM maintenance_windows w JOIN services s ON s.id = w.service_id"
                          " WHERE w.id = $1::uuid",
    # A service's rules are its team's, a router's routes the router's; inhibit rules no team's.
    "rule": "SELECT coalesce(s.team_id, i.team_id)::text FROM rules r LEFT JOIN services s ON s.id = r.service_id"
            " LEFT JOIN integrations i ON i.id = r.integration_id WHERE r.id = $1::uuid",
    "team": "SELECT id::text FROM teams WHERE id = $1::uuid",  # a team's name and members are its own
}


def team_roles(text: str | None) -> dict[str, str]:
    """The MEMBERSHIPS column decoded."""
    return dict(orjson.loads(text)) if text else {}


async def create_team(conn: asyncpg.Connection, name: str) -> dict[str, Any]:
    """Raises asyncpg.UniqueViolationError when a team has that name (in any case)."""
    team_id = await conn.fetchval("INSERT INTO teams (id, name) VALUES ($1, $2) RETURNING id::text",
                                  str(uuid.uuid4()), name)
    team = await get_team(conn, team_id)
    assert team is not None
    return team


async def list_teams(conn: asyncpg.Connection, only: Collection[str] | None = None) -> list[dict[str, Any]]:
    """Every team by name, or those of `only`."""
    if only is None:
        rows = await conn.fetch(f"SELECT {_TEAM} FROM teams t ORDER BY lower(t.name), t.id")
    else:
        rows = await conn.fetch(f"SELECT {_TEAM} FROM teams t WHERE t.id = ANY($1::uuid[])"
                                " ORDER BY lower(t.name), t.id", list(only))
    return [dict(r) for r in rows]


async def get_team(conn: asyncpg.Connection, team_id: str) -> dict[str, Any] | None:
    return one(await conn.fetchrow(f"SELECT {_TEAM} FROM teams t WHERE t.id = $1::uuid", team_id))


async def rename_team(conn: asyncpg.Connection, team_id: str, name: str) -> dict[str, Any] | None:
    """Raises asyncpg.UniqueViolationError when another team has that name."""
    if await conn.fetchval("UPDATE teams SET name = $2 WHERE id = $1::uuid RETURNING true", team_id, name):
        return await get_team(conn, team_id)
    return None


async def delete_team(conn: asyncpg.Connection, team_id: str) -> bool:
    """Raises asyncpg.ForeignKeyViolationError while the team owns anything."""
    # A savepoint within the caller's transaction: after a refusal it may still ask why.
    async with conn.transaction():
        return await delete_one(conn, "DELETE FROM teams WHERE id = $1::uuid", team_id)


async def owned_by(conn: asyncpg.Connection, team_id: str) -> list[str]:
    """What the team owns, as "service checkout" and the like, for a refusal to say."""
    rows = await conn.fetch(
        "SELECT 'service ' || name AS what FROM services WHERE team_id = $1::uuid"
        " UNION ALL SELECT 'schedule ' || name FROM schedules WHERE team_id = $1::uuid"
        " UNION ALL SELECT 'escalation policy ' || name FROM escalation_policies WHERE team_id = $1::uuid"
        " UNION ALL SELECT 'router integration ' || name FROM integrations WHERE team_id = $1::uuid",
        team_id,
    )
    return [r["what"] for r in rows]


async def members(conn: asyncpg.Connection, team_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT u.id::text AS user_id, u.name, u.email, m.role FROM team_members m JOIN users u ON u.id = m.user_id"
        " WHERE m.team_id = $1::uuid ORDER BY lower(u.name), u.id",
        team_id,
    )
    return [dict(r) for r in rows]


async def set_member(conn: asyncpg.Connection, team_id: str, user_id: str, role: str) -> None:
    """Add the user with `role`, or give them `role`. Raises asyncpg.ForeignKeyViolationError
    when there is no such user (or team)."""
    await conn.execute(
        "INSERT INTO team_members (team_id, user_id, role) VALUES ($1::uuid, $2::uuid, $3)"
        " ON CONFLICT (team_id, user_id) DO UPDATE SET role = excluded.role",
        team_id, user_id, role,
    )


async def remove_member(conn: asyncpg.Connection, team_id: str, user_id: str) -> bool:
    return await delete_one(conn, "DELETE FROM team_members WHERE team_id = $1::uuid AND user_id = $2::uuid",
                            team_id, user_id)


async def roles_of(conn: asyncpg.Connection, user_id: str) -> dict[str, str]:
    """{team id: role} of the user's teams."""
    rows = await conn.fetch("SELECT team_id::text, role FROM team_members WHERE user_id = $1::uuid", user_id)
    return {r["team_id"]: r["role"] for r in rows}


async def owner_team(conn: asyncpg.Connection, kind: Owned, object_id: str) -> tuple[bool, str | None]:
    """Whether the object exists, and its team (None: no team)."""
    row = await conn.fetchrow(_OWNER_QUERY[kind], object_id)
    return (row is not None, row[0] if row is not None else None)


async def incident_team(conn: asyncpg.Connection, incident_id: int) -> tuple[bool, str | None]:
    """Whether the incident exists, and the team of its service."""
    row = await conn.fetchrow("SELECT s.team_id::text FROM incidents i JOIN services s ON s.id = i.service_id"
                              " WHERE i.id = $1", incident_id)
    return (row is not None, row[0] if row is not None else None)


async def services_of(conn: asyncpg.Connection, team_ids: Collection[str]) -> set[str]:
    """The ids of the services the teams own."""
    rows = await conn.fetch("SELECT id::text FROM services WHERE team_id = ANY($1::uuid[])", list(team_ids))
    return {r["id"] for r in rows}
