"""The notification outbox as its senders see it: claim what is due, record how it went.

Rows are claimed with FOR UPDATE SKIP LOCKED, so any number of senders share the work
without sending a row twice; a claim is a lease, and a row whose sender died while it was
"sending" is claimable again once the lease has run out (at least once, never dropped).
A claim passes over the rows its sender still holds (sent, their outcome not yet written),
and says of each row whether its previous try's outcome is unknown (`in_doubt`: it was
left "sending"), so that a sender can ask its provider before sending it again.

Writing outcomes is idempotent: only rows still "sending" change, so writing a group again
after a commit whose answer was lost records nothing twice.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

import asyncpg

# Pending rows and rows whose lease ran out are looked for apart, each through its own
# partial index (notifications_due, notifications_leased) in the order sent, so that a claim
# reads about as many rows as it takes. Asked as one condition (pending, or sending with a
# lease run out), the planner could use neither index for the order: it read every row of the
# channel that matched and sorted them, some 4.5 ms of Postgres per claim with 10,000 rows due.
_CLAIM = """
WITH pending AS (
    SELECT id, false AS in_doubt, rank, send_at FROM notifications
    WHERE channel = $1 AND status = 'pending' AND send_at <= $2 AND rank <= $5 AND id <> ALL($6::bigint[])
    ORDER BY rank, send_at, id
    LIMIT $3
    FOR UPDATE SKIP LOCKED
), lapsed AS (
    SELECT id, true AS in_doubt, rank, send_at FROM notifications
    WHERE channel = $1 AND status = 'sending' AND claimed_until < $2 AND send_at <= $2 AND rank <= $5
      AND id <> ALL($6::bigint[])
    ORDER BY rank, send_at, id
    LIMIT $3
    FOR UPDATE SKIP LOCKED
), due AS (
    SELECT id, in_doubt FROM (SELECT * FROM pending UNION ALL SELECT * FROM lapsed) AS either
    ORDER BY rank, send_at, id
    LIMIT $3
)
UPDATE notifications AS n
SET status = 'sending', attempts = n.attempts + 1, claimed_until = $2 + make_interval(secs => $4),
    updated_at = $2
FROM due WHERE n.id = due.id
RETURNING n.id, n.kind, n.incident_id, n.service_id::text, n.page, n.level, n.pass, n.user_id::text,
          n.contact_method_id::text, n.channel, n.urgency, n.message, n.send_at, n.attempts, n.rank,
          due.in_doubt
"""

# What a sender needs besides the row: where to send it and what the incident is.
_CONTEXT = """
SELECT n.id, cm.address, cm.enabled, cm.push_p256dh, cm.push_auth, u.name AS user_name, s.name AS service_name, i.summary,
       i.status AS incident_status
FROM notifications n
LEFT JOIN contact_methods cm ON cm.id = n.contact_method_id
LEFT JOIN users u ON u.id = n.user_id
LEFT JOIN services s ON s.id = n.service_id
LEFT JOIN incidents i ON i.id = n.incident_id
WHERE n.id = ANY($1::bigint[])
"""


FIRST_OF_PAGE = 0  # the rank of a page's first notification
ANY_RANK = 32767


async def claim_due(
    conn: asyncpg.Connection, channel: str, now: datetime, limit: int = 100, lease_s: float = 60.0,
    max_rank: int = ANY_RANK, held: Collection[int] = (),
) -> list[dict[str, Any]]:
    """Claim up to `limit` rows of `channel` due by `now` and ranked at most `max_rank`, for
    `lease_s` seconds, in the order to send them: first notifications of pages, then by
    when they fell due. Rows in `held` are passed over, whatever their lease says: the
    caller holds them (it is sending them, or knows how they went and is writing it)."""
    rows = await conn.fetch(_CLAIM, channel, now, limit, lease_s, max_rank, list(held))
    return sorted((dict(r) for r in rows), key=lambda r: (r["rank"], r["send_at"], r["id"]))


async def context(conn: asyncpg.Connection, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Per claimed row: the contact method's address and state, the person, the incident."""
    return {r["id"]: dict(r) for r in await conn.fetch(_CONTEXT, list(ids))}


async def mark_sent(conn: asyncpg.Connection, ids: Sequence[int], now: datetime) -> None:
    await conn.execute(
        "UPDATE notifications SET status = 'sent', sent_at = $2, updated_at = $2, claimed_until = NULL"
        " WHERE id = ANY($1::bigint[]) AND status = 'sending'",
        list(ids), now,
    )


