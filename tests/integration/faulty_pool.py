"""An asyncpg pool that a test makes fail the way Postgres does, around a real one: each
lease calls `entering()` before it hands out a connection and `leaving(error)` once the
connection is back, `error` being what the block raised (None when nothing)."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

import asyncpg
import pytest

Pool = TypeVar("Pool", bound="FaultyPool")


class FaultyPool:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    def entering(self) -> None:
        """Raise here to fail the connection before it is handed out."""

    def leaving(self, error: BaseException | None) -> None:
        """Raise here to fail the connection as it goes back."""

    def acquire(self) -> _Lease:
        return _Lease(self)

    async def close(self) -> None:
        await self._pool.close()


class _Lease:
    def __init__(self, owner: FaultyPool) -> None:
        self._owner = owner
        self._inner: Any = None

    async def __aenter__(self) -> asyncpg.Connection:
        self._owner.entering()
        self._inner = self._owner._pool.acquire()
        return await self._inner.__aenter__()

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._inner.__aexit__(kind, error, tb)
        self._owner.leaving(error)


def faulty_pools(monkeypatch: pytest.MonkeyPatch, kind: Callable[[asyncpg.Pool], Pool]) -> list[Pool]:
    """Every pool made from now on (in this process) wrapped in `kind`; the list of them."""
    pools: list[Pool] = []
    create_pool = asyncpg.create_pool

    async def wrapped(*args: Any, **kwargs: Any) -> Pool:
        pools.append(kind(await create_pool(*args, **kwargs)))
        return pools[-1]

    monkeypatch.setattr(asyncpg, "create_pool", wrapped)
    return pools
