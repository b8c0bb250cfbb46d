"""What the audit log keeps of an object before and after a change: its row, read whole as
JSON (layers, levels and rule specs are in their rows), with the team that owns it.

Each view is one query taking the object's keys as text; the row comes back unredacted, so
its secrets are the caller's to mask (actors/domain/audit.py) before it is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
import orjson

from tocsin.actors.store.database import DATA_ERRORS

# view -> SQL selecting (the object as jsonb, its owning team as text) by the keys $1, $2...
_OF_SERVICE = "LEFT JOIN services s ON s.id = t.service_id"
VIEWS: dict[str, str] = {
    "service": "SELECT to_jsonb(t), t.team_id FROM services t WHERE t.id = $1::uuid",
    "integration": f"SELECT to_jsonb(t), COALESCE(t.team_id, s.team_id) FROM integrations t {_OF_SERVICE}"
                   " WHERE t.id = $1::uuid",
    "incident": f"SELECT to_jsonb(t), s.team_id FROM incidents t {_OF_SERVICE} WHERE t.id = $1::text::bigint",
    "user": "SELECT to_jsonb(t), NULL FROM users t WHERE t.id = $1::uuid",
    "password": "SELECT jsonb_build_object('id', t.id, 'password_set', t.password_hash IS NOT NULL), NULL"
                " FROM users t WHERE t.id = $1::uuid",
    "contact_method": "SELECT to_jsonb(t), NULL FROM contact_methods t WHERE t.id = $1::uuid",
    "push_subscription": "SELECT to_jsonb(t), NULL FROM contact_methods t WHERE t.kind = 'webpush'"
                         " AND t.address = $1",
    "notification_rule": "SELECT to_jsonb(t), NULL FROM notification_rules t WHERE t.id = $1::uuid",
    "escalation_policy": "SELECT to_jsonb(t), t.team_id FROM escalation_policies t WHERE t.id = $1::uuid",
    "schedule": "SELECT to_jsonb(t), t.team_id FROM schedules t WHERE t.id = $1::uuid",
    "override": "SELECT to_jsonb(t), s.team_id FROM schedule_overrides t JOIN schedules s ON s.id = t.schedule_id"
                " WHERE t.id = $1::uuid",
    "notification": "SELECT to_jsonb(t), s.team_id FROM notifications t LEFT JOIN incidents i ON i.id = t.incident_id"
                    " LEFT JOIN services s ON s.id = i.service_id WHERE t.id = $1::text::bigint",
    "maintenance_window": f"SELECT to_jsonb(t), s.team_id FROM maintenance_windows t {_OF_SERVICE}"
                          " WHERE t.id = $1::uuid",
    "heartbeat": f"SELECT to_jsonb(t), s.team_id FROM heartbeats t {_OF_SERVICE} WHERE t.id = $1::uuid",
    "rule": "SELECT to_jsonb(t), COALESCE(s.team_id, i.team_id) FROM rules t"
            " LEFT JOIN services s ON s.id = t.service_id LEFT JOIN integrations i ON i.id = t.integration_id"
            " WHERE t.id = $1::uuid",
    # A set's order: its rules' ids, first to last ($1 the kind, $2 the service or router, '' for inhibit).
    "rule_order": "SELECT jsonb_build_object('kind', $1::text, 'ids',"
                  " COALESCE(jsonb_agg(t.id ORDER BY t.position), '[]'::jsonb)),"
                  " (SELECT COALESCE(s.team_id, i.team_id) FROM (SELECT 1) one"
                  "  LEFT JOIN services s ON s.id = nullif($2, '')::uuid AND $1 = 'service'"
                  "  LEFT JOIN integrations i ON i.id = nullif($2, '')::uuid AND $1 = 'router')"
                  " FROM rules t WHERE t.kind = $1"
                  " AND coalesce(t.service_id, t.integration_id)::text IS NOT DISTINCT FROM nullif($2, '')",
    "configuration": "SELECT NULL::jsonb, NULL",  # no before: the plan in the after holds each old value
    "team": "SELECT to_jsonb(t), t.id FROM teams t WHERE t.id = $1::uuid",
    "team_member": "SELECT to_jsonb(t), t.team_id FROM team_members t WHERE t.team_id = $1::uuid"
                   " AND t.user_id = $2::uuid",
    "api_token": "SELECT to_jsonb(t), NULL FROM api_tokens t WHERE t.id = $1::uuid",
}


async def read(conn: asyncpg.Connection, view: str, keys: Sequence[str]) -> tuple[Any, str | None]:
    """The object `keys` name, as `view` reads it (None when there is none, or the keys
    cannot name one), and its team."""
    try:
        # A savepoint: in the request's transaction a refused key must not spoil what follows.
        async with conn.transaction():
            row = await conn.fetchrow(VIEWS[view], *keys)
    except DATA_ERRORS:  # a key of the wrong shape: the route itself refuses it
        return None, None
    if row is None or row[0] is None:
        return None, None
    return orjson.loads(row[0]), None if row[1] is None else str(row[1])
