"""Queries behind answers from phones: reply codes, who is on the other end, texts switched
off and on (STOP, START), the requests already acted on, and delivery reports.

A reply code is a small number per contact method naming one incident: "3a" acknowledges the
incident this contact method knows as 3. The sender gives them out for a whole claim at once,
with `reply_codes_for`.
A phone number can belong to several contact methods (and people); a reply names the
incident by the newest code it matches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

_ATTEMPTS = 20

# Delivery reports can arrive out of order; one that says how it ended is not replaced by
# one that says it is still on its way.
FINAL_STATUSES = ("delivered", "undelivered", "failed", "read", "completed", "busy", "no-answer", "canceled")


@dataclass(frozen=True, slots=True)
class Target:
    """The incident a reply or a key press acts on, and the person acting."""

    incident_id: int
    service_id: str
    person: str
    user_id: str


@dataclass(frozen=True, slots=True)
class CallSubject:
    """What a call reads out for one notification."""

    incident_id: int
    service_id: str
    service: str
    summary: str
    urgency: str
    person: str
    user_id: str


# Per (contact method, incident) wanted: the code it has, else the next numbers after the
# contact method's highest, in the order wanted; NULL when the contact method or the incident
# is gone. `known` and `gone` read the table as it was before the insert; a code another
# sender took meanwhile is skipped by ON CONFLICT, left out of the answer and asked for again.
_REPLY_CODES = """
WITH wanted AS (
    SELECT DISTINCT ON (contact_method_id, incident_id) contact_method_id, incident_id, position
    FROM unnest($1::uuid[], $2::bigint[]) WITH ORDINALITY AS w(contact_method_id, incident_id, position)
    ORDER BY contact_method_id, incident_id, position
), known AS (
    SELECT r.contact_method_id, r.incident_id, r.code
    FROM reply_codes r JOIN wanted w USING (contact_method_id, incident_id)
), gone AS (
    SELECT w.contact_method_id, w.incident_id FROM wanted w
    WHERE NOT EXISTS (SELECT FROM contact_methods c WHERE c.id = w.contact_method_id)
       OR NOT EXISTS (SELECT FROM incidents i WHERE i.id = w.incident_id)
), new AS (
    INSERT INTO reply_codes (contact_method_id, code, incident_id)
    SELECT w.contact_method_id,
           coalesce((SELECT max(r.code) FROM reply_codes r WHERE r.contact_method_id = w.contact_method_id), 0)
               + row_number() OVER (PARTITION BY w.contact_method_id ORDER BY w.position),
           w.incident_id
    FROM wanted w
    WHERE NOT EXISTS (SELECT FROM known k
                      WHERE k.contact_method_id = w.contact_method_id AND k.incident_id = w.incident_id)
      AND NOT EXISTS (SELECT FROM gone g
                      WHERE g.contact_method_id = w.contact_method_id AND g.incident_id = w.incident_id)
    ON CONFLICT DO NOTHING
    RETURNING contact_method_id, incident_id, code
)
SELECT contact_method_id::text, incident_id, code FROM known
UNION ALL SELECT contact_method_id::text, incident_id, code FROM new
UNION ALL SELECT contact_method_id::text, incident_id, NULL FROM gone
"""

Recipient = tuple[str, int]  # (contact method id, incident id)


async def reply_codes_for(conn: asyncpg.Connection, wanted: Sequence[Recipient]) -> dict[Recipient, int | None]:
    """The code each contact method knows each incident by: the one it was given before, or
    the next numbers after its highest, given in the order wanted; None when the contact
    method or the incident no longer exists. One statement for all of them; safe when senders
    race: a number another took meanwhile is asked for again."""
    codes: dict[Recipient, int | None] = {}
    missing = list(dict.fromkeys(wanted))
    for _ in range(_ATTEMPTS):
        if not missing:
            return codes
        rows = await conn.fetch(_REPLY_CODES, [m for m, _ in missing], [i for _, i in missing])
        codes.update(((r[0], r[1]), r[2]) for r in rows)
        missing = [w for w in missing if w not in codes]
    if missing:
        raise RuntimeError(f"no reply code for contact methods {sorted({m for m, _ in missing})} after"
                           f" {_ATTEMPTS} tries")
    return codes


async def reply_code_for(conn: asyncpg.Connection, contact_method_id: str, incident_id: int) -> int:
    """The code this contact method knows the incident by (see `reply_codes_for`)."""
    code = (await reply_codes_for(conn, [(contact_method_id, incident_id)]))[(contact_method_id, incident_id)]
    if code is None:
        raise LookupError(f"contact method {contact_method_id} or incident {incident_id} no longer exists")
    return code


async def target_of_code(conn: asyncpg.Connection, address: str, kind: str, code: int) -> Target | None:
    row = await conn.fetchrow(
        "SELECT i.id, i.service_id::text, u.name, u.id::text FROM reply_codes r"
        " JOIN contact_methods c ON c.id = r.contact_method_id"
        " JOIN users u ON u.id = c.user_id"
        " JOIN incidents i ON i.id = r.incident_id"
        " WHERE c.address = $1 AND c.kind = $2 AND r.code = $3"
        " ORDER BY r.created_at DESC LIMIT 1",
        address, kind, code,
    )
    return Target(row[0], row[1], row[2], row[3]) if row else None


async def set_enabled(conn: asyncpg.Connection, address: str, kind: str, enabled: bool) -> int:
    """Switch every contact method of this kind and address off or on; how many changed."""
    status: str = await conn.execute(
        "UPDATE contact_methods SET enabled = $3 WHERE address = $1 AND kind = $2 AND enabled <> $3",
        address, kind, enabled,
    )
    return int(status.split()[-1])


async def claim_request(conn: asyncpg.Connection, request_id: str, at: datetime) -> bool:
    """Whether the Twilio request `request_id` (what identifies it: a text's MessageSid, a
    call's CallSid and key) is new; it is remembered from now on, for every replica."""
    claimed: bool | None = await conn.fetchval(
        "INSERT INTO twilio_requests (id, received_at) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true",
        request_id, at,
    )
    return bool(claimed)


async def release_request(conn: asyncpg.Connection, request_id: str) -> None:
    """Forget a request that could not be acted on, so that the same request sent again is."""
    await conn.execute("DELETE FROM twilio_requests WHERE id = $1", request_id)


async def call_subject(conn: asyncpg.Connection, notification_id: int) -> CallSubject | None:
    row = await conn.fetchrow(
        "SELECT i.id, i.service_id::text, s.name, i.summary, i.urgency, u.name, u.id::text FROM notifications n"
        " JOIN incidents i ON i.id = n.incident_id"
        " JOIN services s ON s.id = i.service_id"
        " JOIN users u ON u.id = n.user_id"
        " WHERE n.id = $1",
        notification_id,
    )
    return CallSubject(*row) if row else None


async def record_delivery(conn: asyncpg.Connection, provider_message_id: str, status: str) -> bool:
    """Whether a notification sent with this provider message id took the report. The
    attempt that sent it records it too; a final status is not overwritten by a late one."""
    done: str = await conn.execute(
        "WITH attempt AS ("
        "  UPDATE notification_attempts SET delivery_status = $2, delivery_status_at = now()"
        "  WHERE provider_message_id = $1"
        "  AND ($2 = ANY($3::text[]) OR delivery_status IS NULL OR NOT delivery_status = ANY($3::text[])))"
        " UPDATE notifications SET delivery_status = $2"
        " WHERE provider_message_id = $1"
        " AND ($2 = ANY($3::text[]) OR delivery_status IS NULL OR NOT delivery_status = ANY($3::text[]))",
        provider_message_id, status, list(FINAL_STATUSES),
    )
    return done != "UPDATE 0"
