"""What every password check at the gateway goes through: the failed-login limits (per
account and per client address, over a sliding window kept in Postgres so that all
replicas count together) and the slow hashing, off the event loop.
"""

from __future__ import annotations

import asyncio
import math
from datetime import datetime, timedelta

import asyncpg
from fastapi import HTTPException, Request

from actors.domain import passwords
from actors.domain.lockout import Limit, wait
from actors.store import login_failures
from cluster.settings import Settings
from serve.forwarded import client_address

# Each argon2id hash holds 64 MiB while it runs: a burst of logins is queued here rather
# than taking a replica's memory all at once.
_HASHING = asyncio.Semaphore(2)


def address_of(request: Request, settings: Settings) -> str:
    peer = request.client.host if request.client else None
    return client_address(peer, request.headers.get("X-Forwarded-For"), settings.trusted_proxy_hops)


def _limits(settings: Settings) -> tuple[Limit, Limit]:
    window = timedelta(minutes=settings.login_window_minutes)
    return Limit(settings.login_failures_per_account, window), Limit(settings.login_failures_per_address, window)


async def refuse_if_limited(
    conn: asyncpg.Connection, settings: Settings, account: str, address: str, now: datetime
) -> None:
    """429 with Retry-After when either limit is reached. Checked before the password, so
    that once the limit is reached guessing costs nothing and learns nothing."""
    per_account, per_address = _limits(settings)
    by_account, by_address = await login_failures.since(conn, account, address, now - per_account.per)
    waits = [(w, what) for w, what in ((wait(by_account, per_account, now), "for this account"),
                                       (wait(by_address, per_address, now), "from this address")) if w is not None]
    if waits:
        longest, what = max(waits)
        seconds = max(math.ceil(longest.total_seconds()), 1)
        raise HTTPException(429, f"too many failed logins {what}: try again in {seconds} s",
                            headers={"Retry-After": str(seconds)})


async def count_failure(
    conn: asyncpg.Connection, settings: Settings, account: str, address: str, now: datetime
) -> None:
    window = timedelta(minutes=settings.login_window_minutes)
    await login_failures.record(conn, account, address, now, prune_before=now - window)


async def password_matches(stored: str | None, password: str) -> bool:
    async with _HASHING:
        return await asyncio.to_thread(passwords.password_matches, stored, password)


async def hash_password(password: str) -> str:
    async with _HASHING:
        return await asyncio.to_thread(passwords.hash_password, password)
