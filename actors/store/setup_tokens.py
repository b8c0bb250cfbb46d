"""One-time setup links (tocsin.actors.domain.accounts.setup decides what each allows): made,
found by the digest of their token, and used. Creating the first admin runs under `locked`, so
two links (or two clicks) used at once make one admin, not two."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from tocsin.actors.domain.accounts.setup import SetupToken

# Advisory lock class (two-key form, apart from login_failures' 1 and 2): one setup at a time.
_SETUP_LOCK = 3


async def issue(conn: asyncpg.Connection, token_hash: str, now: datetime, expires_at: datetime) -> None:
    """A new link; those expired go, so that the table keeps only what may still work."""
    await conn.execute("DELETE FROM setup_tokens WHERE expires_at <= $1", now)
    await conn.execute("INSERT INTO setup_tokens (token_hash, created_at, expires_at) VALUES ($1, $2, $3)",
                       token_hash, now, expires_at)


async def find(conn: asyncpg.Connection, token_hash: str) -> SetupToken | None:
    row = await conn.fetchrow("SELECT expires_at, used_at FROM setup_tokens WHERE token_hash = $1", token_hash)
    return SetupToken(row["expires_at"], row["used_at"]) if row else None


async def use_all(conn: asyncpg.Connection, now: datetime) -> None:
    """Every link still open is spent: the first admin exists, whichever link made it."""
    await conn.execute("UPDATE setup_tokens SET used_at = $1 WHERE used_at IS NULL", now)


async def lock(conn: asyncpg.Connection) -> None:
    """Inside a transaction: no other setup runs until it ends."""
    await conn.execute("SELECT pg_advisory_xact_lock($1, 0)", _SETUP_LOCK)
