"""Failed logins, one row each, read back as the times that fall in the sliding window
(actors.domain.lockout decides what they allow). Kept in Postgres so that every gateway
replica counts the same attempts."""

from __future__ import annotations

from datetime import datetime

import asyncpg


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


async def record(conn: asyncpg.Connection, account: str, address: str, at: datetime, prune_before: datetime) -> None:
    """Count a failure; rows that left every window go at the same time, so the table stays small."""
    async with conn.transaction():
        await conn.execute("DELETE FROM login_failures WHERE at <= $1", prune_before)
        await conn.execute("INSERT INTO login_failures (account, address, at) VALUES ($1, $2, $3)",
                           account, address, at)


async def forget_account(conn: asyncpg.Connection, account: str) -> None:
    """After a successful login, the account's earlier failures no longer count against it
    (the address's still do)."""
    await conn.execute("DELETE FROM login_failures WHERE account = $1", account)
