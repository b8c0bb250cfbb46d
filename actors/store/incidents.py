"""Reads of incidents and their timelines for the API (the shard does all the writes)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import asyncpg
import orjson

_COLUMNS = (
    "id, service_id::text, dedup_key, status, summary, severity, source, occurrences, created_at,"
    " updated_at, last_occurrence_at, acknowledged_at, resolved_at, urgency, escalation_policy_id::text,"
    " assigned_user_id::text, escalation_level + 1 AS escalation_level, next_escalation_at, snoozed_until,"
    " auto_resolve_at, suppressed, paused_until, priority, tags::text"
)
# The payload as the source sent it, with the details routing rules added over its own keys.
_DETAILS = (
    "(CASE WHEN jsonb_typeof(details) = 'object' THEN details || rule_details ELSE details END)::text"
    " AS details"
)


async def list_incidents(
    conn: asyncpg.Connection,
    *,
    statuses: list[str] | None,
    service_id: str | None,
    before_id: int | None,
    limit: int,
    suppressed: bool | None = None,
    teams: Collection[str] | None = None,
) -> list[dict[str, Any]]:
    """Newest first; ids grow with commit order, so `before_id` is a stable cursor.
    `suppressed`: only the suppressed incidents (True) or only the others (False);
    `teams`: only those of the services these teams own."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM incidents"
        " WHERE ($1::text[] IS NULL OR status = ANY($1::text[]))"
        " AND ($2::uuid IS NULL OR service_id = $2::uuid)"
        " AND ($3::bigint IS NULL OR id < $3::bigint)"
        " AND ($5::boolean IS NULL OR suppressed = $5::boolean)"
        " AND ($6::uuid[] IS NULL OR service_id IN (SELECT id FROM services WHERE team_id = ANY($6::uuid[])))"
        " ORDER BY id DESC LIMIT $4",
        statuses, service_id, before_id, limit, suppressed, None if teams is None else list(teams),
    )
    return [_incident(r) for r in rows]


async def get_incident(conn: asyncpg.Connection, incident_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS}, {_DETAILS} FROM incidents WHERE id = $1", incident_id)
    return _incident(row) if row else None


async def timeline(conn: asyncpg.Connection, incident_id: int, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT at, kind, actor, message, coalesce(rules, '[]')::text AS rules, rule_effect,"
        " coalesce(alerts, 1) AS alerts FROM incident_log"
        " WHERE incident_id = $1 ORDER BY id LIMIT $2",
        incident_id, limit,
    )
    return [{**r, "rules": orjson.loads(r["rules"])} for r in rows]


def _incident(row: asyncpg.Record) -> dict[str, Any]:
    return {**row, "tags": orjson.loads(row["tags"])}


async def service_of(conn: asyncpg.Connection, incident_id: int) -> str | None:
    service_id: str | None = await conn.fetchval("SELECT service_id::text FROM incidents WHERE id = $1", incident_id)
    return service_id


async def notifications(conn: asyncpg.Connection, incident_id: int) -> list[dict[str, Any]]:
    """The incident's outbox rows: whom each page notified, how, when, and what became of it."""
    rows = await conn.fetch(
        "SELECT n.id, n.page, n.level + 1 AS level, n.pass, n.user_id::text, u.name AS user_name,"
        " n.contact_method_id::text, n.channel, n.delay_minutes, n.send_at, n.status, n.attempts,"
        " n.sent_at, n.last_error, n.created_at"
        " FROM notifications n LEFT JOIN users u ON u.id = n.user_id"
        " WHERE n.incident_id = $1 ORDER BY n.page, n.send_at, n.id",
        incident_id,
    )
    return [dict(r) for r in rows]


async def open_services_by_key(conn: asyncpg.Connection, integration_id: str, dedup_keys: list[str]
                               ) -> dict[str, str]:
    """dedup key → service of the open incident that alerts through `integration_id` opened
    under that key (a router's alerts may have opened incidents of several services under one
    key: then any one of them)."""
    rows = await conn.fetch(
        "SELECT DISTINCT ON (dedup_key) dedup_key, service_id::text FROM incidents"
        " WHERE integration_id = $1::uuid AND dedup_key = ANY($2::text[]) AND status <> 'resolved'"
        " AND integration_id IS NOT NULL ORDER BY dedup_key, id DESC",
        integration_id, dedup_keys)
    return {row["dedup_key"]: row["service_id"] for row in rows}


# The alert each open incident was opened by, as routing rules see an alert: its wire format
# (a router integration's is in its options) and the payload as the source sent it.
_OPEN_SOURCES = """
SELECT i.id, i.summary, i.severity, i.source, i.dedup_key, i.details::text AS payload,
       CASE WHEN g.type = 'router' THEN g.config->>'format' ELSE g.type END AS format
FROM incidents i JOIN integrations g ON g.id = i.integration_id
WHERE i.status IN ('triggered', 'acknowledged') AND ($1::bigint[] IS NULL OR i.id = ANY($1::bigint[]))
"""


async def open_sources(conn: asyncpg.Connection, incident_ids: list[int] | None = None) -> list[asyncpg.Record]:
    """The open incidents (all, or those of `incident_ids` still open) with the format and
    payload of the alert that opened each; those opened by no integration (a heartbeat's)
    are left out."""
    rows: list[asyncpg.Record] = await conn.fetch(_OPEN_SOURCES, incident_ids)
    return rows
