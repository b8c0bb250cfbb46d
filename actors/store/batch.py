"""The shard's writes: one statement per batch, and the reads that activate a service.

Everything a batch changed (incidents, raw alerts, the incident log, outbox rows, cancelled
notifications) goes in as arrays unnested by one statement, so a batch costs one round trip
(two when it opens incidents) whatever its size. A storm's batch, thousands of raw alerts,
sends those by COPY instead, in one transaction with the statement: three more round trips,
and less CPU than building and checking an array per column (see `COPY_FROM`); so do its
timeline entries, one per incident it touched (`LOG_COPY_FROM`).
"""

from __future__ import annotations

import contextlib
import functools
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from operator import attrgetter

import asyncpg
import orjson

from tocsin.actors.domain.batch_plan import Plan, PlannedNotification
from tocsin.actors.domain.escalation_state import EscalationState
from tocsin.actors.domain.events import AlertEvent, IncidentCommand, Severity, Status, Urgency
from tocsin.actors.domain.incident import OCCURRENCE_FIELDS, Incident

async def load_open(conn: asyncpg.Connection, service_ids: Sequence[str]) -> dict[str, list[Incident]]:
    """The open incidents of these services, to activate them in a shard (payloads stay
    in the database)."""
    rows = await conn.fetch(
        "SELECT id, service_id::text, dedup_key, status, summary, severity, source, occurrences,"
        " created_at, updated_at, last_occurrence_at, acknowledged_at, resolved_at, urgency,"
        " escalation_policy_id::text, assigned_user_id::text, escalation_level, escalation_pass,"
        " next_escalation_at, snoozed_until, pages, auto_resolve_at, suppressed, paused_until, priority,"
        " tags::text, integration_id::text"
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
        auto_resolve_at=r["auto_resolve_at"], suppressed=r["suppressed"], paused_until=r["paused_until"],
        priority=r["priority"], tags=tuple(orjson.loads(r["tags"])), integration_id=r["integration_id"],
    )


async def services_with_deadlines(conn: asyncpg.Connection) -> list[str]:
    """Services with an open incident waiting on a deadline: a restarted shard reactivates
    those it owns, which rebuilds its wake-ups."""
    rows = await conn.fetch(
        "SELECT DISTINCT service_id::text FROM incidents"
        " WHERE status <> 'resolved'"
        " AND (next_escalation_at IS NOT NULL OR snoozed_until IS NOT NULL OR auto_resolve_at IS NOT NULL"
        "      OR paused_until IS NOT NULL)"
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
    ("auto_resolve_at", "timestamptz", lambda i: i.auto_resolve_at),
    ("suppressed", "boolean", lambda i: i.suppressed),
    ("paused_until", "timestamptz", lambda i: i.paused_until),
    ("tags", "jsonb", lambda i: _json_list(i.tags)),
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
    ("priority", "text", lambda i: i.priority),
    ("rule_details", "jsonb", lambda i: i.rule_details),
    ("integration_id", "uuid", lambda i: i.integration_id),
]
_INCIDENT_ALL = _INCIDENT_KEY + _INCIDENT_CHANGES + _INCIDENT_FIXED
_UPDATE_COLUMNS = _INCIDENT_KEY + _INCIDENT_CHANGES
# In a storm nearly every updated incident changed only what occurrences change: it is
# written with those columns alone, which costs a third of the whole row to build, to
# encode and for Postgres to unnest and update.
_OCCURRED_COLUMNS = _INCIDENT_KEY + [c for c in _INCIDENT_CHANGES if c[0] in OCCURRENCE_FIELDS]
_OCCURRED_ROW = attrgetter("id", *OCCURRENCE_FIELDS)  # the columns' values, in their order
_ALERT_COLUMNS = ["event_id", "service_id", "integration_id", "incident_id", "action", "dedup_key", "outcome",
                  "received_at", "payload"]
