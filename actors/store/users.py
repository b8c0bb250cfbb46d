"""Users, the ways to reach them (contact methods) and when to use each (notification rules).

Every write here bumps the paging epoch (triggers in 002_paging.sql), so the shards see a
change at their next page.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import asyncpg

from tocsin.actors.store.rows import assignments, delete_one, one

_USER = ("id::text, name, email, time_zone, role, calendar_token, slack_user_id, break_glass,"
         " oidc_subject IS NOT NULL AS single_sign_on, created_at, updated_at")
_METHOD = "id::text, user_id::text, kind, address, label, verified, created_at"
_RULE = "id::text, user_id::text, contact_method_id::text, urgency, delay_minutes, created_at"
_USER_EDITABLE = ("name", "email", "time_zone", "role", "break_glass")
_METHOD_EDITABLE = ("address", "label", "verified")
_FORGET_CODE = ("verification_code_hash = NULL", "verification_expires_at = NULL", "verification_failures = 0")


def new_calendar_token() -> str:
    return secrets.token_urlsafe(24)


async def create_user(
    conn: asyncpg.Connection, name: str, email: str, time_zone: str, role: str, break_glass: bool = False
) -> dict[str, Any]:
    """Raises asyncpg.UniqueViolationError when another user has this e-mail address."""
    row = await conn.fetchrow(
        "INSERT INTO users (id, name, email, time_zone, role, calendar_token, break_glass)"
        f" VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_USER}",
        str(uuid.uuid4()), name, email, time_zone, role, new_calendar_token(), break_glass,
    )
    return dict(row)


async def list_users(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(f"SELECT {_USER} FROM users ORDER BY name, id")]


async def get_user(conn: asyncpg.Connection, user_id: str) -> dict[str, Any] | None:
    return one(await conn.fetchrow(f"SELECT {_USER} FROM users WHERE id = $1::uuid", user_id))


async def update_user(conn: asyncpg.Connection, user_id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
    """Raises asyncpg.UniqueViolationError when the new e-mail address is taken."""
    sets, values = assignments(changes, _USER_EDITABLE, 2, "updated_at = now()")
    row = await conn.fetchrow(
        f"UPDATE users SET {sets} WHERE id = $1::uuid RETURNING {_USER}",
        user_id, *values,
    )
    return one(row)


async def delete_user(conn: asyncpg.Connection, user_id: str) -> bool:
    """Its contact methods, notification rules and schedule overrides go with it."""
    return await delete_one(conn, "DELETE FROM users WHERE id = $1::uuid", user_id)


async def count_contact_methods(conn: asyncpg.Connection, user_id: str) -> int | None:
    """How many contact methods the user has; None when there is no such user. The user's
    row stays locked until the transaction ends, so that requests adding a method to the
    same user count one after the other."""
    count: int | None = await conn.fetchval(
        "SELECT (SELECT count(*) FROM contact_methods c WHERE c.user_id = u.id) FROM users u"
        " WHERE u.id = $1::uuid FOR NO KEY UPDATE",
        user_id,
    )
    return count


async def create_contact_method(
    conn: asyncpg.Connection, user_id: str, kind: str, address: str, label: str, verified: bool
) -> dict[str, Any]:
    row = await conn.fetchrow(
        "INSERT INTO contact_methods (id, user_id, kind, address, label, verified)"
        f" VALUES ($1, $2::uuid, $3, $4, $5, $6) RETURNING {_METHOD}",
        str(uuid.uuid4()), user_id, kind, address, label, verified,
    )
    return dict(row)


async def list_contact_methods(conn: asyncpg.Connection, user_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {_METHOD} FROM contact_methods WHERE user_id = $1::uuid ORDER BY created_at, id", user_id
    )
    return [dict(r) for r in rows]


async def get_contact_method(conn: asyncpg.Connection, user_id: str, method_id: str) -> dict[str, Any] | None:
    return one(await conn.fetchrow(
        f"SELECT {_METHOD} FROM contact_methods WHERE id = $1::uuid AND user_id = $2::uuid", method_id, user_id
    ))


async def update_contact_method(
    conn: asyncpg.Connection, user_id: str, method_id: str, changes: dict[str, Any], forget_code: bool = False
) -> dict[str, Any] | None:
    """`forget_code` drops the outstanding verification code: it was used, or it went to
    an address the method no longer has."""
    sets, values = assignments(changes, _METHOD_EDITABLE, 3, *(_FORGET_CODE if forget_code else ()))
    if not sets:
        return await get_contact_method(conn, user_id, method_id)
    row = await conn.fetchrow(
        f"UPDATE contact_methods SET {sets} WHERE id = $1::uuid AND user_id = $2::uuid"
        f" RETURNING {_METHOD}",
        method_id, user_id, *values,
    )
    return one(row)


async def delete_contact_method(conn: asyncpg.Connection, user_id: str, method_id: str) -> bool:
    """Its notification rules go with it."""
    return await delete_one(
        conn, "DELETE FROM contact_methods WHERE id = $1::uuid AND user_id = $2::uuid", method_id, user_id
    )


async def create_rule(
    conn: asyncpg.Connection, user_id: str, method_id: str, urgency: str, delay_minutes: int
) -> dict[str, Any] | None:
    """None when the contact method is not the user's. Raises asyncpg.UniqueViolationError when
    the user already has this rule (same method, urgency and delay)."""
    row = await conn.fetchrow(
        "INSERT INTO notification_rules (id, user_id, contact_method_id, urgency, delay_minutes)"
        " SELECT $1::uuid, user_id, id, $4::text, $5::integer FROM contact_methods"
        " WHERE id = $3::uuid AND user_id = $2::uuid"
        f" RETURNING {_RULE}",
        str(uuid.uuid4()), user_id, method_id, urgency, delay_minutes,
    )
    return one(row)


async def list_rules(conn: asyncpg.Connection, user_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {_RULE} FROM notification_rules WHERE user_id = $1::uuid"
        " ORDER BY urgency, delay_minutes, created_at, id",
        user_id,
    )
    return [dict(r) for r in rows]


async def delete_rule(conn: asyncpg.Connection, user_id: str, rule_id: str) -> bool:
    return await delete_one(
        conn, "DELETE FROM notification_rules WHERE id = $1::uuid AND user_id = $2::uuid", rule_id, user_id
    )


# -- shift notices ------------------------------------------------------------------------

_SHIFT_NOTICES = "shift_notice_method_id::text AS contact_method_id, shift_notice_lead_minutes AS lead_minutes"


async def get_shift_notices(conn: asyncpg.Connection, user_id: str) -> dict[str, Any] | None:
    """Where the user hears of their shifts (a contact method id; None: nowhere) and how many
    minutes before one starts; None when there is no such user."""
    return one(await conn.fetchrow(f"SELECT {_SHIFT_NOTICES} FROM users WHERE id = $1::uuid", user_id))


async def set_shift_notices(
    conn: asyncpg.Connection, user_id: str, method_id: str | None, lead_minutes: int
) -> dict[str, Any] | None:
    """None when there is no such user, or the contact method is not theirs."""
    return one(await conn.fetchrow(
        "UPDATE users SET shift_notice_method_id = $2::uuid, shift_notice_lead_minutes = $3, updated_at = now()"
        " WHERE id = $1::uuid AND ($2::uuid IS NULL OR EXISTS"
        "  (SELECT FROM contact_methods WHERE id = $2::uuid AND user_id = $1::uuid))"
        f" RETURNING {_SHIFT_NOTICES}",
        user_id, method_id, lead_minutes,
    ))
