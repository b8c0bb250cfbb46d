"""The live event bus: what the shards committed, in order, for dashboards to follow.

Two backends behind one small interface: Redis Streams when `TOCSIN_REDIS_URL` is set, an
in-cluster bus (one named Ray actor holding the newest events) otherwise. Both give ids
like Redis's, "<milliseconds>-<sequence>", increasing, so a reader resumes after the last
id it saw. A reader whose id the bus no longer holds (overflowed, or from before a restart
of the in-cluster bus) is answered `reset`, never given a silent gap: it reloads, then
follows from the cursor it was given.

The bus is a live feed, not a record: the incident log in Postgres is the record. What it
carries, and the interface both backends give, are in bus_types.py; this module holds where a
process finds the bus (`BusAddress`, `open_bus`) and the in-cluster bus actor.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import ray

from tocsin.actors.bus_types import BusEvent, BusRead, EventBus, EventId, format_id, parse_id
from tocsin.actors.lifecycle import detached_options
from tocsin.actors.settings import Settings
from tocsin.actors.waiting import wait_set

BUS_ACTOR_NAME = "tocsin-bus"
DEFAULT_CAPACITY = 10_000


@dataclass(frozen=True, slots=True)
class BusAddress:
    """Where a process finds the bus; picklable, so actors get it in their constructor."""

    namespace: str
    redis_url: str | None = None
    capacity: int = DEFAULT_CAPACITY

    @classmethod
    def for_settings(cls, settings: Settings) -> BusAddress:
        url = settings.redis_url.get_secret_value() if settings.redis_url else None
        return cls(settings.namespace, url, settings.bus_capacity)

    @property
    def stream_key(self) -> str:
        return f"{self.namespace}:events"


def open_bus(address: BusAddress) -> EventBus:
    """The bus at `address`; connects on first use, so it may be made before a loop runs."""
    if address.redis_url:
        from tocsin.actors.redis_bus import RedisStreamBus  # redis is needed only with a Redis

        return RedisStreamBus(address.redis_url, address.stream_key, address.capacity)
    return ClusterBus(address.namespace)


# -- the in-cluster bus ---------------------------------------------------------------


class EventRing:
    """The newest `capacity` events, with ids that keep increasing: a time in milliseconds
    (never behind the previous id's) and a sequence within it. A new ring starts at the
    time it is made and counts everything before as gone, so after a restart readers of
    the previous incarnation are told to reset and its ids are never given again."""

    def __init__(self, capacity: int, now_ms: int) -> None:
        if capacity < 1:
            raise ValueError("a ring holds at least one event")
        self._capacity = capacity
        self._held: deque[tuple[EventId, BusEvent]] = deque()
        start = (now_ms, 0)
        self._last: EventId = start  # the newest id given (or the start)
        self._gone: EventId = start  # every id up to this one is no longer held

    def __len__(self) -> int:
        return len(self._held)

    def tail(self) -> str:
        return format_id(self._last)

    def append(self, events: Sequence[BusEvent], now_ms: int) -> list[str]:
        ids = []
        for event in events:
            ms, seq = self._last
            self._last = (ms, seq + 1) if now_ms <= ms else (now_ms, 0)
            stored = replace(event, id=format_id(self._last))
            self._held.append((self._last, stored))
            ids.append(stored.id)
            if len(self._held) > self._capacity:
                self._gone = self._held.popleft()[0]
        return ids

    def read(self, after_id: str, limit: int) -> BusRead:
        after = parse_id(after_id)
        if after is None or after < self._gone or after > self._last:
            return BusRead([], self.tail(), reset=True)
        newer: list[BusEvent] = []
        for event_id, event in reversed(self._held):  # readers are mostly near the end
            if event_id <= after:
                break
            newer.append(event)
        newer.reverse()
        found = newer[:limit]
        return BusRead(found, found[-1].id if found else after_id)


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class EventBusActor:
    """The in-cluster event bus: a ring of the newest events and long-polling reads.

    Durability: none, on purpose; it is a live feed and Postgres holds the record. After a
    restart it holds nothing, and its ids go on increasing (they are times), so a reader
    whose id is from before the restart is answered `reset` and reloads.
    Checkpoints: none. Idempotency: a publish that Ray retries across a restart lands once
    in the new incarnation (the old one's events went with it); reads change nothing.
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY, now_ms: Callable[[], int] = wall_ms) -> None:
        self._now_ms = now_ms  # ids are times: they say when, and keep increasing across restarts
        self._ring = EventRing(capacity, now_ms())
        self._published = asyncio.Event()  # replaced on each publish; waiters hold the old one
        self._stats = {"published": 0, "reads": 0, "resets": 0}

    async def publish(self, events: list[BusEvent]) -> list[str]:
        ids = self._ring.append(events, self._now_ms())
        self._stats["published"] += len(ids)
        woken, self._published = self._published, asyncio.Event()
        woken.set()
        return ids

    async def read(self, after_id: str, block_s: float, limit: int = 100) -> BusRead:
        self._stats["reads"] += 1
        deadline = time.monotonic() + block_s
        while True:
            found = self._ring.read(after_id, limit)
            remaining = deadline - time.monotonic()
            if found.events or found.reset or remaining <= 0:
                self._stats["resets"] += found.reset
                return found
            await wait_set(self._published, remaining)  # then answers with what there is

    async def tail(self) -> str:
        return self._ring.tail()

    async def stats(self) -> dict[str, Any]:
        return {"held": len(self._ring), "tail": self._ring.tail(), **self._stats}

    async def close(self) -> None:
        """Nothing to release; there so that the class is itself a bus, in one process."""


EventBusActorRemote: Any = ray.remote(EventBusActor)


def bus_actor_options(namespace: str) -> dict[str, Any]:
    # Each dashboard keeps one read waiting on it.
    return detached_options(BUS_ACTOR_NAME, namespace, max_concurrency=10_000)


class ClusterBus:
    """The in-cluster bus seen from a shard or a gateway replica: calls to the bus actor,
    found by name once (its handle outlives the actor's restarts)."""

    def __init__(self, namespace: str) -> None:
        self._namespace = namespace
        self._handle: Any = None

    async def publish(self, events: Sequence[BusEvent]) -> list[str]:
        ids: list[str] = await (await self._actor()).publish.remote(list(events))
        return ids

    async def read(self, after_id: str, block_s: float, limit: int = 100) -> BusRead:
        ref = (await self._actor()).read.remote(after_id, block_s, limit)
        try:
            found: BusRead = await ref
        except asyncio.CancelledError:
            ray.cancel(ref)  # the reader went away: free the actor from waiting for it
            raise
        return found

    async def tail(self) -> str:
        tail: str = await (await self._actor()).tail.remote()
        return tail

    async def close(self) -> None:
        self._handle = None

    async def _actor(self) -> Any:
        # Looked up in a thread: Ray's lookup blocks its caller, half a second at a shard's
        # first publish here, and the caller's event loop must not stand still meanwhile.
        if self._handle is None:
            self._handle = await asyncio.to_thread(ray.get_actor, BUS_ACTOR_NAME, namespace=self._namespace)
        return self._handle
