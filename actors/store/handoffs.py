"""Shift notices and reachability checks: who wants them and where, what is planned, and
the checks' outcomes.

Notices and checks go out as rows of the notification outbox, of kinds `shift_notice` and
`reachability_check` (no incident), so the channel actors send them with their rate
limits, failover and dead letters. `shift_notices` and `reachability_checks` hold one row
per planned notice or check, keyed by what it is about: a schedule is planned under an
advisory lock of its own, so monitors side by side never plan one twice.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from tocsin.actors.domain.handoffs import Check, Notice, Plan

CHANGED = "the shift no longer holds: the schedule or an override changed"

_ENQUEUE = """
INSERT INTO notifications (kind, user_id, contact_method_id, channel, delay_minutes, urgency, message,
                           send_at, status, created_at, updated_at)
VALUES ($1, $2::uuid, $3::uuid, $4, 0, 'high', $5, $6, 'pending', $7, $7)
RETURNING id
"""

# The contact method that pages a person first (their earliest high-urgency rule), for a
# check's test page and for telling someone a check was missed; else where they hear of shifts.
_PAGE_METHODS = """
SELECT u.id::text AS user_id, u.name, u.time_zone, cm.id::text AS method_id, cm.kind AS channel
FROM users u
LEFT JOIN LATERAL (
    SELECT c.id, c.kind FROM notification_rules r JOIN contact_methods c ON c.id = r.contact_method_id
    WHERE r.user_id = u.id AND r.urgency = 'high' AND c.enabled
    ORDER BY r.delay_minutes, r.created_at, r.id LIMIT 1
) first_rule ON true
LEFT JOIN contact_methods cm ON cm.id = coalesce(first_rule.id, u.shift_notice_method_id)
WHERE u.id = ANY($1::uuid[])
"""

_CHECK_COLUMNS = (
    "c.id::text, c.schedule_id::text, c.user_id::text, u.name AS user_name, c.shift_start, c.send_at, c.status,"
    " c.acknowledged_at, c.missed_at, c.told::text[] AS told, c.note, n.status AS page_status, c.created_at"
)


@dataclass(frozen=True, slots=True)
class Recipient:
    user_id: str
    name: str
    time_zone: str
    method_id: str | None
    channel: str | None


async def epoch(conn: asyncpg.Connection) -> int:
    """Grows with every change to users, contact methods, schedules, overrides and policies."""
    value: int = await conn.fetchval("SELECT epoch FROM paging_config")
    return value


async def notice_takers(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    """The people who chose a contact method for shift notices, with their lead and zone."""
    rows = await conn.fetch(
        "SELECT u.id::text AS user_id, u.time_zone, u.shift_notice_lead_minutes AS lead_minutes,"
        " cm.id::text AS method_id, cm.kind AS channel FROM users u"
        " JOIN contact_methods cm ON cm.id = u.shift_notice_method_id"
    )
    return [dict(r) for r in rows]


async def page_recipients(conn: asyncpg.Connection, user_ids: Iterable[str]) -> dict[str, Recipient]:
    rows = await conn.fetch(_PAGE_METHODS, list(set(user_ids)))
    return {r["user_id"]: Recipient(r["user_id"], r["name"], r["time_zone"], r["method_id"], r["channel"])
            for r in rows}


async def enqueue(
    conn: asyncpg.Connection, kind: str, user_id: str, method_id: str, channel: str, message: str,
    send_at: datetime, now: datetime,
) -> int:
    notification_id: int = await conn.fetchval(_ENQUEUE, kind, user_id, method_id, channel, message, send_at, now)
    return notification_id


async def _cancel(conn: asyncpg.Connection, notification_ids: list[int], now: datetime) -> None:
    await conn.execute(
        "UPDATE notifications SET status = 'cancelled', last_error = $2, updated_at = $3"
        " WHERE id = ANY($1::bigint[]) AND status = 'pending'",
        notification_ids, CHANGED, now,
    )


# -- planning -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Planned:
    """What applying a plan changed: notices and checks made and cancelled, and the
    channels of the rows due now (to be woken)."""

    made: int = 0
    cancelled: int = 0
    channels_due: frozenset[str] = frozenset()


async def apply_plan(
    conn: asyncpg.Connection, schedule_id: str, plan: Plan, methods: dict[str, tuple[str, str]],
    now: datetime, since: datetime, check_text: Callable[[Check, str], str],
) -> Planned:
    """Brings the schedule's planned notices and checks in step with `plan`, in one
    transaction: what was planned and still waits but no longer holds (its handoff is
    gone, or its time or contact method changed) is cancelled; what is planned and not
    there yet is made. `methods`: each notice taker's (contact method id, channel).
    `since`: the start of the window the plan looked at. `check_text(check, token)`: the
    words of a check's test page."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"tocsin.handoffs.{schedule_id}")
        notices = await _apply_notices(conn, schedule_id, plan, methods, now, since)
        checks = await _apply_checks(conn, schedule_id, plan, now, check_text)
    return Planned(notices.made + checks.made, notices.cancelled + checks.cancelled,
                   notices.channels_due | checks.channels_due)


