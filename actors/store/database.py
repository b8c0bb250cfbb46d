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

A request may lend its `Database` one connection (`lending`): while it is lent, `connection()`
called from the request's own task hands out that connection, inside the request's transaction
(a nested `conn.transaction()` is a savepoint), instead of one from the pool. The gateway's
audit trail does so, so that a change and its audit entry commit together. Other tasks, even
those started from the request (a key cache's shared load, a background loop started by the
first request), take pooled connections as before: the lent one serves one task, one statement
at a time. What must wait for the change to be committed (forgetting a cached key, nudging a
channel) is handed to `after_commit`; what must stand even when the request is refused is done
`apart` from the lent connection, or kept with `keep_on_refusal`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

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


@dataclass(eq=False)
class Lent:
    """A connection lent to `database` for the work of the task `owner`, in a transaction its
    lender commits, and what to run once it has (`Database.after_commit`)."""

    database: Database
    conn: asyncpg.Connection
    owner: asyncio.Task[Any] | None
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    keep_on_refusal: bool = False  # commit even when the request is refused: `Database.keep_on_refusal`


_LENT: ContextVar[Lent | None] = ContextVar("tocsin_lent_connection", default=None)


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

    def connection(
        self, timeout: float | None = None, *, apart: bool = False
    ) -> AbstractAsyncContextManager[asyncpg.Connection]:
        """A pooled connection for the block, waiting at most `timeout` seconds for one (None:
        as long as it takes); the lent connection instead, in the task it is lent to, unless
        `apart`: for work that must commit whatever the request comes to (an attempt at a
        password counted before the password is checked)."""
        lent = None if apart else self._lent()
        if lent is not None:
            return _as_is(lent.conn)
        return self._closed_on_failure(timeout) if self._close_failed else self._handed_back(timeout)

    @contextlib.contextmanager
    def lending(self, conn: asyncpg.Connection) -> Iterator[Lent]:
        """Within the block, `connection()` in the calling task hands out `conn` (see the
        module's docstring); the caller owns `conn`'s transaction and the `after_commit` list."""
        lent = Lent(self, conn, asyncio.current_task())
        token = _LENT.set(lent)
        try:
            yield lent
        finally:
            _LENT.reset(token)

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once what was done through `connection()` is committed: now, when
        each block committed its own work, or after the lender's commit while a connection is
        lent (not at all when the lender rolls back). For what tells others of a change: a
        cache reloading before the commit would keep what was."""
        lent = self._lent()
        if lent is None:
            callback()
        else:
            lent.after_commit.append(callback)

    def keep_on_refusal(self) -> None:
        """Have the lender commit what was done through `connection()` even when the request
        is answered with a refusal (a wrong code counted before the answer says so); nothing
        to do when each block committed its own work."""
        lent = self._lent()
        if lent is not None:
            lent.keep_on_refusal = True

    def _lent(self) -> Lent | None:
        lent = _LENT.get()
        if lent is None or lent.database is not self or lent.owner is not asyncio.current_task():
            return None
        return lent

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


@contextlib.asynccontextmanager
async def _as_is(conn: asyncpg.Connection) -> AsyncIterator[asyncpg.Connection]:
    yield conn  # lent: its lender hands it back


async def _hand_back(pool: asyncpg.Pool, conn: asyncpg.Connection) -> None:
    try:
        await pool.release(conn)
    except UNAVAILABLE as exc:  # the pool has closed it; the work is done
        log.debug("a connection that failed its reset was closed: %r", exc)