# The payload as json: stored as sent, as COPY stores it (jsonb[] would reorder its keys).
_ALERT_TYPES = ["uuid", "uuid", "uuid", "bigint", "text", "text", "text", "timestamptz", "json"]
# Raw alert rows from which COPY costs less CPU than the statement's arrays, round trips
# included: asyncpg encodes a row for COPY in about 1.5 µs and for unnest() in about 4 µs
# (it checks each array element's type), and each of COPY's extra round trips (BEGIN, COPY,
# COMMIT) costs a few tens of µs on either side (benchmarks/NOTES.md, 2026-12).
COPY_FROM = 500
_LOG_COLUMNS = ["incident_id", "at", "kind", "actor", "message", "input_id", "rules", "rule_effect", "alerts"]
_LOG_TYPES = ["bigint", "timestamptz", "text", "text", "text", "uuid", "jsonb", "text", "int"]
# Timeline entries from which COPY costs less: a storm's batch logs one entry per incident it
# touched, about a thousand. Measured (benchmarks/NOTES.md, 2026-12-07): a thousand entries
# cost the shard 9.0 ms to send as the statement's arrays and 3.9 ms by COPY, and Postgres
# 12.4 against 10.4 ms; the COPY's round trips (and BEGIN and COMMIT, when the raw alerts
# are not copied too) cost a few hundred µs.
LOG_COPY_FROM = 100
_COMMAND_TYPES = ["uuid", "bigint", "timestamptz"]
_NOTIFICATION_COLUMNS = [
    ("incident_id", "bigint"), ("service_id", "uuid"), ("page", "int"), ("level", "int"), ("pass", "int"),
    ("user_id", "uuid"), ("contact_method_id", "uuid"), ("channel", "text"), ("rule_id", "uuid"),
    ("delay_minutes", "int"), ("urgency", "text"), ("message", "text"), ("send_at", "timestamptz"),
    ("status", "text"), ("rank", "smallint"), ("created_at", "timestamptz"), ("updated_at", "timestamptz"),
]


def _unnest(types: Sequence[str], first: int) -> str:
    return "unnest(" + ", ".join(f"${first + n}::{t}[]" for n, t in enumerate(types)) + ")"


def _update(columns: Sequence[_Column]) -> Callable[[int], str]:
    names = [c for c, _, _ in columns]
    return lambda first: (
        "UPDATE incidents AS i SET " + ", ".join(f"{c} = u.{c}" for c in names[1:])
        + f" FROM {_unnest([t for _, t, _ in columns], first)} AS u({', '.join(names)})"
        " WHERE i.id = u.id"
    )


def _insert(table: str, columns: Sequence[str], types: Sequence[str], suffix: str = "") -> Callable[[int], str]:
    return lambda first: (
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM {_unnest(types, first)}{suffix}"
    )


def _cancel_pending(first: int) -> str:
    return (
        f"UPDATE notifications SET status = 'cancelled', updated_at = ${first + 1}"
        f" WHERE incident_id = ANY(${first}::bigint[]) AND status = 'pending'"
    )


# The parts of a batch, in order: (SQL given its first parameter number, parameter count).
_PARTS: list[tuple[Callable[[int], str], int]] = [
    (_update(_UPDATE_COLUMNS), len(_UPDATE_COLUMNS)),
    (_update(_OCCURRED_COLUMNS), len(_OCCURRED_COLUMNS)),
    (_insert("incidents", [c for c, _, _ in _INCIDENT_ALL], [t for _, t, _ in _INCIDENT_ALL]), len(_INCIDENT_ALL)),
    (_insert("alerts", _ALERT_COLUMNS, _ALERT_TYPES), len(_ALERT_TYPES)),
    (_insert("incident_log", _LOG_COLUMNS, _LOG_TYPES), len(_LOG_TYPES)),
    (_insert("applied_commands", ["command_id", "incident_id", "applied_at"], _COMMAND_TYPES), len(_COMMAND_TYPES)),
    (_insert("notifications", [c for c, _ in _NOTIFICATION_COLUMNS], [t for _, t in _NOTIFICATION_COLUMNS],
             " ON CONFLICT DO NOTHING"), len(_NOTIFICATION_COLUMNS)),
    (_cancel_pending, 2),
]


@functools.lru_cache(maxsize=None)
def _batch_statement(present: tuple[bool, ...]) -> str:
    """The batch as one statement made of the parts that have rows: one round trip and its
    own transaction, so every part lands or none does. A storm batch is mostly occurrences,
    so it skips the rest and Postgres plans and runs less. incidents_open_dedup is checked
    at commit, so the order in which the parts run does not matter. A notification of an
    incident silenced in the same batch is written as cancelled, since the cancelling UPDATE
    cannot see rows a sibling INSERT adds."""
    parts, first = [], 1
    for (sql, width), wanted in zip(_PARTS, present):
        if wanted:
            parts.append(sql(first))
            first += width
    *ctes, last = parts
    return ("WITH " + ", ".join(f"s{k} AS ({part})" for k, part in enumerate(ctes)) + " " if ctes else "") + last


