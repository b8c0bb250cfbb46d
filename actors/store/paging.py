"""What a shard reads to page people: service settings, escalation policies, schedules and
people with their contact methods and notification rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import orjson

from tocsin.actors.domain.definitions import policy_from_json, schedule_from_json
from tocsin.actors.domain.escalation_state import Policy
from tocsin.actors.domain.events import Urgency
from tocsin.actors.domain.incident_escalation import ServiceConfig
from tocsin.actors.domain.paging import ContactMethod, Person, Rule
from tocsin.actors.domain.schedule import Schedule


@dataclass(frozen=True, slots=True)
class StoredSchedule:
    name: str
    version: int
    schedule: Schedule


async def epoch(conn: asyncpg.Connection) -> int:
    """Grows with every change to users, contact methods, rules, schedules, overrides,
    policies or services (triggers in the schema)."""
    value: int = await conn.fetchval("SELECT epoch FROM paging_config")
    return value


async def service_configs(
    conn: asyncpg.Connection, service_ids: Sequence[str], now: datetime
) -> dict[str, ServiceConfig]:
    """Each service's paging settings, with its maintenance windows not yet ended by `now`."""
    rows = await conn.fetch(
        "SELECT s.id::text, s.escalation_policy_id::text, s.urgency, s.name, s.auto_resolve_minutes,"
        " s.max_unacknowledged,"
        " coalesce((SELECT array_agg(ARRAY[m.starts_at, m.ends_at]) FROM maintenance_windows m"
        "           WHERE m.service_id = s.id AND m.ends_at > $2), '{}') AS maintenance"
        " FROM services s WHERE s.id = ANY($1::uuid[])",
        list(service_ids), now,
    )
    found = {
        r["id"]: ServiceConfig(
            r["escalation_policy_id"], r["urgency"], r["name"], tuple((w[0], w[1]) for w in r["maintenance"]),
            r["auto_resolve_minutes"], r["max_unacknowledged"],
        )
        for r in rows
    }
    return {sid: found.get(sid, ServiceConfig()) for sid in service_ids}  # a deleted service pages nobody


async def policies(conn: asyncpg.Connection, policy_ids: Sequence[str]) -> dict[str, Policy]:
    rows = await conn.fetch(
        "SELECT id::text, levels::text, repeat FROM escalation_policies WHERE id = ANY($1::uuid[])",
        list(policy_ids),
    )
    return {r["id"]: policy_from_json(orjson.loads(r["levels"]), r["repeat"]) for r in rows}


async def schedules(
    conn: asyncpg.Connection, schedule_ids: Sequence[str], not_ended_by: datetime
) -> dict[str, StoredSchedule]:
    """The schedules with their overrides still to come (oldest first: a later one wins)."""
    rows = await conn.fetch(
        "SELECT id::text, name, time_zone, layers::text, version FROM schedules WHERE id = ANY($1::uuid[])",
        list(schedule_ids),
    )
    overrides = await conn.fetch(
        "SELECT schedule_id::text, user_id::text, start_at, end_at FROM schedule_overrides"
        " WHERE schedule_id = ANY($1::uuid[]) AND end_at > $2 ORDER BY created_at, id",
        list(schedule_ids), not_ended_by,
    )
    by_schedule: dict[str, list[tuple[str, datetime, datetime]]] = {r["id"]: [] for r in rows}
    for o in overrides:
        by_schedule[o["schedule_id"]].append((o["user_id"], o["start_at"], o["end_at"]))
    found = {}
    for r in rows:
        schedule = schedule_from_json(r["time_zone"], orjson.loads(r["layers"]), by_schedule[r["id"]])
        found[r["id"]] = StoredSchedule(r["name"], r["version"], schedule)
    return found


# A contact method switched off (STOP) counts as unverified: it is not paged.
_PEOPLE = """
SELECT u.id::text, u.name,
    coalesce((SELECT json_agg(json_build_object('id', c.id, 'channel', c.kind, 'verified', c.verified AND c.enabled))
              FROM contact_methods c WHERE c.user_id = u.id), '[]')::text AS methods,
    coalesce((SELECT json_agg(json_build_object('id', r.id, 'method', r.contact_method_id,
                                                'urgency', r.urgency, 'delay', r.delay_minutes))
              FROM notification_rules r WHERE r.user_id = u.id), '[]')::text AS rules
FROM users u WHERE u.id = ANY($1::uuid[])
"""


async def people(conn: asyncpg.Connection, user_ids: Sequence[str]) -> dict[str, Person]:
    found = {}
    for r in await conn.fetch(_PEOPLE, list(user_ids)):
        methods = tuple(ContactMethod(m["id"], m["channel"], m["verified"]) for m in orjson.loads(r["methods"]))
        rules = tuple(
            Rule(x["id"], x["method"], Urgency(x["urgency"]), x["delay"]) for x in orjson.loads(r["rules"])
        )
        found[r["id"]] = Person(r["id"], r["name"], methods, rules)
    return found
