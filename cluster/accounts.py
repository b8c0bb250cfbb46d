"""Accounts from the command line and at deployment: the first admin from the settings (at
`tocsin up`, or when a Serve config deploys Tocsin on a cluster), else a one-time setup link
to create one from a browser, and setting a password with `tocsin user set-password`,
straight in the database (no API token needed)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar
from urllib.parse import quote

import asyncpg

from tocsin.actors.domain.accounts import setup
from tocsin.actors.domain.accounts.credentials import digest
from tocsin.actors.domain.accounts.passwords import MIN_LENGTH, hash_password
from tocsin.actors.settings import Settings
from tocsin.actors.store import accounts, sessions, setup_tokens

log = logging.getLogger(__name__)
T = TypeVar("T")


class AccountProblem(ValueError):
    """Something the person at the terminal can fix: the message says what."""


def password_problem(password: str) -> str | None:
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    return None


def ensure_configured_admin(settings: Settings, database_url: str) -> str | None:
    """With TOCSIN_ADMIN_EMAIL and TOCSIN_ADMIN_PASSWORD both set, make sure that user is an
    admin who can log in; what was done, or None when they are not both set."""
    if not settings.admin_email or settings.admin_password is None:
        if settings.admin_email or settings.admin_password is not None:
            log.warning("TOCSIN_ADMIN_EMAIL and TOCSIN_ADMIN_PASSWORD work together; one alone is ignored")
        return None
    done = ensure_admin(database_url, settings.admin_email, settings.admin_password.get_secret_value())
    log.info("admin user %s: %s", settings.admin_email, done)
    return done


def ensure_admin(database_url: str, email: str, password: str) -> str:
    """Make `email` an admin who can log in (see tocsin.actors.store.accounts.ensure_admin); what was done."""
    problem = password_problem(password)
    if problem:
        raise AccountProblem(f"TOCSIN_ADMIN_PASSWORD: {problem}")
    name = email.split("@", 1)[0] or email
    return asyncio.run(_with_connection(database_url, lambda conn: accounts.ensure_admin(
        conn, email, name, hash_password(password))))


def setup_link(settings: Settings, database_url: str) -> str | None:
    """When nobody can log in, a new one-time link to the page that creates the first admin
    (valid for setup.LIFETIME, used once); None when someone can log in already."""
    token = setup.new_setup_token()

    async def issue(conn: asyncpg.Connection) -> bool:
        async with conn.transaction():
            await setup_tokens.lock(conn)
            if await accounts.someone_can_log_in(conn):
                return False
            now = datetime.now(UTC)
            await setup_tokens.issue(conn, digest(token), now, setup.expiry(now))
            return True

    if not asyncio.run(_with_connection(database_url, issue)):
        return None
    return f"{settings.reachable_url}/ui/setup?token={quote(token)}"


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