async def write_plans(conn: asyncpg.Connection, plans: Iterable[Plan], now: datetime) -> None:
    """Write a batch's plans atomically; fills in new incidents' ids first."""
    plans = list(plans)
    new = [incident for plan in plans for incident in plan.new_incidents]
    if new:
        ids = await conn.fetch("SELECT nextval('incident_ids') FROM generate_series(1, $1)", len(new))
        for incident, row in zip(new, ids):
            incident.id = row[0]
    updated, occurred = _updates(plans)
    alerts, commands = _inputs(plans)
    log: list[tuple[object, ...]] = [
        (e.incident.id, e.at, e.kind, e.actor, e.message, e.input_id, _json_list(e.rules) if e.rules else None,
         e.rule_effect, e.alerts if e.alerts > 1 else None) for plan in plans for e in plan.log]
    copy_alerts, copy_log = len(alerts) >= COPY_FROM, len(log) >= LOG_COPY_FROM
    silenced = [i.id for plan in plans for i in plan.silenced.values() if i.id is not None]
    rows: list[list[tuple[object, ...]]] = [
        [tuple(get(i) for _, _, get in _UPDATE_COLUMNS) for i in updated],
        list(map(_OCCURRED_ROW, occurred)),
        [tuple(get(i) for _, _, get in _INCIDENT_ALL) for i in new],
        [] if copy_alerts else alerts,
        [] if copy_log else log,
        commands,
        [_notification_record(n, now) for plan in plans for n in plan.notifications],
    ]
    present = tuple(bool(r) for r in rows) + (bool(silenced),)
    args: list[object] = [column for r, (_, width) in zip(rows, _PARTS) if r for column in _columns(r, width)]
    if silenced:
        args += [silenced, now]
    # A COPY and the statement commit together; the statement alone is atomic by itself.
    async with conn.transaction() if copy_alerts or copy_log else contextlib.nullcontext():
        if copy_alerts:
            await _copy(conn, "alerts", _ALERT_COLUMNS, alerts)
        if copy_log:
            await _copy(conn, "incident_log", _LOG_COLUMNS, log)
        if any(present):
            await conn.execute(_batch_statement(present), *args)


async def _copy(conn: asyncpg.Connection, table: str, columns: list[str], rows: list[tuple[object, ...]]) -> None:
    try:
        await conn.copy_records_to_table(table, records=rows, columns=columns)
    except (TypeError, ValueError, OverflowError) as exc:
        # A value asyncpg cannot encode, e.g. a surrogate in text: as the statement's
        # arguments would, it is a data error, which the shard isolates to its input.
        raise asyncpg.DataError(f"invalid input for a row of {table}: {exc!r}") from exc


def _notification_record(planned: PlannedNotification, now: datetime) -> tuple[object, ...]:
    incident, page, n = planned.incident, planned.page, planned.notification
    status = "pending" if incident.status is Status.TRIGGERED else "cancelled"
    return (
        incident.id, incident.service_id, page.number, page.page.level, page.page.pass_, n.user_id,
        n.contact_method_id, n.channel, n.rule_id, n.delay_minutes, incident.urgency.value,
        incident.summary, n.send_at, status, 0 if n.first_of_page else 1, now, now,
    )


def _json_list(values: tuple[str, ...]) -> str:
    return orjson.dumps(values).decode() if values else "[]"


def _columns(rows: Sequence[tuple[object, ...]], width: int) -> list[list[object]]:
    """Rows to one list per column, the shape unnest() takes."""
    return [list(column) for column in zip(*rows)] if rows else [[] for _ in range(width)]


def _updates(plans: list[Plan]) -> tuple[list[Incident], list[Incident]]:
    """The incidents to update: those to write whole, and those of which only what
    occurrences change differs from the incident as memory held it (and so as stored)."""
    whole: list[Incident] = []
    occurred: list[Incident] = []
    for plan in plans:
        only_occurred = plan.only_occurred()
        for key, draft in plan.changed.items():
            if draft.id is None:
                continue
            if key in only_occurred:
                occurred.append(draft)
            else:
                whole.append(draft)
    return whole, occurred


def _inputs(plans: list[Plan]) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Raw alerts (every accepted event with what it did) and the commands seen."""
    alerts: list[tuple[object, ...]] = []
    commands: list[tuple[object, ...]] = []
    for plan in plans:
        for item, outcome, incident, _ in plan.applied:
            incident_id = incident.id if incident is not None else None
            if type(item) is AlertEvent:
                # Action and Outcome are str enums: asyncpg sends their values as text, and
                # `.value` (a descriptor call per alert) is not needed.
                alerts.append((
                    item.event_id, item.service_id, item.integration_id, incident_id,
                    item.action, item.dedup_key, outcome, item.received_at, item.payload,
                ))
            elif isinstance(item, IncidentCommand):
                commands.append((item.command_id, item.incident_id, item.received_at))
    return alerts, commands