async def _apply_notices(
    conn: asyncpg.Connection, schedule_id: str, plan: Plan, methods: dict[str, tuple[str, str]],
    now: datetime, since: datetime,
) -> Planned:
    existing = await conn.fetch(
        "SELECT s.user_id::text, s.kind, s.at, s.due, s.notification_id, n.status, n.contact_method_id::text"
        " FROM shift_notices s JOIN notifications n ON n.id = s.notification_id"
        " WHERE s.schedule_id = $1::uuid AND s.at >= $2",
        schedule_id, since,
    )
    wanted = {n.key: n for n in plan.notices}
    stale = [r for r in existing if r["status"] == "pending" and _stale(r, plan, wanted, methods)]
    if stale:
        await _cancel(conn, [r["notification_id"] for r in stale], now)
        await conn.executemany(
            "DELETE FROM shift_notices WHERE schedule_id = $1::uuid AND user_id = $2::uuid AND kind = $3 AND at = $4",
            [(schedule_id, r["user_id"], r["kind"], r["at"]) for r in stale])
    kept = {(r["user_id"], r["kind"], r["at"]) for r in existing} - {(r["user_id"], r["kind"], r["at"]) for r in stale}
    fresh = [n for key, n in wanted.items() if key not in kept and n.user_id in methods]
    for notice in fresh:
        await _make_notice(conn, schedule_id, notice, methods[notice.user_id], now)
    due = frozenset(methods[n.user_id][1] for n in fresh if n.send_at <= now)
    return Planned(len(fresh), len(stale), due)


def _stale(row: asyncpg.Record, plan: Plan, wanted: dict[tuple[str, str, datetime], Notice],
           methods: dict[str, tuple[str, str]]) -> bool:
    key = (row["user_id"], row["kind"], row["at"])
    if key not in plan.notice_keys or row["user_id"] not in methods:
        return True
    notice = wanted.get(key)
    return notice is not None and (notice.due != row["due"] or methods[row["user_id"]][0] != row["contact_method_id"])


async def _make_notice(
    conn: asyncpg.Connection, schedule_id: str, notice: Notice, method: tuple[str, str], now: datetime
) -> None:
    notification_id = await enqueue(conn, "shift_notice", notice.user_id, method[0], method[1], notice.text,
                                    notice.send_at, now)
    await conn.execute(
        "INSERT INTO shift_notices (schedule_id, user_id, kind, at, due, notification_id, created_at)"
        " VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6, $7)",
        schedule_id, notice.user_id, notice.kind.value, notice.at, notice.due, notification_id, now,
    )


async def _apply_checks(
    conn: asyncpg.Connection, schedule_id: str, plan: Plan, now: datetime, check_text: Callable[[Check, str], str],
) -> Planned:
    waiting = await conn.fetch(
        "SELECT c.id, c.user_id::text, c.shift_start, c.notification_id, n.status FROM reachability_checks c"
        " LEFT JOIN notifications n ON n.id = c.notification_id"
        " WHERE c.schedule_id = $1::uuid AND c.status = 'waiting' AND c.shift_start > $2",
        schedule_id, now,
    )
    gone = [r for r in waiting if (r["user_id"], r["shift_start"]) not in plan.check_keys]
    unsent = [r for r in gone if r["status"] in (None, "pending")]
    if gone:
        await _cancel(conn, [r["notification_id"] for r in unsent if r["notification_id"] is not None], now)
        await conn.execute("DELETE FROM reachability_checks WHERE id = ANY($1::uuid[])", [r["id"] for r in unsent])
        await conn.execute(
            "UPDATE reachability_checks SET status = 'cancelled', note = $2 WHERE id = ANY($1::uuid[])",
            [r["id"] for r in gone if r not in unsent], CHANGED)
    known = {(r["user_id"], r["shift_start"]) for r in await conn.fetch(
        "SELECT user_id::text, shift_start FROM reachability_checks WHERE schedule_id = $1::uuid AND shift_start > $2",
        schedule_id, now)}
    fresh = [c for c in plan.checks if (c.user_id, c.shift_start) not in known]
    reach = await page_recipients(conn, [c.user_id for c in fresh])
    channels: set[str] = set()
    for check in fresh:
        channel = await _make_check(conn, schedule_id, check, reach.get(check.user_id), now, check_text)
        if channel is not None and check.send_at <= now:
            channels.add(channel)
    return Planned(len(fresh), len(gone), frozenset(channels))


