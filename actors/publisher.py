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

What a reader sees: every change of an incident within MIN_INTERVAL_S of its commit, except
one that only added occurrences (tocsin.actors.domain.feed.OccurrenceHold). Those are held
back up to OCCURRENCE_HOLD_S, later ones of the incident replacing them, so in a storm an
incident's occurrences reach the feed at most once per OCCURRENCE_HOLD_S, as its newest
state with every entry since counted. Any other change of the incident (acknowledged,
resolved, escalated, a rule's suppression lifted...) goes out at once with the held entries
in front of its own. In a storm of a thousand incidents each gaining occurrences in every
commit, this turns thousands of events a second (their JSON, their pickling for Ray, most of
the publisher's cost to the shard) into a thousand. Held changes go out when due, on
`flush()` and on `close()`; a gap drops them, as the reload it asks for shows them.
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
from tocsin.actors.domain.feed import CommittedChange, OccurrenceHold, committed_changes
from tocsin.actors.waiting import wait_set

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT_S = 5.0
MAX_BACKOFF_S = 5.0
MIN_INTERVAL_S = 0.05
OCCURRENCE_HOLD_S = 1.0
CLOSE_TIMEOUT_S = 1.0  # closing publishes what is left once, briefly: a bus that is down loses it


class BusPublisher:
    """One shard's publisher: `offer` on the commit path, the publishing in its own task."""

    def __init__(self, bus: EventBus, max_waiting: int = 1000, max_per_publish: int = 200,
                 min_interval_s: float = MIN_INTERVAL_S, occurrence_hold_s: float = OCCURRENCE_HOLD_S) -> None:
        self._bus = bus
        self._max_waiting = max_waiting
        self._max_per_publish = max_per_publish
        self._min_interval_s = min_interval_s
        self._last_publish = -min_interval_s  # time.monotonic() of the last publish
        self._waiting: deque[list[Plan] | None] = deque()  # a commit's plans, or None: a gap here
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._held = OccurrenceHold(occurrence_hold_s)
        self._flushing = 0  # flush() calls waiting: held changes go out without waiting their time
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
        """Wait until nothing waits to be published, held changes included (for tests)."""
        async def idle() -> None:
            while self._waiting or self._wake.is_set() or self._held:
                await asyncio.sleep(0.01)

        self._flushing += 1
        if self._held:
            self._wake.set()  # the task that holds them publishes them now
        try:
            await asyncio.wait_for(idle(), timeout_s)
        finally:
            self._flushing -= 1

    async def close(self) -> None:
        """Stop publishing; what waits or is held goes out once more, within CLOSE_TIMEOUT_S."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        commits = list(self._waiting)
        self._waiting.clear()
        if commits or self._held:
            await self._publish(commits, release_held=True, timeout_s=CLOSE_TIMEOUT_S)
        await self._bus.close()

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            await self._work()
            await asyncio.sleep(max(0.0, self._last_publish + self._min_interval_s - time.monotonic()))
            self._last_publish = time.monotonic()
            commits = [self._waiting.popleft() for _ in range(min(len(self._waiting), self._max_per_publish))]
            if await self._publish(commits, release_held=self._flushing > 0):
                backoff = 0.1
            else:
                await asyncio.sleep(backoff)  # the bus is down or slow: let commits gather meanwhile
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    async def _work(self) -> None:
        """Until there is something to publish: a commit, or held changes due or flushed.
        `_wake` is cleared only here, with nothing to do: flush() reads it as busy."""
        while not self._waiting:
            due_at = self._held.due_at()
            if due_at is not None and (self._flushing or due_at <= time.monotonic()):
                return
            self._wake.clear()
            if due_at is None:
                await self._wake.wait()
            else:
                await wait_set(self._wake, due_at - time.monotonic())

    async def _publish(self, commits: list[list[Plan] | None], release_held: bool = False,
                       timeout_s: float = PUBLISH_TIMEOUT_S) -> bool:
        try:
            events = self._events(commits, release_held)
            if events:
                await asyncio.wait_for(self._bus.publish(events), timeout_s)
        except Exception as exc:  # noqa: BLE001 - a failed publish never fails a durable commit
            if not self.stats["failed_publishes"] % 100:
                log.warning("event bus publisher: publishing %d commits failed: %r", len(commits), exc)
            self.stats["failed_publishes"] += 1
            self._failed = True
            return False
        self.stats["published"] += len(events)
        self._failed = False
        return True

    def _events(self, commits: list[list[Plan] | None], release_held: bool) -> list[BusEvent]:
        """The commits' events in order, then the held changes that are due (or all of them)."""
        events: list[BusEvent] = []
        if self._failed:
            self._gap(events)
        now = time.monotonic()
        passed = self._held.passed
        for plans in commits:
            if plans is None:
                self._gap(events)
                continue
            for plan in plans:
                for change in committed_changes(plan):
                    ready = passed(change, now)
                    if ready is not None:
                        events.append(_event(ready))
        events += [_event(change) for change in (self._held.release() if release_held else self._held.due(now))]
        return events

    def _gap(self, events: list[BusEvent]) -> None:
        # Readers reload at a gap, after every held change was committed: the reload shows
        # them. Said after the gap they could show an incident older than the reload did, when
        # the commits lost held its newer state.
        self._held.clear()
        events.append(GAP)


# Stands where events were lost; readers reload what it hides from the database.
GAP = BusEvent("gap", "", '{"reason": "some changes could not be published"}')


def _event(change: CommittedChange) -> BusEvent:
    said = change.said()
    return BusEvent("incident", said.service_id, orjson.dumps(said.body(), option=orjson.OPT_UTC_Z).decode())
