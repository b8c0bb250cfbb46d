"""HeartbeatMonitor: opens an incident on a heartbeat's service when its deadline passes
with no ping.

Wakes every second, and sooner at the next deadline; each round claims the healthy
heartbeats whose `expires_at` has passed, hands a trigger for each to the shard that owns
its service, and marks it unhealthy once that shard has answered. The next ping resolves
the incident (serve/ingest/heartbeat.py).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

import ray

from tocsin.actors.domain import heartbeat
from tocsin.actors.domain.batch_plan import Reply
from tocsin.actors.domain.clock import Clock, SystemClock
from tocsin.actors.domain.events import ServiceInput
from tocsin.actors.lifecycle import detached_options
from tocsin.actors.rounds import RoundsMonitor
from tocsin.actors.settings import Settings
from tocsin.actors.shard_router import ShardRouter
from tocsin.actors.store import heartbeats as store
from tocsin.actors.store.batch import already_applied

log = logging.getLogger(__name__)

MONITOR_NAME = "tocsin-heartbeats"
POLL_S = 1.0
MIN_WAIT_S = 0.05  # never spin, even when a due row is locked by another monitor
CLAIM_LIMIT = 100


class Shards(Protocol):
    """The way to the shards: resolves once the input is durable, raises otherwise
    (tocsin.actors.shard_router.ShardRouter is one)."""

    async def submit(self, item: ServiceInput) -> Reply: ...


class HeartbeatMonitor(RoundsMonitor):
    """Raises the missed deadlines of heartbeats.

    Durability: a heartbeat is marked unhealthy only after the shard has made its trigger
    durable, in the transaction that claimed it; until then it stays healthy and due, and
    the next round, or the next monitor after a crash, claims it again.
    Checkpoints: none of its own. The deadline is the `expires_at` column, so a restarted
    monitor carries on from the rows, with whatever expired while it was down.
    Idempotency: the trigger's event id is fixed by the heartbeat and the deadline, and a
    round submits only the events not stored yet (those it just records), so an expiry
    opens one incident however often it is retried. The shard itself looks an id up only
    for inputs received before it started, which a monitor's retry need not be.
    """

    def __init__(
        self, settings: Settings, database_url: str, clock: Clock | None = None, shards: Shards | None = None,
        background: bool = True,
    ) -> None:
        """`background=False`: no loop of its own; deadlines are raised on `run_once` only."""
        self._clock = clock or SystemClock()
        self._shards = shards if shards is not None else ShardRouter.for_settings(settings)
        stats = {"rounds": 0, "missed": 0, "recognised": 0, "not_durable": 0}
        super().__init__(MONITOR_NAME, "heartbeats", database_url, stats, background, self._looped_round)

    async def run_once(self) -> int:
        """Raise what is due now; the number of heartbeats marked unhealthy."""
        marked, _ = await self._raise_due()
        return marked

    # -- the loop -----------------------------------------------------------------------------

    async def _looped_round(self) -> float:
        marked, complete = await self._raise_due()
        if not complete:
            return POLL_S
        return 0.0 if marked >= CLAIM_LIMIT else await self._until_next_due()

    async def _until_next_due(self) -> float:
        async with self._database.connection() as conn:
            due = await store.next_due(conn)
        if due is None:
            return POLL_S
        speed = self._clock.speed
        return min(POLL_S, max(MIN_WAIT_S, (due - self._clock.now()).total_seconds() / speed))

    async def _raise_due(self) -> tuple[int, bool]:
        """(heartbeats marked unhealthy, whether every due one was)."""
        now = self._clock.now()
        self._stats["rounds"] += 1
        async with self._database.connection() as conn, conn.transaction():
            due = await store.claim_due(conn, now, CLAIM_LIMIT)
            if not due:
                return 0, True
            events = [heartbeat.missed(beat, now) for beat in due]
            stored = await already_applied(conn, [e.event_id for e in events])
            fresh = [e for e in events if e.event_id not in stored]
            answers = await asyncio.gather(*(self._shards.submit(e) for e in fresh), return_exceptions=True)
            failed = {e.event_id for e, answer in zip(fresh, answers) if isinstance(answer, BaseException)}
            marked = [beat.id for beat, e in zip(due, events) if e.event_id not in failed]
            await store.mark_unhealthy(conn, marked)
        self._stats["missed"] += len(marked)
        self._stats["recognised"] += len(stored)
        self._stats["not_durable"] += len(failed)
        if failed:
            log.warning("heartbeats: %d missed deadlines not durable yet; retried next round", len(failed))
        return len(marked), not failed


HeartbeatMonitorRemote: Any = ray.remote(HeartbeatMonitor)


def monitor_options(namespace: str) -> dict[str, Any]:
    return detached_options(MONITOR_NAME, namespace, max_concurrency=16)
