"""A pooled connection for one piece of work, that survives the database going away.

When Postgres stops or restarts, it tells each session so (`terminating connection due to
administrator command`) and closes it. A session that hears this while idle in the pool, or
in the middle of a statement, is left by asyncpg consuming that error until the socket's
end reaches it; anything run on it meanwhile fails with "cannot switch to state N; another
operation (2) is in progress". The pool's own reset on release is such an operation: handed
back after a failure, the connection fails its reset, and that error replaces the real one.

So a connection whose work failed is closed here rather than handed back, and a reset that
fails after the work succeeded is the pool's business (it closes that connection), not a
failure of the work, which is done (committed, when it was a transaction).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import asyncpg

log = logging.getLogger(__name__)

# What the database being away, or a connection it dropped, raises; the last one is asyncpg's
# word for a connection still reading the error the server ended it with.
UNAVAILABLE = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError)


@contextlib.asynccontextmanager
async def connection(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    conn = await pool.acquire()
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
