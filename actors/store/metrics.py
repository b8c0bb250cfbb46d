"""The figures `/metrics` reads from Postgres: each an index scan or a small table."""

from __future__ import annotations

import asyncpg

INCIDENT_STATES = ("triggered", "acknowledged", "resolved")


async def incidents_by_status(conn: asyncpg.Connection) -> dict[str, int]:
    rows = await conn.fetch("SELECT status, count(*) AS n FROM incidents GROUP BY status")
    return {**dict.fromkeys(INCIDENT_STATES, 0), **{r["status"]: r["n"] for r in rows}}


async def integration_types(conn: asyncpg.Connection) -> dict[str, str]:
    rows = await conn.fetch("SELECT id::text, type FROM integrations")
    return {r["id"]: r["type"] for r in rows}
