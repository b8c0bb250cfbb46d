"""The shard's writes: one statement per batch, and the reads that activate a service.

Everything a batch changed goes in as arrays unnested by one statement, so a batch costs
one round trip (two when it opens incidents) whatever its size.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import asyncpg

from actors.domain.dedupe import Plan
from actors.domain.events import AlertEvent, IncidentCommand, Severity, Status
from actors.domain.incident import Incident



async def load_open(conn: asyncpg.Connection, service_ids: Sequence[str]) -> dict[str, list[Incident]]:
    """The open incidents of these services, to activate them in a shard."""
    rows = await conn.fetch(
        "SELECT id, service_id::text, dedup_key, status, summary, severity, source, occurrences,"
        " created_at, updated_at, last_occurrence_at, acknowledged_at, resolved_at, details::text"
        " FROM incidents WHERE service_id = ANY($1::uuid[]) AND status <> 'resolved'",
        list(service_ids),
    )
    found: dict[str, list[Incident]] = defaultdict(list)
    for r in rows:
        found[r["service_id"]].append(
            Incident(
                id=r["id"],
                service_id=r["service_id"],
                dedup_key=r["dedup_key"],
                status=Status(r["status"]),
                summary=r["summary"],
                severity=Severity(r["severity"]),
                source=r["source"],
                occurrences=r["occurrences"],
                created_at=r["created_at"],
                updated_at=r["updated_at"],
                last_occurrence_at=r["last_occurrence_at"],
                acknowledged_at=r["acknowledged_at"],
                resolved_at=r["resolved_at"],
                details=r["details"],
            )
        )
    return found


async def already_applied(conn: asyncpg.Connection, input_ids: Sequence[str]) -> set[str]:
    """Which of these event or command ids a previous transaction stored (a retried call)."""
    rows = await conn.fetch(
        "SELECT event_id::text AS id FROM alerts WHERE event_id = ANY($1::uuid[])"
        " UNION ALL SELECT command_id::text FROM applied_commands WHERE command_id = ANY($1::uuid[])",
        list(input_ids),
    )
    return {r["id"] for r in rows}


# A batch is one statement, so one round trip and its own transaction: every sub-statement
# lands or none does. incidents_open_dedup is checked at commit, so the order in which the
# sub-statements run does not matter.
_WRITE_BATCH = """
WITH updated AS (
    UPDATE incidents AS i SET
        status = u.status, occurrences = u.occurrences, updated_at = u.updated_at,
        last_occurrence_at = u.last_occurrence_at, acknowledged_at = u.acknowledged_at,
        resolved_at = u.resolved_at
    FROM unnest($1::bigint[], $2::text[], $3::int[], $4::timestamptz[], $5::timestamptz[],
                $6::timestamptz[], $7::timestamptz[])
        AS u(id, status, occurrences, updated_at, last_occurrence_at, acknowledged_at, resolved_at)
    WHERE i.id = u.id
), new_incidents AS (
    INSERT INTO incidents (id, service_id, dedup_key, status, summary, severity, source, occurrences,
                           created_at, updated_at, last_occurrence_at, acknowledged_at, resolved_at, details)
    SELECT * FROM unnest($8::bigint[], $9::uuid[], $10::text[], $11::text[], $12::text[], $13::text[],
                         $14::text[], $15::int[], $16::timestamptz[], $17::timestamptz[], $18::timestamptz[],
                         $19::timestamptz[], $20::timestamptz[], $21::jsonb[])
), new_alerts AS (
    INSERT INTO alerts (event_id, service_id, integration_id, incident_id, action, dedup_key, outcome,
                        received_at, payload)
    SELECT * FROM unnest($22::uuid[], $23::uuid[], $24::uuid[], $25::bigint[], $26::text[], $27::text[],
                         $28::text[], $29::timestamptz[], $30::jsonb[])
), new_log AS (
    INSERT INTO incident_log (incident_id, at, kind, actor, message, input_id)
    SELECT * FROM unnest($31::bigint[], $32::timestamptz[], $33::text[], $34::text[], $35::text[], $36::uuid[])
)
INSERT INTO applied_commands (command_id, incident_id, applied_at)
SELECT * FROM unnest($37::uuid[], $38::bigint[], $39::timestamptz[])
"""


async def write_plans(conn: asyncpg.Connection, plans: Iterable[Plan]) -> None:
    """Write a batch's plans atomically; fills in new incidents' ids first."""
    plans = list(plans)
    new = [incident for plan in plans for incident in plan.new_incidents]
    if new:
        ids = await conn.fetch("SELECT nextval('incident_ids') FROM generate_series(1, $1)", len(new))
        for incident, row in zip(new, ids):
            incident.id = row[0]
    updated = [incident for plan in plans for incident in plan.updated_incidents]
    alerts, commands = _inputs(plans)
    log = [(e.incident.id, e.at, e.kind, e.actor, e.message, e.input_id) for plan in plans for e in plan.log]
    await conn.execute(
        _WRITE_BATCH,
        *_columns(
            [(i.id, i.status.value, i.occurrences, i.updated_at, i.last_occurrence_at, i.acknowledged_at,
              i.resolved_at) for i in updated], 7),
        *_columns([_incident_record(i) for i in new], 14),
        *_columns(alerts, 9),
        *_columns(log, 6),
        *_columns(commands, 3),
    )


def _columns(rows: Sequence[tuple[object, ...]], width: int) -> list[list[object]]:
    """Rows to one list per column, the shape unnest() takes."""
    return [list(column) for column in zip(*rows)] if rows else [[] for _ in range(width)]


def _incident_record(i: Incident) -> tuple[object, ...]:
    return (
        i.id, i.service_id, i.dedup_key, i.status.value, i.summary, i.severity.value, i.source,
        i.occurrences, i.created_at, i.updated_at, i.last_occurrence_at, i.acknowledged_at,
        i.resolved_at, i.details,
    )


def _inputs(plans: list[Plan]) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Raw alerts (every accepted event with what it did) and the commands seen."""
    alerts: list[tuple[object, ...]] = []
    commands: list[tuple[object, ...]] = []
    for plan in plans:
        for applied in plan.applied:
            item = applied.input
            incident_id = applied.incident.id if applied.incident is not None else None
            if isinstance(item, AlertEvent):
                alerts.append((
                    item.event_id, item.service_id, item.integration_id, incident_id,
                    item.action.value, item.dedup_key, applied.outcome.value, item.received_at,
                    item.payload,
                ))
            elif isinstance(item, IncidentCommand):
                commands.append((item.command_id, item.incident_id, item.received_at))
    return alerts, commands
