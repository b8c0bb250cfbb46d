"""Logging in: a user found by e-mail with their password hash, and setting that hash.

Only hashes are stored (tocsin.actors.domain.accounts.passwords makes them). The users table's trigger
bumps the paging epoch on any change, a password change included: harmless, and rare.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from tocsin.actors.store.rows import one
from tocsin.actors.store.users import create_user

_LOGIN = "id::text, name, email, role, password_hash, break_glass"


async def find_by_email(conn: asyncpg.Connection, email: str) -> dict[str, Any] | None:
    """E-mail addresses are unique whatever their case (users_email is on lower(email))."""
    return one(await conn.fetchrow(f"SELECT {_LOGIN} FROM users WHERE lower(email) = lower($1)", email.strip()))


async def find_by_id(conn: asyncpg.Connection, user_id: str) -> dict[str, Any] | None:
    return one(await conn.fetchrow(f"SELECT {_LOGIN} FROM users WHERE id = $1::uuid", user_id))


async def someone_can_log_in(conn: asyncpg.Connection) -> bool:
    """Whether any user has a password (the only way to log in to the dashboard)."""
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM users WHERE password_hash IS NOT NULL)"))


async def set_password(conn: asyncpg.Connection, user_id: str, password_hash: str) -> bool:
    """Whether there was such a user."""
    status: str = await conn.execute(
        "UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1::uuid", user_id, password_hash
    )
    return status == "UPDATE 1"


async def ensure_admin(conn: asyncpg.Connection, email: str, name: str, password_hash: str) -> str:
    """Make the user with `email` a break-glass admin who can log in (with a password even
    when passwords are kept for break-glass users only): created with this password when
    missing; an existing user is made so and given the password only if they have none (a
    password changed since is kept). Says which of these it did."""
    async with conn.transaction():
        row = await conn.fetchrow(
            "SELECT id::text, role, break_glass, password_hash IS NOT NULL AS has_password FROM users"
            " WHERE lower(email) = lower($1) FOR UPDATE",
            email,
        )
        if row is None:
            user = await create_user(conn, name=name, email=email, time_zone="UTC", role="admin", break_glass=True)
            await set_password(conn, user["id"], password_hash)
            return "created"
        done = []
        if row["role"] != "admin":
            await conn.execute("UPDATE users SET role = 'admin', updated_at = now() WHERE id = $1::uuid", row["id"])
            done.append("made admin")
        if not row["break_glass"]:
            await conn.execute("UPDATE users SET break_glass = true, updated_at = now() WHERE id = $1::uuid", row["id"])
            done.append("made break-glass")
        if not row["has_password"]:
            await set_password(conn, row["id"], password_hash)
            done.append("password set")
        return ", ".join(done) or "unchanged"
