"""Accounts from the command line: the first admin at `tocsin up`, and setting a password
with `tocsin user set-password`, straight in the database (no API token needed)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

from actors.domain.passwords import MIN_LENGTH, hash_password
from actors.store import accounts, sessions

T = TypeVar("T")


class AccountProblem(ValueError):
    """Something the person at the terminal can fix: the message says what."""


def password_problem(password: str) -> str | None:
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    return None


def ensure_admin(database_url: str, email: str, password: str) -> str:
    """Make `email` an admin who can log in (see actors.store.accounts.ensure_admin); what was done."""
    problem = password_problem(password)
    if problem:
        raise AccountProblem(f"TOCSIN_ADMIN_PASSWORD: {problem}")
    name = email.split("@", 1)[0] or email
    return asyncio.run(_with_connection(database_url, lambda conn: accounts.ensure_admin(
        conn, email, name, hash_password(password))))


def set_password(database_url: str, email: str, password: str) -> None:
    """Set the password of the user with `email` and end their sessions."""
    problem = password_problem(password)
    if problem:
        raise AccountProblem(problem)
    new_hash = hash_password(password)

    async def apply(conn: asyncpg.Connection) -> None:
        user = await accounts.find_by_email(conn, email)
        if user is None:
            raise AccountProblem(f"no user has the e-mail address {email}; create one with POST /api/v1/users"
                                 " or set TOCSIN_ADMIN_EMAIL and TOCSIN_ADMIN_PASSWORD for `tocsin up`")
        async with conn.transaction():
            await accounts.set_password(conn, user["id"], new_hash)
            await sessions.end_for_user(conn, user["id"])

    asyncio.run(_with_connection(database_url, apply))


async def _with_connection(database_url: str, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    conn = await asyncpg.connect(database_url)
    try:
        return await work(conn)
    finally:
        await conn.close()
