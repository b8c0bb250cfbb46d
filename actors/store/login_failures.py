"""Failed logins, one row each, read back as the times that fall in the sliding window
(tocsin.actors.domain.accounts.lockout decides what they allow). Kept in Postgres so that every gateway
replica counts the same attempts.

An attempt is counted before its password is checked, under advisory locks on its account
and its address (`locked`): attempts in parallel count one after the other, so no more of
them get to check a password than the limits allow."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import asyncpg

# Advisory lock classes (the first key of pg_advisory_xact_lock's two-key form, whose key
# space is apart from the one-key form's that migrations and retention use). Accounts are
# always locked before addresses, so two attempts never wait for each other in a cycle.
_ACCOUNT_LOCKS = 1
_ADDRESS_LOCKS = 2


@asynccontextmanager
async def locked(conn: asyncpg.Connection, account: str, address: str) -> AsyncIterator[None]:
    """A transaction in which no other attempt against `account` or from `address` counts
    or is counted: read the failures, decide, record, and only then let the next one in."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _ACCOUNT_LOCKS, account)
        await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _ADDRESS_LOCKS, address)
        yield


async def since(
    conn: asyncpg.Connection, account: str, address: str, start: datetime
) -> tuple[list[datetime], list[datetime]]:
    """The times of the failures after `start`: against `account`, and from `address`."""
    rows = await conn.fetch(
        "SELECT 'account' AS what, at FROM login_failures WHERE account = $1 AND at > $3"
        " UNION ALL SELECT 'address', at FROM login_failures WHERE address = $2 AND at > $3",
        account, address, start,
    )
    return ([r["at"] for r in rows if r["what"] == "account"],
            [r["at"] for r in rows if r["what"] == "address"])


async def record(conn: asyncpg.Connection, account: str, address: str, at: datetime, prune_before: datetime) -> int:
    """Count a failure, and return its id; rows that left every window go at the same time,
    so the table stays small."""
    async with conn.transaction():
        await conn.execute("DELETE FROM login_failures WHERE at <= $1", prune_before)
        failure_id: int = await conn.fetchval(
            "INSERT INTO login_failures (account, address, at) VALUES ($1, $2, $3) RETURNING id", account, address, at)
    return failure_id


async def forget(conn: asyncpg.Connection, failure_id: int) -> None:
    """An attempt counted beforehand that turned out right."""
    await conn.execute("DELETE FROM login_failures WHERE id = $1", failure_id)


async def forget_account(conn: asyncpg.Connection, account: str) -> None:
    """After a successful login, the account's earlier failures no longer count against it
    (the address's still do)."""
    await conn.execute("DELETE FROM login_failures WHERE account = $1", account)
