"""Routing keys to integrations: what a source's key costs the gateway.

A known key in use costs a dictionary lookup: it is cached. A key that cannot be anybody's
(neither 32 characters of the key alphabet nor a kept Opsgenie key) costs nothing more: it is refused before any lookup.
An unknown key costs one Postgres lookup, then is remembered as unknown for a while; and
each client address may try only so many unknown keys (a token bucket per address): past
that, any key not found before is refused before any lookup, until its bucket refills.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tocsin.actors.domain.opsgenie_keys import OPSGENIE_KEY_LENGTH
from tocsin.actors.domain.ratelimit import BoundedRateLimiter, RateLimiter
from tocsin.actors.settings import Settings
from tocsin.actors.store.services import ROUTING_KEY_LENGTH, IntegrationKey, is_integration_key

T = TypeVar("T")
_V = TypeVar("_V")


class KeyCache:
    """Integrations by key, looked up with `load` and kept `ttl_s`; keys nobody has are kept
    as such as long. Two bounded LRU maps: found keys (`capacity`) and unknown keys
    (`unknown_capacity`). Past its bound, a map drops its least recently used entry, one at
    a time; unknown keys live apart, so that no number of them pushes out a key in use."""

    def __init__(
        self,
        load: Callable[[str], Awaitable[IntegrationKey | None]],
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
        capacity: int = 100_000,
        unknown_capacity: int = 10_000,
    ) -> None:
        self._load = load
        self._ttl_s = ttl_s
        self._clock = clock
        self._known: _Lru[tuple[float, IntegrationKey]] = _Lru(capacity)  # key -> (cached at, integration)
        self._unknown: _Lru[float] = _Lru(unknown_capacity)  # key -> cached at
        self._loading: dict[str, asyncio.Future[IntegrationKey | None]] = {}

    def known(self, key: str) -> IntegrationKey | None:
        """The integration of a key found within the TTL; None when it must be looked up, is
        unknown, or is not even of a key's length (a long one is not hashed). No waiting: the
        path every alert of a source in use takes, so callers try it before `KeyGate.find`."""
        entry = self._known.get(key) if len(key) in (ROUTING_KEY_LENGTH, OPSGENIE_KEY_LENGTH) else None
        if entry is not None and self._clock() - entry[0] < self._ttl_s:
            self._known.move_to_end(key)
            return entry[1]
        return None

    async def get(self, key: str) -> IntegrationKey | None:
        """The key's integration, or None when nobody has it; looked up unless cached."""
        found = self.known(key)
        if found is not None:
            return found
        now = self._clock()
        unknown_at = self._unknown.get(key)
        if unknown_at is not None and now - unknown_at < self._ttl_s:
            self._unknown.move_to_end(key)
            return None
        # In a storm, every request in flight misses at once when an entry expires: one load
        # for them all.
        loading = self._loading.get(key)
        if loading is None:
            loading = self._loading[key] = asyncio.ensure_future(self._load(key))
            loading.add_done_callback(lambda _: self._loading.pop(key, None))
        found = await asyncio.shield(loading)
        if found is None:
            self._known.pop(key, None)
            self._unknown.put(key, now)
        else:
            self._unknown.pop(key, None)
            self._known.put(key, (now, found))
        return found

    def forget(self, key: str) -> None:
        self._known.pop(key, None)
        self._unknown.pop(key, None)

    def __len__(self) -> int:
        return len(self._known) + len(self._unknown)


class _Lru(OrderedDict[str, _V]):
    """Values by key, least recently used first, at most `capacity` of them."""

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity

    def put(self, key: str, value: _V) -> None:
        self[key] = value
        self.move_to_end(key)
        if len(self) > self.capacity:
            self.popitem(last=False)


class MalformedKey(Exception):
    """Not a key anybody could have; refused without a lookup."""


class TooManyUnknownKeys(Exception):
    """This client address has tried too many unknown keys; refused without a lookup."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"too many unknown keys; retry after {retry_after_s:.1f} s")
        self.retry_after_s = max(1, math.ceil(retry_after_s))


class KeyGate:
    """The way a source's key is found: the cache, the format, then the client address's
    budget of unknown keys (`unknown`, a bucket per address), then the lookup. Keys found
    before are remembered (the `found_capacity` most recent): looking one up again is not
    trying an unknown key, whatever the address's budget."""

    def __init__(self, cache: KeyCache, unknown: RateLimiter, found_capacity: int = 100_000) -> None:
        self.cache = cache
        self.unknown = unknown
        self._found: _Lru[None] = _Lru(found_capacity)

    @classmethod
    def for_settings(cls, cache: KeyCache, settings: Settings) -> KeyGate:
        # Addresses are anyone's to make up: the buckets of so many at most are kept.
        return cls(cache, BoundedRateLimiter(settings.unknown_keys_per_s, settings.unknown_keys_burst, 100_000))

    async def find(self, key: str, address: Callable[[], Awaitable[str]]) -> IntegrationKey | None:
        """The key's integration, None when nobody has it. Raises MalformedKey, or
        TooManyUnknownKeys while the client (`address`, asked only past the cache) is over
        its budget."""
        found = self.cache.known(key)
        if found is not None:
            return found
        # The format only now: a cached key is a real one, and checking costs more than the
        # cache's lookup, on the path every alert takes.
        if not is_integration_key(key):
            raise MalformedKey()
        return await self.within_budget(key, address, lambda: self.cache.get(key))

    async def within_budget(
        self, key: str, address: Callable[[], Awaitable[str]], lookup: Callable[[], Awaitable[T | None]]
    ) -> T | None:
        """`lookup`'s answer for `key`. Unless the key was found before, raises
        TooManyUnknownKeys without looking up while the client's address is over its
        budget, and a None answer (an unknown key) is charged to it."""
        if key in self._found:
            found = await lookup()
        else:
            client = await address()
            wait = self.unknown.wait(client)
            if wait is not None:
                raise TooManyUnknownKeys(wait)
            found = await lookup()
            if found is None:
                self.unknown.take(client)
        if found is None:
            self._found.pop(key, None)
        else:
            self._found.put(key, None)
        return found
