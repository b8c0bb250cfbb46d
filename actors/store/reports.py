"""The rows an on-call health report is computed from (actors/domain/reports.py): the
incidents opened in a period, their timeline entries, the notifications of their pages that
reached someone, the routing rules their alerts matched, and the people paged.

Every query selects its incidents the same way (`_PERIOD`): opened in [start, end), of the
services given or of all, through the indexes of migration 025; then follows them by
incident id into incident_log, notifications and applied_commands through their own indexes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from tocsin.actors.domain.reports import DeliveryRow, IncidentRow, LogRow, Person, RuleMatchRow

# $1 start, $2 end, $3 the services (NULL: all).
_PERIOD = ("i.created_at >= $1 AND i.created_at < $2"
           " AND ($3::uuid[] IS NULL OR i.service_id = ANY($3::uuid[]))")

_INCIDENTS = f"""
SELECT i.id, i.service_id::text, i.dedup_key, i.summary, i.created_at, i.resolved_at, i.occurrences, i.suppressed
FROM incidents i WHERE {_PERIOD} ORDER BY i.id LIMIT $4
"""

# The entries a report reads: not the opening nor the occurrences, which can be thousands in a
# storm. A command's entry carries the command's id (applied_commands keeps every command's id,
# and retention never prunes it); an alert's carries the alert's event id, Tocsin's own none.
_LOG = f"""
SELECT l.incident_id, l.at, l.kind, (c.command_id IS NOT NULL) AS by_person
FROM incidents i
JOIN incident_log l ON l.incident_id = i.id
LEFT JOIN applied_commands c ON c.command_id = l.input_id
WHERE {_PERIOD} AND l.kind NOT IN ('triggered', 'occurrence', 'occurrences')
ORDER BY l.incident_id, l.id
"""

# A page's notification reached its person when it was sent, or went out inside a bundle that
# was sent (then at the bundle's time).
_DELIVERIES = f"""
SELECT n.incident_id, n.page, n.user_id::text, coalesce(b.sent_at, n.sent_at) AS sent_at
FROM incidents i
JOIN notifications n ON n.incident_id = i.id
LEFT JOIN notifications b ON b.id = n.bundled_into AND n.status = 'bundled' AND b.status = 'sent'
WHERE {_PERIOD} AND n.kind IN ('page', 'bundle') AND n.page IS NOT NULL
  AND (n.status = 'sent' OR b.id IS NOT NULL)
"""

_RULE_MATCHES = f"""
SELECT l.incident_id, r.rule_id, sum(coalesce(l.alerts, 1))::int AS alerts
FROM incidents i
JOIN incident_log l ON l.incident_id = i.id
CROSS JOIN LATERAL jsonb_array_elements_text(l.rules) AS r (rule_id)
WHERE {_PERIOD} AND l.rules IS NOT NULL AND jsonb_typeof(l.rules) = 'array'
GROUP BY l.incident_id, r.rule_id
"""


async def incidents(conn: asyncpg.Connection, start: datetime, end: datetime, services: Sequence[str] | None,
                    limit: int) -> list[IncidentRow]:
    """The incidents opened in [start, end), at most `limit` of them (oldest first)."""
    rows = await conn.fetch(_INCIDENTS, start, end, _ids(services), limit)
    return [IncidentRow(**row) for row in rows]


async def log_entries(conn: asyncpg.Connection, start: datetime, end: datetime,
                      services: Sequence[str] | None) -> list[LogRow]:
    rows = await conn.fetch(_LOG, start, end, _ids(services))
    return [LogRow(**row) for row in rows]


async def deliveries(conn: asyncpg.Connection, start: datetime, end: datetime,
                     services: Sequence[str] | None) -> list[DeliveryRow]:
    rows = await conn.fetch(_DELIVERIES, start, end, _ids(services))
    return [DeliveryRow(**row) for row in rows]


async def rule_matches(conn: asyncpg.Connection, start: datetime, end: datetime,
                       services: Sequence[str] | None) -> list[RuleMatchRow]:
    rows = await conn.fetch(_RULE_MATCHES, start, end, _ids(services))
    return [RuleMatchRow(**row) for row in rows]


async def people(conn: asyncpg.Connection, user_ids: Sequence[str]) -> list[Person]:
    rows = await conn.fetch("SELECT id::text, name, time_zone FROM users WHERE id = ANY($1::uuid[])", list(user_ids))
    return [Person(**row) for row in rows]


async def service_names(conn: asyncpg.Connection, service_ids: Sequence[str]) -> dict[str, str]:
    rows = await conn.fetch("SELECT id::text, name FROM services WHERE id = ANY($1::uuid[])", list(service_ids))
    return {row["id"]: row["name"] for row in rows}


async def rule_names(conn: asyncpg.Connection, rule_ids: Sequence[str]) -> dict[str, str]:
    """Each rule's name, a deleted rule's as it last was."""
    rows = await conn.fetch(
        "SELECT DISTINCT ON (rule_id) rule_id::text AS id, coalesce(spec->>'name', '') AS name FROM rule_versions"
        " WHERE rule_id = ANY($1::uuid[]) ORDER BY rule_id, version DESC",
        [rule for rule in rule_ids if _is_uuid(rule)],
    )
    return {row["id"]: row["name"] for row in rows}


async def service_exists(conn: asyncpg.Connection, service_id: str) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT FROM services WHERE id = $1::uuid)", service_id))


async def services_of_team(conn: asyncpg.Connection, team_id: str) -> list[str] | None:
    """The services a team owns; None when there is no such team."""
    found = await conn.fetchrow(
        "SELECT array(SELECT s.id::text FROM services s WHERE s.team_id = t.id ORDER BY s.id) AS services"
        " FROM teams t WHERE t.id = $1::uuid", team_id)
    return list(found["services"]) if found else None


def _ids(services: Sequence[str] | None) -> list[str] | None:
    return None if services is None else list(services)


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
