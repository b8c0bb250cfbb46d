"""Routing-key lookups, cached briefly so a storm does not query Postgres per event."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from actors.store.services import IntegrationKey

_MAX_ENTRIES = 100_000


class KeyCache:
    def __init__(
        self,
        load: Callable[[str], Awaitable[IntegrationKey | None]],
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[str, tuple[float, IntegrationKey | None]] = {}
        self._loading: dict[str, asyncio.Future[IntegrationKey | None]] = {}

    async def get(self, key: str) -> IntegrationKey | None:
        now = self._clock()
        entry = self._entries.get(key)
        if entry is not None and now - entry[0] < self._ttl_s:
            return entry[1]
        # In a storm, every request in flight misses at once when an entry expires: one load
        # for them all.
        loading = self._loading.get(key)
        if loading is None:
            loading = self._loading[key] = asyncio.ensure_future(self._load(key))
            loading.add_done_callback(lambda _: self._loading.pop(key, None))
        found = await asyncio.shield(loading)
        if len(self._entries) >= _MAX_ENTRIES:
            self._entries.clear()  # unknown keys from a misbehaving source must not grow it forever
        self._entries[key] = (now, found)
        return found

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)