async def hold(conn: asyncpg.Connection, ids: Sequence[int], until: datetime, now: datetime) -> None:
    """Back to pending until `until`, the claim not counted as a round (a throttle held them)."""
    await conn.execute(
        "UPDATE notifications SET status = 'pending', send_at = $2, attempts = greatest(attempts - 1, 0),"
        " claimed_until = NULL, updated_at = $3 WHERE id = ANY($1::bigint[]) AND status = 'sending'",
        list(ids), until, now,
    )


async def unclaim(conn: asyncpg.Connection, ids: Sequence[int], in_doubt: Collection[int], now: datetime) -> None:
    """Claimed and never tried: claimable again now, the claim not counted as a round. Rows
    `in_doubt` stay so: "sending", their lease over just before `now`."""
    await conn.execute(
        "UPDATE notifications SET attempts = greatest(attempts - 1, 0), updated_at = $3,"
        " status = CASE WHEN id = ANY($2::bigint[]) THEN 'sending' ELSE 'pending' END,"
        " claimed_until = CASE WHEN id = ANY($2::bigint[]) THEN $3::timestamptz - interval '1 millisecond' END"
        " WHERE id = ANY($1::bigint[]) AND status = 'sending'",
        list(ids), list(in_doubt), now,
    )


async def finish(conn: asyncpg.Connection, notification_id: int, status: str, error: str, now: datetime) -> None:
    """Dead (every try failed) or cancelled (nowhere to send it), with the reason."""
    await conn.execute(_FINISH, notification_id, status, error, now)


class AttemptOutcome(Enum):
    """How one try at one provider went, as `notification_attempts.outcome` records it."""

    SENT = "sent"  # the provider took it
    FAILED = "failed"  # it did not, and may another time
    REJECTED = "rejected"  # it refused this message, and will again
    TIMEOUT = "timeout"  # no answer within the provider timeout
    CIRCUIT_OPEN = "circuit_open"  # not asked: its circuit breaker was open


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try at one provider, recorded with the row's outcome."""

    notification_id: int
    provider: str
    at: datetime  # when the request went out
    outcome: AttemptOutcome
    provider_message_id: str | None = None
    error: str | None = None
    latency_ms: float | None = None  # None: no request went out


class Settled(Enum):
    """Where a claimed row ends up once its tries are written."""

    SENT = "sent"
    DEAD = "dead"  # every round failed, or it never can go: with its error, for the API to list
    PENDING = "pending"  # tried again at `send_at`


@dataclass(frozen=True)
class Settlement:
    """How one claimed row's tries went, to be written with the others settled with it."""

    notification_id: int
    status: Settled
    at: datetime
    attempts: Sequence[Attempt]
    provider: str | None = None
    provider_message_id: str | None = None
    kind: str | None = None  # "bundle" when the message carried others
    message: str | None = None
    bundled: Sequence[int] = ()  # rows that went out inside this one
    error: str | None = None
    send_at: datetime | None = None
    # Dead because the provider said the address is gone (an expired push subscription): the
    # contact method is removed, and the person's next notification of the incident is due now.
    address_gone: bool = False


async def settle(conn: asyncpg.Connection, settlements: Sequence[Settlement]) -> None:
    """The outcomes of many rows in one transaction: a channel sending hundreds of messages
    a second commits (and waits for the disk) once per group, not once per message."""
    sent = [s for s in settlements if s.status is Settled.SENT]
    dead = [s for s in settlements if s.status is Settled.DEAD]
    again = [s for s in settlements if s.status is Settled.PENDING]
    async with conn.transaction():
        attempts = [(a.notification_id, a.provider, a.at, a.outcome.value, a.provider_message_id, a.error,
                     a.latency_ms) for s in settlements for a in s.attempts]
        if attempts:
            await conn.executemany(_RECORD_ATTEMPT, attempts)
        if sent:
            await conn.executemany(_DELIVERED, [
                (s.notification_id, s.at, s.provider, s.provider_message_id, s.kind, s.message) for s in sent])
        if any(s.bundled for s in sent):
            await conn.executemany(_BUNDLED, [(list(s.bundled), s.notification_id, s.at) for s in sent if s.bundled])
        if any(s.address_gone for s in dead):
            await conn.executemany(_ADDRESS_GONE, [(s.notification_id, s.at) for s in dead if s.address_gone])
        if dead:
            await conn.executemany(_FINISH, [(s.notification_id, "dead", s.error, s.at) for s in dead])
        if again:
            await conn.executemany(_RETRY_LATER, [(s.notification_id, s.send_at, s.error, s.at) for s in again])