async def _make_check(
    conn: asyncpg.Connection, schedule_id: str, check: Check, person: Recipient | None, now: datetime,
    check_text: Callable[[Check, str], str],
) -> str | None:
    """The check and its test page; the page's channel, or None when the person has no
    contact method (the check waits, and is missed at the shift's start)."""
    token = secrets.token_urlsafe(24)
    notification_id, note = None, None
    if person is not None and person.method_id is not None and person.channel is not None:
        notification_id = await enqueue(conn, "reachability_check", check.user_id, person.method_id, person.channel,
                                        check_text(check, token), check.send_at, now)
    else:
        note = "no contact method reaches this person"
    await conn.execute(
        "INSERT INTO reachability_checks (id, schedule_id, user_id, shift_start, send_at, token_hash,"
        " notification_id, note, created_at) VALUES ($1, $2::uuid, $3::uuid, $4, $5, $6, $7, $8, $9)",
        str(uuid.uuid4()), schedule_id, check.user_id, check.shift_start, check.send_at, token_hash(token),
        notification_id, note, now,
    )
    return person.channel if notification_id is not None and person is not None else None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# -- outcomes of checks --------------------------------------------------------------------


async def claim_missed(conn: asyncpg.Connection, now: datetime, limit: int) -> list[dict[str, Any]]:
    """Checks still waiting when their shift started, locked for the transaction, with the
    schedule's name, zone and owner and the checked person's name."""
    rows = await conn.fetch(
        "SELECT c.id::text, c.schedule_id::text, c.user_id::text, c.shift_start, s.name AS schedule_name,"
        " s.owner_id::text, u.name AS user_name FROM reachability_checks c"
        " JOIN schedules s ON s.id = c.schedule_id JOIN users u ON u.id = c.user_id"
        " WHERE c.status = 'waiting' AND c.shift_start <= $1 ORDER BY c.shift_start LIMIT $2"
        " FOR UPDATE OF c SKIP LOCKED",
        now, limit,
    )
    return [dict(r) for r in rows]


async def mark_missed(conn: asyncpg.Connection, check_id: str, told: list[str], note: str | None,
                      now: datetime) -> None:
    await conn.execute(
        "UPDATE reachability_checks SET status = 'missed', missed_at = $2, told = $3::uuid[],"
        " note = coalesce($4, note) WHERE id = $1::uuid",
        check_id, now, told, note,
    )


async def policies_paging(conn: asyncpg.Connection, schedule_id: str) -> list[dict[str, Any]]:
    """The levels and repeat of each escalation policy with a level that pages the schedule."""
    wanted = orjson.dumps([{"targets": [{"type": "schedule", "id": schedule_id}]}]).decode()
    rows = await conn.fetch(
        "SELECT levels::text AS levels, repeat FROM escalation_policies WHERE levels @> $1::jsonb ORDER BY created_at, id",
        wanted)
    return [{"levels": orjson.loads(r["levels"]), "repeat": r["repeat"]} for r in rows]


async def acknowledge(conn: asyncpg.Connection, token: str, now: datetime) -> dict[str, Any] | None:
    """Acknowledges the check this token belongs to if it is still waiting; the check as it
    then is (its status says whether this did it), or None for a token of no check."""
    async with conn.transaction():
        row = await conn.fetchrow(
            "SELECT id::text, status FROM reachability_checks WHERE token_hash = $1 FOR UPDATE", token_hash(token))
        if row is None:
            return None
        if row["status"] == "waiting":
            await conn.execute(
                "UPDATE reachability_checks SET status = 'acknowledged', acknowledged_at = $2 WHERE id = $1::uuid",
                row["id"], now)
        found = await conn.fetchrow(
            f"SELECT {_CHECK_COLUMNS}, $2::text AS before FROM reachability_checks c"
            " JOIN users u ON u.id = c.user_id LEFT JOIN notifications n ON n.id = c.notification_id"
            " WHERE c.id = $1::uuid", row["id"], row["status"])
        return dict(found)


async def list_checks(conn: asyncpg.Connection, schedule_id: str, limit: int) -> list[dict[str, Any]]:
    """The schedule's checks, the latest shift first."""
    rows = await conn.fetch(
        f"SELECT {_CHECK_COLUMNS} FROM reachability_checks c JOIN users u ON u.id = c.user_id"
        " LEFT JOIN notifications n ON n.id = c.notification_id"
        " WHERE c.schedule_id = $1::uuid ORDER BY c.shift_start DESC, c.created_at DESC LIMIT $2",
        schedule_id, limit,
    )
    return [dict(r) for r in rows]
