"""The shard's writes: one statement per batch, and the reads that activate a service.

Everything a batch changed (incidents, raw alerts, the incident log, outbox rows, cancelled
notifications) goes in as arrays unnested by one statement, so a batch costs one round trip
(two when it opens incidents) whatever its size.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

import asyncpg

from actors.domain.escalation import EscalationState
from actors.domain.events import AlertEvent, IncidentCommand, Severity, Status, Urgency
from actors.domain.incident import Incident
from actors.domain.plan import Plan, PlannedNotification

async def load_open(conn: asyncpg.Connection, service_ids: Sequence[str]) -> dict[str, list[Incident]]:
    """The open incidents of these services, to activate them in a shard (payloads stay
    in the database)."""
    rows = await conn.fetch(
        "SELECT id, service_id::text, dedup_key, status, summary, severity, source, occurrences,"
        " created_at, updated_at, last_occurrence_at, acknowledged_at, resolved_at, urgency,"
        " escalation_policy_id::text, assigned_user_id::text, escalation_level, escalation_pass,"
        " next_escalation_at, snoozed_until, pages"
        " FROM incidents WHERE service_id = ANY($1::uuid[]) AND status <> 'resolved'",
        list(service_ids),
    )
    found: dict[str, list[Incident]] = defaultdict(list)
    for r in rows:
        found[r["service_id"]].append(_incident(r))
    return found


def _incident(r: asyncpg.Record) -> Incident:
    status = Status(r["status"])
    walk = None
    if r["escalation_level"] is not None:
        walk = EscalationState(
            level=r["escalation_level"], pass_=r["escalation_pass"], next_escalation_at=r["next_escalation_at"],
            snoozed_until=r["snoozed_until"], stopped=status is not Status.TRIGGERED,
        )
    return Incident(
        id=r["id"], service_id=r["service_id"], dedup_key=r["dedup_key"], status=status,
        summary=r["summary"], severity=Severity(r["severity"]), source=r["source"],
        occurrences=r["occurrences"], created_at=r["created_at"], updated_at=r["updated_at"],
        last_occurrence_at=r["last_occurrence_at"], acknowledged_at=r["acknowledged_at"],
        resolved_at=r["resolved_at"], urgency=Urgency(r["urgency"]), policy_id=r["escalation_policy_id"],
        assigned_user_id=r["assigned_user_id"], escalation=walk, pages=r["pages"],
    )


async def services_with_deadlines(conn: asyncpg.Connection) -> list[str]:
    """Services with an open incident waiting on a deadline: a restarted shard reactivates
    those it owns, which rebuilds its wake-ups."""
    rows = await conn.fetch(
        "SELECT DISTINCT service_id::text FROM incidents"
        " WHERE status <> 'resolved' AND (next_escalation_at IS NOT NULL OR snoozed_until IS NOT NULL)"
    )
    return [r[0] for r in rows]


async def already_applied(conn: asyncpg.Connection, input_ids: Sequence[str]) -> set[str]:
    """Which of these event or command ids a previous transaction stored (a retried call)."""
    rows = await conn.fetch(
        "SELECT event_id::text AS id FROM alerts WHERE event_id = ANY($1::uuid[])"
        " UNION ALL SELECT command_id::text FROM applied_commands WHERE command_id = ANY($1::uuid[])",
        list(input_ids),
    )
    return {r["id"] for r in rows}


# Incident columns as the shard writes them: (column, array type, value of an Incident).
_Column = tuple[str, str, Callable[[Incident], object]]
_INCIDENT_KEY: list[_Column] = [("id", "bigint", lambda i: i.id)]
_INCIDENT_CHANGES: list[_Column] = [
    ("status", "text", lambda i: i.status.value),
    ("occurrences", "int", lambda i: i.occurrences),
    ("updated_at", "timestamptz", lambda i: i.updated_at),
    ("last_occurrence_at", "timestamptz", lambda i: i.last_occurrence_at),
    ("acknowledged_at", "timestamptz", lambda i: i.acknowledged_at),
    ("resolved_at", "timestamptz", lambda i: i.resolved_at),
    ("escalation_policy_id", "uuid", lambda i: i.policy_id),
    ("assigned_user_id", "uuid", lambda i: i.assigned_user_id),
    ("escalation_level", "int", lambda i: i.escalation.level if i.escalation else None),
    ("escalation_pass", "int", lambda i: i.escalation.pass_ if i.escalation else None),
    ("next_escalation_at", "timestamptz", lambda i: i.escalation.next_escalation_at if i.escalation else None),
    ("snoozed_until", "timestamptz", lambda i: i.escalation.snoozed_until if i.escalation else None),
    ("pages", "int", lambda i: i.pages),
]
_INCIDENT_FIXED: list[_Column] = [
    ("service_id", "uuid", lambda i: i.service_id),
    ("dedup_key", "text", lambda i: i.dedup_key),
    ("summary", "text", lambda i: i.summary),
    ("severity", "text", lambda i: i.severity.value),
    ("source", "text", lambda i: i.source),
    ("created_at", "timestamptz", lambda i: i.created_at),
    ("details", "jsonb", lambda i: i.details),
    ("urgency", "text", lambda i: i.urgency.value),
]
_INCIDENT_ALL = _INCIDENT_KEY + _INCIDENT_CHANGES + _INCIDENT_FIXED
_UPDATE_COLUMNS = _INCIDENT_KEY + _INCIDENT_CHANGES
_ALERT_TYPES = ["uuid", "uuid", "uuid", "bigint", "text", "text", "text", "timestamptz", "jsonb"]
_LOG_TYPES = ["bigint", "timestamptz", "text", "text", "text", "uuid"]
_COMMAND_TYPES = ["uuid", "bigint", "timestamptz"]
_NOTIFICATION_COLUMNS = [
    ("incident_id", "bigint"), ("service_id", "uuid"), ("page", "int"), ("level", "int"), ("pass", "int"),
    ("user_id", "uuid"), ("contact_method_id", "uuid"), ("channel", "text"), ("rule_id", "uuid"),
    ("delay_minutes", "int"), ("urgency", "text"), ("message", "text"), ("send_at", "timestamptz"),
    ("status", "text"), ("created_at", "timestamptz"), ("updated_at", "timestamptz"),
]


def _unnest(types: Sequence[str], first: int) -> str:
    return "unnest(" + ", ".join(f"${first + n}::{t}[]" for n, t in enumerate(types)) + ")"


def _batch_statement() -> str:
    """A batch is one statement, so one round trip and its own transaction: every
    sub-statement lands or none does. incidents_open_dedup is checked at commit, so the
    order in which the sub-statements run does not matter. A notification of an incident
    silenced in the same batch is written as cancelled, since the cancelling UPDATE cannot
    see rows its sibling INSERT adds."""
    n = 1
    update_names = [c for c, _, _ in _UPDATE_COLUMNS]
    update = (
        "UPDATE incidents AS i SET " + ", ".join(f"{c} = u.{c}" for c in update_names[1:])
        + f" FROM {_unnest([t for _, t, _ in _UPDATE_COLUMNS], n)} AS u({', '.join(update_names)})"
        " WHERE i.id = u.id"
    )
    n += len(_UPDATE_COLUMNS)
    insert = (
        f"INSERT INTO incidents ({', '.join(c for c, _, _ in _INCIDENT_ALL)})"
        f" SELECT * FROM {_unnest([t for _, t, _ in _INCIDENT_ALL], n)}"
    )
    n += len(_INCIDENT_ALL)
    alerts = (
        "INSERT INTO alerts (event_id, service_id, integration_id, incident_id, action, dedup_key, outcome,"
        f" received_at, payload) SELECT * FROM {_unnest(_ALERT_TYPES, n)}"
    )
    n += len(_ALERT_TYPES)
    log = (
        "INSERT INTO incident_log (incident_id, at, kind, actor, message, input_id)"
        f" SELECT * FROM {_unnest(_LOG_TYPES, n)}"
    )
    n += len(_LOG_TYPES)
    commands = f"INSERT INTO applied_commands (command_id, incident_id, applied_at) SELECT * FROM {_unnest(_COMMAND_TYPES, n)}"
    n += len(_COMMAND_TYPES)
    notifications = (
        f"INSERT INTO notifications ({', '.join(c for c, _ in _NOTIFICATION_COLUMNS)})"
        f" SELECT * FROM {_unnest([t for _, t in _NOTIFICATION_COLUMNS], n)} ON CONFLICT DO NOTHING"
    )
    n += len(_NOTIFICATION_COLUMNS)
    cancel = (
        f"UPDATE notifications SET status = 'cancelled', updated_at = ${n + 1}"
        f" WHERE incident_id = ANY(${n}::bigint[]) AND status = 'pending'"
    )
    parts = [update, insert, alerts, log, commands, notifications]
    return "WITH " + ", ".join(f"s{k} AS ({sql})" for k, sql in enumerate(parts)) + " " + cancel


_WRITE_BATCH = _batch_statement()


async def write_plans(conn: asyncpg.Connection, plans: Iterable[Plan], now: datetime) -> None:
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
    notifications = [_notification_record(n, now) for plan in plans for n in plan.notifications]
    silenced = [i.id for plan in plans for i in plan.silenced.values() if i.id is not None]
    await conn.execute(
        _WRITE_BATCH,
        *_columns([tuple(get(i) for _, _, get in _UPDATE_COLUMNS) for i in updated], len(_UPDATE_COLUMNS)),
        *_columns([tuple(get(i) for _, _, get in _INCIDENT_ALL) for i in new], len(_INCIDENT_ALL)),
        *_columns(alerts, len(_ALERT_TYPES)),
        *_columns(log, len(_LOG_TYPES)),
        *_columns(commands, len(_COMMAND_TYPES)),
        *_columns(notifications, len(_NOTIFICATION_COLUMNS)),
        silenced,
        now,
    )


def _notification_record(planned: PlannedNotification, now: datetime) -> tuple[object, ...]:
    incident, page, n = planned.incident, planned.page, planned.notification
    status = "pending" if incident.status is Status.TRIGGERED else "cancelled"
    return (
        incident.id, incident.service_id, page.number, page.page.level, page.page.pass_, n.user_id,
        n.contact_method_id, n.channel, n.rule_id, n.delay_minutes, incident.urgency.value,
        incident.summary, n.send_at, status, now, now,
    )


def _columns(rows: Sequence[tuple[object, ...]], width: int) -> list[list[object]]:
    """Rows to one list per column, the shape unnest() takes."""
    return [list(column) for column in zip(*rows)] if rows else [[] for _ in range(width)]


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