# Each statement changes a row only while it is "sending": written again (a commit whose answer
# was lost), a settlement finds its rows settled and records nothing twice. Attempts go first,
# while the row still says "sending".
_RECORD_ATTEMPT = (
    "INSERT INTO notification_attempts (notification_id, provider, at, outcome, provider_message_id,"
    " error, latency_ms) SELECT $1, $2, $3, $4, $5, $6, $7"
    " WHERE EXISTS (SELECT FROM notifications WHERE id = $1 AND status = 'sending')")
# A bundle also records its kind and the text that went out.
_DELIVERED = (
    "UPDATE notifications SET status = 'sent', sent_at = $2, updated_at = $2, claimed_until = NULL,"
    " provider = $3, provider_message_id = $4, last_error = NULL,"
    " kind = coalesce($5, kind), message = coalesce($6, message)"
    " WHERE id = $1 AND status = 'sending'")
_BUNDLED = (
    "UPDATE notifications SET status = 'bundled', bundled_into = $2, claimed_until = NULL, updated_at = $3"
    " WHERE id = ANY($1::bigint[]) AND status = 'sending'")
_FINISH = (
    "UPDATE notifications SET status = $2, last_error = $3, claimed_until = NULL, updated_at = $4"
    " WHERE id = $1 AND status = 'sending'")
# Before the row is finished, while it still says "sending" (so written again, it does nothing):
# its contact method goes, and the earliest of the person's pending notifications of the same
# incident through another method is made due now, so that it takes over at once.
_ADDRESS_GONE = """
WITH gone AS (
    SELECT user_id, incident_id, contact_method_id FROM notifications WHERE id = $1 AND status = 'sending'
), removed AS (
    DELETE FROM contact_methods WHERE id = (SELECT contact_method_id FROM gone)
), next AS (
    SELECT n.id FROM notifications n JOIN gone g ON n.incident_id = g.incident_id AND n.user_id = g.user_id
    WHERE n.status = 'pending' AND n.contact_method_id <> g.contact_method_id AND n.send_at > $2
    ORDER BY n.send_at, n.id LIMIT 1
)
UPDATE notifications SET send_at = $2, updated_at = $2 WHERE id IN (SELECT id FROM next)
"""
_RETRY_LATER = (
    "UPDATE notifications SET status = 'pending', send_at = $2, last_error = coalesce($3, last_error),"
    " claimed_until = NULL, updated_at = $4 WHERE id = $1 AND status = 'sending'")


async def recent_sends(
    conn: asyncpg.Connection, contact_method_ids: Sequence[str], since: datetime
) -> dict[str, list[datetime]]:
    rows = await conn.fetch(
        "SELECT contact_method_id::text, sent_at FROM notifications"
        " WHERE contact_method_id = ANY($1::uuid[]) AND status = 'sent' AND sent_at > $2",
        list(contact_method_ids), since,
    )
    found: dict[str, list[datetime]] = {}
    for r in rows:
        found.setdefault(r["contact_method_id"], []).append(r["sent_at"])
    return found


async def release_claims(conn: asyncpg.Connection, channel: str, until: datetime) -> int:
    """Shorten the leases of every row of `channel` left "sending" to end at `until`, so that
    they are claimable then; the number of rows. Only for a sender that knows the claimant
    is dead."""
    status: str = await conn.execute(
        "UPDATE notifications SET claimed_until = $2"
        " WHERE channel = $1 AND status = 'sending' AND claimed_until > $2",
        channel, until,
    )
    return int(status.rsplit(" ", 1)[-1])


async def recorded(conn: asyncpg.Connection, provider: str, message_ids: Sequence[str]) -> set[str]:
    """Which of these ids of `provider`'s messages an attempt records as sent."""
    rows = await conn.fetch(
        "SELECT DISTINCT provider_message_id FROM notification_attempts"
        " WHERE provider_message_id = ANY($2::text[]) AND provider = $1 AND outcome = 'sent'",
        provider, list(message_ids),
    )
    return {r[0] for r in rows}


async def next_due(conn: asyncpg.Connection, channel: str, held: Collection[int] = ()) -> datetime | None:
    """When the channel's next pending row is due (or a lease runs out), the rows in `held`
    aside (see `claim_due`)."""
    at: datetime | None = await conn.fetchval(
        "SELECT least((SELECT min(send_at) FROM notifications WHERE channel = $1 AND status = 'pending'),"
        " (SELECT min(claimed_until) FROM notifications WHERE channel = $1 AND status = 'sending'"
        "  AND id <> ALL($2::bigint[])))",
        channel, list(held),
    )
    return at
