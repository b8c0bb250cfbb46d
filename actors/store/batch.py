"""The shard's writes: one transaction per batch, and the reads that activate a service.

Everything a batch changed goes in with COPY or one set-based UPDATE, so a batch costs a
handful of round trips whatever its size.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import asyncpg

from actors.domain.dedupe import Plan
from actors.domain.events import AlertEvent, IncidentCommand, Severity, Status
from actors.domain.incident import Incident

_INCIDENT_COLUMNS = (
    "id", "service_id", "dedup_key", "status", "summary", "severity", "source", "occurrences",
    "created_at", "updated_at", "last_occurrence_at", "acknowledged_at", "resolved_at", "details",
)


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


async def write_plans(conn: asyncpg.Connection, plans: Iterable[Plan]) -> None:
    """Write a batch's plans in the caller's transaction; fills in new incidents' ids."""
    plans = list(plans)
    # Updates first: a batch that resolves an incident and re-triggers its dedup key must
    # close the old one before the new one takes the key (incidents_open_dedup).
    updated = [incident for plan in plans for incident in plan.updated_incidents]
    if updated:
        await _update_incidents(conn, updated)
    new = [incident for plan in plans for incident in plan.new_incidents]
    if new:
        ids = await conn.fetch("SELECT nextval('incident_ids') FROM generate_series(1, $1)", len(new))
        for incident, row in zip(new, ids):
            incident.id = row[0]
        await conn.copy_records_to_table(
            "incidents", records=[_incident_record(i) for i in new], columns=_INCIDENT_COLUMNS
        )
    await _copy_inputs(conn, plans)
    log = [
        (e.incident.id, e.at, e.kind, e.actor, e.message, e.input_id)
        for plan in plans
        for e in plan.log
    ]
    if log:
        await conn.copy_records_to_table(
            "incident_log", records=log, columns=("incident_id", "at", "kind", "actor", "message", "input_id")
        )


def _incident_record(i: Incident) -> tuple[object, ...]:
    return (
        i.id, i.service_id, i.dedup_key, i.status.value, i.summary, i.severity.value, i.source,
        i.occurrences, i.created_at, i.updated_at, i.last_occurrence_at, i.acknowledged_at,
        i.resolved_at, i.details,
    )


async def _update_incidents(conn: asyncpg.Connection, incidents: list[Incident]) -> None:
    await conn.execute(
        """
        UPDATE incidents AS i SET
            status = u.status, occurrences = u.occurrences, updated_at = u.updated_at,
            last_occurrence_at = u.last_occurrence_at, acknowledged_at = u.acknowledged_at,
            resolved_at = u.resolved_at
        FROM unnest($1::bigint[], $2::text[], $3::int[], $4::timestamptz[], $5::timestamptz[],
                    $6::timestamptz[], $7::timestamptz[])
            AS u(id, status, occurrences, updated_at, last_occurrence_at, acknowledged_at, resolved_at)
        WHERE i.id = u.id
        """,
        [i.id for i in incidents],
        [i.status.value for i in incidents],
        [i.occurrences for i in incidents],
        [i.updated_at for i in incidents],
        [i.last_occurrence_at for i in incidents],
        [i.acknowledged_at for i in incidents],
        [i.resolved_at for i in incidents],
    )


async def _copy_inputs(conn: asyncpg.Connection, plans: list[Plan]) -> None:
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
    if alerts:
        await conn.copy_records_to_table(
            "alerts",
            records=alerts,
            columns=(
                "event_id", "service_id", "integration_id", "incident_id", "action", "dedup_key",
                "outcome", "received_at", "payload",
            ),
        )
    if commands:
        await conn.copy_records_to_table(
            "applied_commands", records=commands, columns=("command_id", "incident_id", "applied_at")
        )


