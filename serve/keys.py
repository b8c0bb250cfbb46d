"""Routing-key lookups, cached briefly so a storm does not query Postgres per event."""

from __future__ import annotations

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

    async def get(self, key: str) -> IntegrationKey | None:
        now = self._clock()
        entry = self._entries.get(key)
        if entry is not None and now - entry[0] < self._ttl_s:
            return entry[1]
        found = await self._load(key)
        if len(self._entries) >= _MAX_ENTRIES:
            self._entries.clear()  # unknown keys from a misbehaving source must not grow it forever
        self._entries[key] = (now, found)
        return found

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)
