"""A shard's way onto the event bus: committed plans in, one event per changed incident out,
behind the reply.

The shard hands over the plans of each commit and goes on; one task turns them into events
and publishes them, in commit order, several commits per call when they queue up. The bus
never holds a commit back: past `max_waiting` commits waiting, new ones are dropped, and a
publish that fails is given up. Either way the loss is counted, logged, and not silent: a
"gap" event takes the place of what was lost, in order, and tells readers to reload.

Publishes are paced to at most one per `min_interval_s`: under load, the commits of that
interval go out in one call. Each call costs the shard and the bus a Ray round trip, and
at a hundred commits a second those calls cost more than the events themselves; a reader
sees a change at most `min_interval_s` later, far below what a person notices.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
import orjson

from tocsin.actors.bus_types import BusEvent, EventBus
from tocsin.actors.domain.batch_plan import Plan
from tocsin.actors.domain.feed import IncidentChange, changes_of

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT_S = 5.0
MAX_BACKOFF_S = 5.0
MIN_INTERVAL_S = 0.05


class BusPublisher:
    """One shard's publisher: `offer` on the commit path, the publishing in its own task."""

    def __init__(self, bus: EventBus, max_waiting: int = 1000, max_per_publish: int = 200,
                 min_interval_s: float = MIN_INTERVAL_S) -> None:
        self._bus = bus
        self._max_waiting = max_waiting
        self._max_per_publish = max_per_publish
        self._min_interval_s = min_interval_s
        self._last_publish = -min_interval_s  # time.monotonic() of the last publish
        self._waiting: deque[list[Plan] | None] = deque()  # a commit's plans, or None: a gap here
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failed = False  # a publish failed: the next one starts with a gap
        self.stats = {"published": 0, "dropped_commits": 0, "failed_publishes": 0}

    def offer(self, plans: list[Plan]) -> None:
        """The plans of one durable commit. Cheap: the work happens in the background."""
        if not plans:
            return
        if len(self._waiting) >= self._max_waiting:
            if not self.stats["dropped_commits"] % 1000:
                log.warning("event bus publisher: %d commits waiting; dropping (readers will reload)",
                            len(self._waiting))
            self.stats["dropped_commits"] += 1
            if self._waiting[-1] is not None:
                self._waiting.append(None)  # one gap stands for every commit dropped in a row
            return
        self._waiting.append(plans)
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())

    async def flush(self, timeout_s: float = 5.0) -> None:
        """Wait until nothing waits to be published (for tests)."""
        async def idle() -> None:
            while self._waiting or self._wake.is_set():
                await asyncio.sleep(0.01)

        await asyncio.wait_for(idle(), timeout_s)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._bus.close()

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            await self._wake.wait()
            if not self._waiting:
                self._wake.clear()
                continue
            await asyncio.sleep(max(0.0, self._last_publish + self._min_interval_s - time.monotonic()))
            self._last_publish = time.monotonic()
            commits = [self._waiting.popleft() for _ in range(min(len(self._waiting), self._max_per_publish))]
            if await self._publish(commits):
                backoff = 0.1
            else:
                await asyncio.sleep(backoff)  # the bus is down or slow: let commits gather meanwhile
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    async def _publish(self, commits: list[list[Plan] | None]) -> bool:
        try:
            events = [GAP] if self._failed else []
            for plans in commits:
                if plans is None:
                    events.append(GAP)
                else:
                    events += [_event(change) for plan in plans for change in changes_of(plan)]
            if events:
                await asyncio.wait_for(self._bus.publish(events), PUBLISH_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - a failed publish never fails a durable commit
            if not self.stats["failed_publishes"] % 100:
                log.warning("event bus publisher: publishing %d commits failed: %r", len(commits), exc)
            self.stats["failed_publishes"] += 1
            self._failed = True
            return False
        self.stats["published"] += len(events)
        self._failed = False
        return True


# Stands where events were lost; readers reload what it hides from the database.
GAP = BusEvent("gap", "", '{"reason": "some changes could not be published"}')


def _event(change: IncidentChange) -> BusEvent:
    return BusEvent("incident", change.service_id, orjson.dumps(change.body(), option=orjson.OPT_UTC_Z).decode())
