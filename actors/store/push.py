"""Browser push subscriptions as contact methods, and the actions taken from push notifications.

A subscription is a `webpush` contact method whose address is its endpoint, verified from the
start: only the browser that holds it could have given it. One endpoint is one contact method
(a unique index): a browser subscribing again updates its keys, and a browser whose subscription
was someone else's (another account signed in on the same device) becomes the new user's, the
other's method and its rules removed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from tocsin.actors.store.rows import one

_METHOD = "id::text, user_id::text, kind, address, label, verified, created_at"


async def subscribe(conn: asyncpg.Connection, user_id: str, endpoint: str, p256dh: str, auth: str,
                    label: str) -> tuple[dict[str, Any], bool]:
    """The user's contact method for this subscription, and whether it is new. Call inside a
    transaction, after counting the user's methods (`users.count_contact_methods` locks the user)."""
    await conn.execute("DELETE FROM contact_methods WHERE kind = 'webpush' AND address = $1 AND user_id <> $2::uuid",
                       endpoint, user_id)
    kept = await conn.fetchrow(
        "UPDATE contact_methods SET push_p256dh = $3, push_auth = $4, label = coalesce(nullif($5, ''), label),"
        " enabled = true WHERE kind = 'webpush' AND address = $1 AND user_id = $2::uuid"
        f" RETURNING {_METHOD}",
        endpoint, user_id, p256dh, auth, label)
    if kept is not None:
        return dict(kept), False
    row = await conn.fetchrow(
        "INSERT INTO contact_methods (id, user_id, kind, address, label, verified, push_p256dh, push_auth)"
        f" VALUES ($1, $2::uuid, 'webpush', $3, $4, true, $5, $6) RETURNING {_METHOD}",
        str(uuid.uuid4()), user_id, endpoint, label, p256dh, auth)
    return dict(row), True


async def subscribed(conn: asyncpg.Connection, user_id: str, endpoint: str) -> bool:
    """Whether the user has a contact method for this subscription."""
    return bool(await conn.fetchval(
        "SELECT true FROM contact_methods WHERE kind = 'webpush' AND address = $1 AND user_id = $2::uuid",
        endpoint, user_id))


async def unsubscribe(conn: asyncpg.Connection, user_id: str, endpoint: str) -> bool:
    """Remove the user's contact method for this subscription (and its rules)."""
    status: str = await conn.execute(
        "DELETE FROM contact_methods WHERE kind = 'webpush' AND address = $1 AND user_id = $2::uuid",
        endpoint, user_id)
    return status != "DELETE 0"


@dataclass(frozen=True, slots=True)
class ActionTarget:
    """What a push notification's action acts on, and as whom."""

    notification_id: int
    incident_id: int
    service_id: str
    user_id: str
    user_name: str
    incident_status: str | None  # None: the incident is gone
    sent_at: datetime


async def action_target(conn: asyncpg.Connection, notification_id: int) -> ActionTarget | None:
    """The page notification `notification_id` and its incident; None for any other row."""
    row = one(await conn.fetchrow(
        "SELECT n.id, n.incident_id, n.service_id::text, u.id::text AS user_id, u.name AS user_name, i.status,"
        " coalesce(n.sent_at, n.created_at) AS sent_at"
        " FROM notifications n JOIN users u ON u.id = n.user_id LEFT JOIN incidents i ON i.id = n.incident_id"
        " WHERE n.id = $1 AND n.channel = 'webpush' AND n.incident_id IS NOT NULL",
        notification_id))
    if row is None:
        return None
    return ActionTarget(row["id"], row["incident_id"], row["service_id"], row["user_id"], row["user_name"],
                        row["status"], row["sent_at"])


async def claim_action(conn: asyncpg.Connection, use_id: str, at: datetime) -> bool:
    """Whether this action (`push_actions.use_id`) is taken for the first time; it is
    remembered from now on, for every replica."""
    claimed: bool | None = await conn.fetchval(
        "INSERT INTO push_actions (id, received_at) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true",
        use_id, at)
    return bool(claimed)


async def release_action(conn: asyncpg.Connection, use_id: str) -> None:
    """Forget an action that could not be recorded, so that the same token may be used again."""
    await conn.execute("DELETE FROM push_actions WHERE id = $1", use_id)
