"""What every password check at the gateway goes through: the failed-login limits (per
account and per client address, over a sliding window kept in Postgres so that all
replicas count together) and the slow hashing, off the event loop.

Each attempt is counted as a failure before its password is checked (`reserve_attempt`);
a success then forgets the account's failures, this one with them. So parallel guesses
cannot check more passwords than the limits allow: each waits for the one before to be
counted, and past the limit is refused without hashing anything.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from datetime import datetime, timedelta

import asyncpg
from fastapi import HTTPException

from tocsin.actors.domain.accounts import passwords
from tocsin.actors.domain.accounts.lockout import Limit, wait
from tocsin.actors.settings import Settings
from tocsin.actors.store import login_failures

# Each argon2id hash holds 64 MiB while it runs: a burst of logins is queued here rather
# than taking a replica's memory all at once.
_HASHING = asyncio.Semaphore(2)


def _limits(settings: Settings) -> tuple[Limit, Limit]:
    window = timedelta(minutes=settings.login_window_minutes)
    return Limit(settings.login_failures_per_account, window), Limit(settings.login_failures_per_address, window)


async def reserve_attempt(
    conn: asyncpg.Connection, settings: Settings, account: str, address: str, clock: Callable[[], datetime]
) -> int:
    """Count this attempt as a failed one, in one transaction with the check of both limits
    (under the account's and the address's locks), and return its id for `release`; 429
    with Retry-After, and nothing counted, when either limit is reached. Called before the
    password is checked, so that once the limit is reached guessing costs nothing and
    learns nothing."""
    per_account, per_address = _limits(settings)
    async with login_failures.locked(conn, account, address):
        # The time once the locks are held, and no earlier than any attempt counted while
        # this one waited (by another replica, whose clock may be a little ahead): such an
        # attempt is not in the future, which `wait` would not count.
        read_at = clock()
        by_account, by_address = await login_failures.since(conn, account, address, read_at - per_account.per)
        now = max([read_at, *by_account, *by_address])
        waits = [(w, what) for w, what in ((wait(by_account, per_account, now), "for this account"),
                                           (wait(by_address, per_address, now), "from this address"))
                 if w is not None]
        if waits:
            longest, what = max(waits)
            seconds = max(math.ceil(longest.total_seconds()), 1)
            raise HTTPException(429, f"too many failed logins {what}: try again in {seconds} s",
                                headers={"Retry-After": str(seconds)})
        return await login_failures.record(conn, account, address, now, prune_before=now - per_account.per)


async def release(conn: asyncpg.Connection, reservation: int) -> None:
    """The attempt was right after all: it counts as no failure."""
    await login_failures.forget(conn, reservation)


async def password_matches(stored: str | None, password: str) -> bool:
    async with _HASHING:
        return await asyncio.to_thread(passwords.password_matches, stored, password)


async def hash_password(password: str) -> str:
    async with _HASHING:
        return await asyncio.to_thread(passwords.hash_password, password)
