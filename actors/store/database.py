"""The database as one process reaches it: a pool made on first use, a connection for one
piece of work, and which errors mean what.

Every user of Postgres holds one `Database` (the shard, the channel actors, the heartbeat
monitor, the e-mail listener, a gateway replica), each with its own pool sizes. It connects
on the first `connection()`, not before, and after a failed attempt tries again on the next.

Errors, in two named sets, the narrower checked first:
- `DATA_ERRORS`: the database refused a value of the request (a 400 at the gateway); the
  database itself is fine.
- `UNAVAILABLE`: the database is down or dropped the connection (a 503 with Retry-After,
  a retry later elsewhere). It holds `DATA_ERRORS` too, being wider.

When Postgres stops or restarts, it tells each session so (`terminating connection due to
administrator command`) and closes it. A session that hears this while idle in the pool, or
in the middle of a statement, is left by asyncpg consuming that error until the socket's
end reaches it; anything run on it meanwhile fails with "cannot switch to state N; another
operation (2) is in progress". The pool's own reset on release is such an operation: handed
back after a failure, the connection fails its reset, and that error replaces the real one.
A `Database` made with `close_failed` therefore closes a connection whose work failed rather
than handing it back, and a reset that fails after the work succeeded is the pool's business
(it closes that connection), not a failure of the work, which is done (committed, when it was
a transaction). Without it, a connection goes back to the pool whatever happened, and a
hand-back that fails is the work's failure (asyncpg's own way).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager

import asyncpg
from asyncpg.exceptions._base import DataError as ArgumentError

log = logging.getLogger(__name__)

# A value the database cannot take: Postgres's data exceptions (SQLSTATE class 22, such as
# NUL in text or a number out of range) and asyncpg's refusal to send an argument (an int
# past int64). The request carried the value, so it is the request's fault, not an outage.
DATA_ERRORS: tuple[type[Exception], ...] = (asyncpg.DataError, ArgumentError)

# What the database being away, or a connection it dropped, raises: InternalClientError is
# asyncpg's word for a connection still reading the error the server ended it with, and
# asyncio.TimeoutError a statement past `command_timeout` (an OSError from Python 3.11 on).
UNAVAILABLE: tuple[type[Exception], ...] = (
    OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError,
)


class Database:
    """One process's way to Postgres: a pool of `min_size` to `max_size` connections to `url`,
    made on first use; `command_timeout` (seconds) bounds each statement, None leaves it
    unbounded; `close_failed`: see the module's docstring."""

    def __init__(
        self, url: str, *, max_size: int, min_size: int = 1, command_timeout: float | None = None,
        close_failed: bool = False,
    ) -> None:
        self._url = url
        self._options = {"min_size": min_size, "max_size": max_size, "command_timeout": command_timeout}
        self._close_failed = close_failed
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()

    async def pool(self) -> asyncpg.Pool:
        """The pool, made now if it is not yet; raises one of UNAVAILABLE when it cannot be."""
        if self._pool is None:
            async with self._lock:
                if self._pool is None:
                    self._pool = await asyncpg.create_pool(self._url, **self._options)
        return self._pool

    def connection(self, timeout: float | None = None) -> AbstractAsyncContextManager[asyncpg.Connection]:
        """A pooled connection for the block, waiting at most `timeout` seconds for one (None:
        as long as it takes)."""
        return self._closed_on_failure(timeout) if self._close_failed else self._handed_back(timeout)

    async def close(self) -> None:
        """Close the pool, when one was made."""
        if self._pool is not None:
            await self._pool.close()

    @contextlib.asynccontextmanager
    async def _handed_back(self, timeout: float | None) -> AsyncIterator[asyncpg.Connection]:
        pool = await self.pool()
        async with pool.acquire() if timeout is None else pool.acquire(timeout=timeout) as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def _closed_on_failure(self, timeout: float | None) -> AsyncIterator[asyncpg.Connection]:
        pool = await self.pool()
        conn = await pool.acquire(timeout=timeout)
        try:
            yield conn
        except BaseException:
            with contextlib.suppress(asyncpg.InterfaceError):  # already closed and back in the pool
                conn.terminate()
            raise
        finally:
            await _hand_back(pool, conn)


async def _hand_back(pool: asyncpg.Pool, conn: asyncpg.Connection) -> None:
    try:
        await pool.release(conn)
    except UNAVAILABLE as exc:  # the pool has closed it; the work is done
        log.debug("a connection that failed its reset was closed: %r", exc)
